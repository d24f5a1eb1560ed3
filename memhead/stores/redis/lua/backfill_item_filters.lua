-- KEYS: per item its record, keyword entry and vector; ARGV: the order set base
-- (keyspace.item_order_base), then per item its revision and filter tokens
-- (item_filters.value_tokens of the value at that revision)
-- Gives the items stored before filter tokens existed their tokens, on each indexed hash,
-- and their member in the order set of each namespace prefix.
-- An item put (or deleted) since its value was read is left alone: the put wrote its own.
-- Returns how many items got tokens.
local done = 0
for i = 1, #KEYS / 3 do
  local record, entry, vector = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local revision, tokens = ARGV[2 * i], ARGV[2 * i + 1]
  local r = redis.call('HMGET', record, 'revision', 'filter_tag', 'order', 'scope_tag')
  if r[1] == revision and not r[2] then
    redis.call('HSET', record, 'filter_tag', tokens)
    for tag in string.gmatch(r[4], '[^,]+') do redis.call('ZADD', ARGV[1] .. tag, 0, r[3]) end
    if redis.call('EXISTS', entry) == 1 then redis.call('HSET', entry, 'filter_tag', tokens) end
    if redis.call('HGET', vector, 'revision') == revision then
      redis.call('HSET', vector, 'filter_tag', tokens)
    end
    done = done + 1
  end
end
return done
