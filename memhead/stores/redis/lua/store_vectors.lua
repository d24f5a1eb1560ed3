-- KEYS: session, embedding backlog; ARGV: incarnation, message prefix, vector prefix,
--       then per vector: seq, vector bytes, embed member
-- Stores each vector, with its message's filter fields, in a hash of its own (so the message
-- hash is written again only when its session's user changes), unless the session was
-- deleted or recreated (another incarnation), the message is gone or another worker stored
-- its vector first. One call per session of a batch: a bulk fill sends few scripts, each
-- running no longer than its batch. Returns how many it stored.
if redis.call('HGET', KEYS[1], 'incarnation') ~= ARGV[1] then return 0 end
local f = {'session', 'seq', 'tenant_tag', 'session_tag', 'role_tag', 'created_at', 'user_tag'}
local stored = 0
for i = 4, #ARGV, 3 do
  local vkey = ARGV[3] .. ARGV[i]
  local m = redis.call('HMGET', ARGV[2] .. ARGV[i], unpack(f))
  if m[1] and redis.call('EXISTS', vkey) == 0 then
    local v = {'vector', ARGV[i + 1]}
    for j = 1, #f do
      if m[j] then v[#v + 1], v[#v + 2] = f[j], m[j] end  -- no user_tag before its backfill
    end
    redis.call('HSET', vkey, unpack(v))
    redis.call('ZREM', KEYS[2], ARGV[i + 2])
    stored = stored + 1
  end
end
return stored
