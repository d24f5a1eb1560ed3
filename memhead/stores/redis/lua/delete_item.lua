-- KEYS: item record, keyword entry, vector; ARGV: now, only expired ('1'/'0'), order set
-- base (keyspace.item_order_base)
-- Deletes the item with its keyword entry and vector (unlinking them takes them out of the
-- indexes), and its member of the order sets. Returns 1 when it was live at now, or, for the
-- sweep (only expired), when it was expired and is deleted now; the sweep leaves a live item
-- (refreshed meanwhile) alone.
local r = redis.call('HMGET', KEYS[1], 'live_until', 'order', 'scope_tag')
local expiry = r[1]
if not expiry then return 0 end
local live = tonumber(expiry) > tonumber(ARGV[1])
if ARGV[2] == '1' and live then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
if r[2] and r[3] then
  for tag in string.gmatch(r[3], '[^,]+') do redis.call('ZREM', ARGV[3] .. tag, r[2]) end
end
if ARGV[2] == '1' or live then return 1 end
return 0
