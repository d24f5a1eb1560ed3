#!lua flags=no-writes
-- KEYS: due; ARGV: now, limit, session key head, session key tail
-- Returns due members whose session exists and whose lease is free or expired, oldest first.
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local out, offset = {}, 0
while #out < limit do
  local batch = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', offset, limit)
  if #batch == 0 then break end
  for _, m in ipairs(batch) do
    local s = redis.call('HMGET', ARGV[3] .. m .. ARGV[4], 'incarnation', 'lease_until')
    if s[1] and (not s[2] or tonumber(s[2]) <= now) then
      out[#out + 1] = m
      if #out == limit then break end
    end
  end
  offset = offset + #batch
end
return out
