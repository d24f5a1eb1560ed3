-- KEYS: item record, vector; ARGV: revision, vector bytes
-- Stores the vector of that revision of the item, with its scope and filter tokens, unless the item was
-- deleted or replaced since (another revision) or another worker stored one first; the item
-- then leaves the backlog (pending 'n'). Returns 1 when stored.
local r = redis.call('HMGET', KEYS[1], 'revision', 'scope_tag', 'filter_tag')
if r[1] ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[2], 'vector', ARGV[2], 'scope_tag', r[2], 'revision', ARGV[1],
  'filter_tag', r[3] or '')
redis.call('HSET', KEYS[1], 'pending', 'n')
return 1
