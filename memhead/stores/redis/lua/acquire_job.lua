-- KEYS: job; ARGV: owner, now, lease until
local h = redis.call('HMGET', KEYS[1], 'owner', 'until')
if h[1] and h[1] ~= ARGV[1] and tonumber(h[2]) > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'until', ARGV[3])
return 1
