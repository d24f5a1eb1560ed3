-- KEYS: item record, keyword entry, vector
-- ARGV: now, tenant, ns code, key, value, ttl_ms ('' = none), live_until, revision,
--       has text ('1'/'0'), text, folded text, scope tags, order, created_at ('': kept),
--       filter tokens, order set base (keyspace.item_order_base)
-- Creates or replaces the item (item_records.py has the fields) and moves its member in the
-- order set of each of its namespace prefixes; returns its created_at,
-- kept from a live item it replaces. The vector always goes (a new revision needs its own);
-- the keyword entry is rewritten only when its text or filter tokens changed, since every
-- rewrite skews the engine's BM25 statistics until its garbage collector runs.
local now = tonumber(ARGV[1])
local old = redis.call('HMGET', KEYS[1], 'created_at', 'live_until', 'order', 'scope_tag')
local created = ARGV[1]
if old[1] and tonumber(old[2]) > now then created = old[1] end
if ARGV[14] ~= '' then created = ARGV[14] end  -- an import keeps the item's own
redis.call('DEL', KEYS[1], KEYS[3])
if old[3] and old[4] then
  for tag in string.gmatch(old[4], '[^,]+') do redis.call('ZREM', ARGV[16] .. tag, old[3]) end
end
for tag in string.gmatch(ARGV[12], '[^,]+') do redis.call('ZADD', ARGV[16] .. tag, 0, ARGV[13]) end
local has_text = ARGV[9] == '1'
local f = {'tenant', ARGV[2], 'ns', ARGV[3], 'key', ARGV[4], 'value', ARGV[5],
  'created_at', created, 'updated_at', ARGV[1], 'live_until', ARGV[7], 'revision', ARGV[8],
  'pending', has_text and 'y' or 'n', 'scope_tag', ARGV[12], 'order', ARGV[13],
  'filter_tag', ARGV[15]}
if ARGV[6] ~= '' then f[#f + 1], f[#f + 2] = 'ttl_ms', ARGV[6] end
if has_text then f[#f + 1], f[#f + 2] = 'indexed', '1' end
redis.call('HSET', KEYS[1], unpack(f))
if not has_text then
  redis.call('DEL', KEYS[2])
else
  local entry = redis.call('HMGET', KEYS[2], 'raw', 'filter_tag')
  if entry[1] ~= ARGV[10] then
    redis.call('DEL', KEYS[2])
    redis.call('HSET', KEYS[2], 'text', ARGV[11], 'raw', ARGV[10], 'scope_tag', ARGV[12],
      'filter_tag', ARGV[15])
  elseif entry[2] ~= ARGV[15] then
    redis.call('HSET', KEYS[2], 'filter_tag', ARGV[15])
  end
end
return created
