-- KEYS: session, recent listing, written, expires
-- ARGV: namespace base, user base, tenant, session id, fresh incarnation, due member,
--       namespace, user id, has user id, metadata (''), created_at, updated_at,
--       ttl in ms ('' = the default)
-- Sets the session's record as an export holds it; messages and summary stay. Returns 1 when
-- its user changed (then its messages' user tags must follow: retag.lua), else 0.
-- Uses keys.lua and listing.lua (scripts.py puts them before this file).
local skey = KEYS[1]
local L = {ns = ARGV[1], recent = KEYS[2], user = ARGV[2], id = ARGV[4], written = KEYS[3],
  expires = KEYS[4], due = ARGV[6]}
local s = redis.call('HMGET', skey, 'incarnation', 'namespace', 'updated_at', 'user_id')
if s[1] then
  unlist(L, s[2], s[3], s[4])
else
  create(skey, ARGV[3], ARGV[4], ARGV[5], ARGV[7], ARGV[12])
end
redis.call('HSET', skey, 'namespace', ARGV[7], 'created_at', ARGV[11], 'updated_at', ARGV[12])
local user, ttl = false, false
if ARGV[9] == '1' then
  user = ARGV[8]
  redis.call('HSET', skey, 'user_id', user)
else
  redis.call('HDEL', skey, 'user_id')
end
if ARGV[10] ~= '' then
  redis.call('HSET', skey, 'metadata', ARGV[10])
else
  redis.call('HDEL', skey, 'metadata')
end
if ARGV[13] ~= '' then
  ttl = ARGV[13]
  redis.call('HSET', skey, 'ttl_ms', ttl)
else
  redis.call('HDEL', skey, 'ttl_ms')
end
enlist(L, ARGV[7], ARGV[12], user, ttl)
return (s[4] or '') ~= (user or '') and 1 or 0
