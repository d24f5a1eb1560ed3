-- KEYS: session, recent listing, written, expires
-- ARGV: namespace base, user base, tenant, session id, fresh incarnation, now, user id,
--       has user id, metadata ('' = unchanged), due member,
--       ttl in ms ('' = unchanged, '-1' = back to the default)
-- Returns the session's HGETALL, and 1 when its user changed (then its messages' user tags
-- must follow: retag.lua), else 0.
-- Uses keys.lua and listing.lua (scripts.py puts them before this file).
local skey = KEYS[1]
local L = {ns = ARGV[1], recent = KEYS[2], user = ARGV[2], id = ARGV[4], written = KEYS[3],
  expires = KEYS[4], due = ARGV[10]}
local now = ARGV[6]
local s = redis.call('HMGET', skey, 'incarnation', 'namespace', 'updated_at', 'user_id')
local ns, user, changed = '', s[4], 0
if s[1] then
  unlist(L, s[2], s[3], s[4])
  ns = s[2]
else
  create(skey, ARGV[3], ARGV[4], ARGV[5], ns, now)
end
if ARGV[8] == '1' then
  if user ~= ARGV[7] then changed = 1 end
  user = ARGV[7]
  redis.call('HSET', skey, 'user_id', user)
end
if ARGV[9] ~= '' then redis.call('HSET', skey, 'metadata', ARGV[9]) end
if ARGV[11] == '-1' then
  redis.call('HDEL', skey, 'ttl_ms')
elseif ARGV[11] ~= '' then
  redis.call('HSET', skey, 'ttl_ms', ARGV[11])
end
redis.call('HSET', skey, 'updated_at', now)
enlist(L, ns, now, user, redis.call('HGET', skey, 'ttl_ms'))
return {redis.call('HGETALL', skey), changed}
