-- KEYS: item record, keyword entry, vector; ARGV: now, only expired ('1'/'0')
-- Deletes the item with its keyword entry and vector (unlinking them takes them out of the
-- indexes). Returns 1 when it was live at now, or, for the sweep (only expired), when it was
-- expired and is deleted now; the sweep leaves a live item (refreshed meanwhile) alone.
local expiry = redis.call('HGET', KEYS[1], 'live_until')
if not expiry then return 0 end
local live = tonumber(expiry) > tonumber(ARGV[1])
if ARGV[2] == '1' and live then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
if ARGV[2] == '1' or live then return 1 end
return 0
