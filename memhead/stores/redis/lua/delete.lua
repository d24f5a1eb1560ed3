-- KEYS: session, client-id index, due, recent listing, embedding backlog, written, expires
-- ARGV: message prefix, namespace base, user base, due member, session id, vector prefix,
--       then for retention only: now, default TTL in ms ('' = none)
-- Unlinking the message and vector hashes also takes them out of the search indexes.
-- With a now, deletes only a session expired at that time (retention.py).
-- Uses keys.lua and listing.lua (scripts.py puts them before this file).
local s = redis.call('HMGET', KEYS[1], 'incarnation', 'namespace', 'updated_at', 'user_id',
  'last_seq', 'ttl_ms')
if not s[1] then return 0 end
if ARGV[7] then
  local ttl = tonumber(s[6] or ARGV[8])
  if not ttl or ttl <= 0 or tonumber(s[3]) + ttl > tonumber(ARGV[7]) then return 0 end
end
unlist({ns = ARGV[2], recent = KEYS[4], user = ARGV[3], id = ARGV[5], written = KEYS[6],
  expires = KEYS[7], due = ARGV[4]}, s[2], s[3], s[4])
local last = tonumber(s[5])
for first = 1, last, 500 do
  local batch, vectors, pending = {}, {}, {}
  for seq = first, math.min(last, first + 499) do
    batch[#batch + 1] = ARGV[1] .. seq
    vectors[#vectors + 1] = ARGV[6] .. seq
    pending[#pending + 1] = embed_member(ARGV[4], seq)
  end
  redis.call('UNLINK', unpack(batch))
  redis.call('UNLINK', unpack(vectors))
  redis.call('ZREM', KEYS[5], unpack(pending))
end
redis.call('UNLINK', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[4])
return 1
