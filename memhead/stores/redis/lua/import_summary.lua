-- KEYS: session, due
-- ARGV: summary, has summary, upto_seq, tokens, window, due member
-- Returns 1, or -1 (no session), -2 (upto_seq past last_seq); checked before any write.
local s = redis.call('HMGET', KEYS[1], 'incarnation', 'last_seq', 'updated_at')
if not s[1] then return -1 end
local upto, last = tonumber(ARGV[3]), tonumber(s[2])
if upto > last then return -2 end
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'summary', ARGV[1])
else
  redis.call('HDEL', KEYS[1], 'summary')
end
redis.call('HSET', KEYS[1], 'upto_seq', upto, 'tokens', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'summary_version', 1)
if last - upto > tonumber(ARGV[5]) then
  if not redis.call('ZSCORE', KEYS[2], ARGV[6]) then redis.call('ZADD', KEYS[2], s[3], ARGV[6]) end
else
  redis.call('ZREM', KEYS[2], ARGV[6])
end
return 1
