-- KEYS: session; ARGV: message prefix, vector prefix, tenant tag, first seq, count
-- Sets the user tag of the session's messages first .. first + count - 1 (and of their
-- vectors) to its user as stored now, skipping hashes that already carry it or are gone.
-- Each call is one bounded step of a walk (user_tags.py): every write re-indexes its hash
-- (and re-inserts a vector into the HNSW graph). Reading the user here makes walks that
-- race (the user changed twice) all end on the last user. Returns the next first seq, or 0
-- when the walk is done (or the session is gone).
-- Uses keys.lua (scripts.py puts it before this file).
local s = redis.call('HMGET', KEYS[1], 'last_seq', 'user_id')
if not s[1] then return 0 end
local tag = user_tag(ARGV[3], s[2])
local first, last = tonumber(ARGV[4]), tonumber(s[1])
local stop = math.min(last, first + tonumber(ARGV[5]) - 1)
for seq = first, stop do
  for _, prefix in ipairs({ARGV[1], ARGV[2]}) do
    local name = prefix .. seq
    local now = redis.call('HMGET', name, 'seq', 'user_tag')
    if now[1] and now[2] ~= tag then redis.call('HSET', name, 'user_tag', tag) end
  end
end
return stop < last and stop + 1 or 0
