-- KEYS: session; ARGV: owner, now, lease until
local s = redis.call('HMGET', KEYS[1], 'incarnation', 'lease_owner', 'lease_until')
if not s[1] then return 0 end
if s[3] and tonumber(s[3]) > tonumber(ARGV[2]) and s[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'lease_owner', ARGV[1], 'lease_until', ARGV[3])
return 1
