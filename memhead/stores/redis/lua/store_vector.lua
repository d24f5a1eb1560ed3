-- KEYS: session, message, vector, embedding backlog; ARGV: incarnation, vector bytes,
--       embed member
-- Stores the vector, with the message's filter fields, in a hash of its own (the message hash
-- is never written again, so the keyword index never re-indexes it), unless the session was
-- deleted or recreated (another incarnation) or another worker stored one first. Returns 1
-- when stored.
if redis.call('HGET', KEYS[1], 'incarnation') ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local f = {'session', 'seq', 'tenant_tag', 'session_tag', 'role_tag', 'created_at'}
local m = redis.call('HMGET', KEYS[2], unpack(f))
if not m[1] then return 0 end
local v = {'vector', ARGV[2]}
for i = 1, #f do v[#v + 1], v[#v + 2] = f[i], m[i] end
redis.call('HSET', KEYS[3], unpack(v))
redis.call('ZREM', KEYS[4], ARGV[3])
return 1
