-- KEYS: session, client-id index, due, embedding backlog
-- ARGV: message prefix, due member, tenant, session id, window, tenant tag, session tag,
--       then per message: seq, role, role tag, content, text (folded content), day (folded),
--       created_at, client id, has client id, metadata ('')
-- Stores messages at their own seqs (those past last_seq), as append.lua writes them.
-- Returns {stored count}, or {-1} (no session), {-2, seq} (a gap), {-3, seq} (its client
-- id is stored at another seq); checked before the first write.
local skey, cids, due, embed = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local s = redis.call('HMGET', skey, 'incarnation', 'last_seq', 'upto_seq', 'updated_at',
  'user_id')
if not s[1] then return {-1} end
local last = tonumber(s[2])
local expected = last + 1
for i = 8, #ARGV, 10 do
  local seq = tonumber(ARGV[i])
  if seq > last then
    if seq ~= expected then return {-2, seq} end
    if ARGV[i + 8] == '1' and redis.call('HEXISTS', cids, ARGV[i + 7]) == 1 then
      return {-3, seq}
    end
    expected = expected + 1
  end
end
local context = last > 0 and redis.call('HGET', ARGV[1] .. last, 'text') or ''
local utag = user_tag(ARGV[6], s[5])
local stored = 0
for i = 8, #ARGV, 10 do
  local seq = tonumber(ARGV[i])
  if seq > last then
    local f = {'tenant', ARGV[3], 'session', ARGV[4], 'seq', seq, 'role', ARGV[i + 1],
      'content', ARGV[i + 3], 'created_at', ARGV[i + 6], 'text', ARGV[i + 4],
      'context', context, 'day', ARGV[i + 5], 'tenant_tag', ARGV[6], 'session_tag', ARGV[7],
      'role_tag', ARGV[i + 2], 'user_tag', utag}
    context = ARGV[i + 4]
    if ARGV[i + 8] == '1' then
      f[#f + 1], f[#f + 2] = 'client_id', ARGV[i + 7]
      redis.call('HSET', cids, ARGV[i + 7], seq)
    end
    if ARGV[i + 9] ~= '' then f[#f + 1], f[#f + 2] = 'metadata', ARGV[i + 9] end
    redis.call('HSET', ARGV[1] .. seq, unpack(f))
    redis.call('ZADD', embed, ARGV[i + 6], embed_member(ARGV[2], seq))
    stored = stored + 1
  end
end
last = expected - 1
redis.call('HSET', skey, 'last_seq', last)
if last - tonumber(s[3]) > tonumber(ARGV[5]) and not redis.call('ZSCORE', due, ARGV[2]) then
  redis.call('ZADD', due, s[4], ARGV[2])
end
return {stored}
