-- KEYS: item record; ARGV: now, refresh ('1'/'0'), then the fields to return
-- The fields of the live item (nil when absent or expired); with refresh, an item with a TTL
-- first gets live_until = now + ttl_ms, and the reply shows it.
local now = tonumber(ARGV[1])
local s = redis.call('HMGET', KEYS[1], 'live_until', 'ttl_ms')
if not s[1] or tonumber(s[1]) <= now then return nil end
if ARGV[2] == '1' and s[2] then
  redis.call('HSET', KEYS[1], 'live_until', string.format('%.0f', now + tonumber(s[2])))
end
return redis.call('HMGET', KEYS[1], unpack(ARGV, 3))
