-- KEYS: item records; ARGV: now
-- Sets live_until = now + ttl_ms on each live item that has a TTL; leaves the others.
local now = tonumber(ARGV[1])
for i = 1, #KEYS do
  local s = redis.call('HMGET', KEYS[i], 'live_until', 'ttl_ms')
  if s[1] and s[2] and tonumber(s[1]) > now then
    redis.call('HSET', KEYS[i], 'live_until', string.format('%.0f', now + tonumber(s[2])))
  end
end
return 0
