-- KEYS: written, expires; ARGV: session keys
-- Puts sessions stored before retention existed into written/expires, as enlist would.
for _, skey in ipairs(ARGV) do
  local s = redis.call('HMGET', skey, 'updated_at', 'ttl_ms')
  local due = string.match(skey, '{(.*)}$')
  if s[1] and due then
    if not s[2] then
      redis.call('ZADD', KEYS[1], s[1], due)
    elseif tonumber(s[2]) > 0 then
      redis.call('ZADD', KEYS[2], tonumber(s[1]) + tonumber(s[2]), due)
    end
  end
end
return 0
