-- KEYS: item record, vector
-- Puts an item with text back in the embedding backlog (after a reset of the vectors)
-- unless it has a vector (stored since the reset began) or is gone. Returns 1 when queued.
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('HGET', KEYS[1], 'indexed') ~= '1' then return 0 end
redis.call('HSET', KEYS[1], 'pending', 'y')
return 1
