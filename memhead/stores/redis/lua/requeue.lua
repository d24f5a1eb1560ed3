-- KEYS: message, vector, embedding backlog; ARGV: embed member
-- Puts a message back in the embedding backlog (scored by its creation time) unless it has a
-- vector (one stored since the reset began, by a worker of the new model) or is gone.
-- Checked and added in one step: a message with a vector left in the backlog would never
-- leave it (store_vectors skips a message that has one). Returns 1 when added.
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local at = redis.call('HGET', KEYS[1], 'created_at')
if not at then return 0 end
redis.call('ZADD', KEYS[3], at, ARGV[1])
return 1
