-- KEYS: session, recent listing
-- ARGV: namespace base, user base, tenant, session id, fresh incarnation, now, user id,
--       has user id, metadata ('' = unchanged)
-- Returns the session's HGETALL.
-- Uses keys.lua and listing.lua (scripts.py puts them before this file).
local skey = KEYS[1]
local L = {ns = ARGV[1], recent = KEYS[2], user = ARGV[2], id = ARGV[4]}
local now = ARGV[6]
local s = redis.call('HMGET', skey, 'incarnation', 'namespace', 'updated_at', 'user_id')
local ns, user = '', s[4]
if s[1] then
  unlist(L, s[2], s[3], s[4])
  ns = s[2]
else
  create(skey, ARGV[3], ARGV[4], ARGV[5], ns, now)
end
if ARGV[8] == '1' then
  user = ARGV[7]
  redis.call('HSET', skey, 'user_id', user)
end
if ARGV[9] ~= '' then redis.call('HSET', skey, 'metadata', ARGV[9]) end
redis.call('HSET', skey, 'updated_at', now)
enlist(L, ns, now, user)
return redis.call('HGETALL', skey)
