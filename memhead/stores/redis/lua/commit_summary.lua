-- KEYS: session, due
-- ARGV: incarnation, expected version, summary, has summary, upto seq, tokens, now, window,
--       due member
local skey, due = KEYS[1], KEYS[2]
local s = redis.call('HMGET', skey, 'incarnation', 'summary_version', 'last_seq', 'upto_seq')
local upto = tonumber(ARGV[5])
if s[1] ~= ARGV[1] or tonumber(s[2]) ~= tonumber(ARGV[2])
    or upto > tonumber(s[3]) or upto < tonumber(s[4]) then
  return 0
end
if ARGV[4] == '1' then
  redis.call('HSET', skey, 'summary', ARGV[3])
else
  redis.call('HDEL', skey, 'summary')
end
redis.call('HSET', skey, 'upto_seq', ARGV[5], 'last_compacted_at', ARGV[7], 'attempts', 0)
redis.call('HINCRBY', skey, 'summary_version', 1)
redis.call('HINCRBY', skey, 'tokens', ARGV[6])
redis.call('HDEL', skey, 'last_error', 'next_attempt_at')
if tonumber(s[3]) - upto > tonumber(ARGV[8]) then
  redis.call('ZADD', due, ARGV[7], ARGV[9])
else
  redis.call('ZREM', due, ARGV[9])
end
return 1
