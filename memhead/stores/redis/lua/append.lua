-- KEYS: session, client-id index, due, recent listing, embedding backlog, written, expires
-- ARGV: message prefix, namespace base, user base, due member, tenant, session id,
--       fresh incarnation, now, window, namespace, has namespace, context, has context,
--       tenant tag, session tag,
--       then per message: role, role tag, content, text (folded content), day (folded),
--       created_at, client id, has client id, metadata ('')
-- Returns per message {seq} when stored now, or the stored message's FIELDS when its client
-- id was already known. A message's keyword row (search.py) is its text, the text of the
-- message stored before it in the session (context) and its day. Each message hash is written
-- by one HSET, so the search indexes index it once, at once. Its user tag is the session's
-- user as read here, so an append racing a change of the user lands with one or the other,
-- and the retag that follows the change (retag.lua) covers it either way.
-- Uses keys.lua and listing.lua (scripts.py puts them before this file).
local skey, cids, due, embed = KEYS[1], KEYS[2], KEYS[3], KEYS[5]
local L = {ns = ARGV[2], recent = KEYS[4], user = ARGV[3], id = ARGV[6], written = KEYS[6],
  expires = KEYS[7], due = ARGV[4]}
local now = ARGV[8]
local s = redis.call('HMGET', skey, 'incarnation', 'namespace', 'updated_at', 'user_id',
  'last_seq', 'upto_seq', 'ttl_ms')
if s[1] then
  unlist(L, s[2], s[3], s[4])
else
  local ns = ARGV[11] == '1' and ARGV[10] or ''
  create(skey, ARGV[5], ARGV[6], ARGV[7], ns, now)
  s = {ARGV[7], ns, now, false, '0', '0', false}
end
local utag = user_tag(ARGV[14], s[4])
local first = tonumber(s[5])
local last = first
local context = first > 0 and redis.call('HGET', ARGV[1] .. first, 'text') or ''
local out = {}
for i = 16, #ARGV, 9 do
  local cid, has_cid = ARGV[i + 6], ARGV[i + 7] == '1'
  local known = has_cid and redis.call('HGET', cids, cid)
  if known then
    out[#out + 1] = redis.call('HMGET', ARGV[1] .. known, unpack(FIELDS))
  else
    last = last + 1
    local f = {'tenant', ARGV[5], 'session', ARGV[6], 'seq', last, 'role', ARGV[i],
      'content', ARGV[i + 2], 'created_at', ARGV[i + 5], 'text', ARGV[i + 3],
      'context', context, 'day', ARGV[i + 4], 'tenant_tag', ARGV[14], 'session_tag', ARGV[15],
      'role_tag', ARGV[i + 1], 'user_tag', utag}
    context = ARGV[i + 3]
    if has_cid then
      f[#f + 1], f[#f + 2] = 'client_id', cid
      redis.call('HSET', cids, cid, last)
    end
    if ARGV[i + 8] ~= '' then f[#f + 1], f[#f + 2] = 'metadata', ARGV[i + 8] end
    redis.call('HSET', ARGV[1] .. last, unpack(f))
    redis.call('ZADD', embed, now, embed_member(ARGV[4], last))
    out[#out + 1] = {last}
  end
end
local updated_at = last > first and now or s[3]
local ns = ARGV[11] == '1' and ARGV[10] or s[2]
redis.call('HSET', skey, 'last_seq', last, 'updated_at', updated_at, 'namespace', ns)
if ARGV[13] == '1' then
  redis.call('HSET', skey, 'summary', ARGV[12])
  redis.call('HINCRBY', skey, 'summary_version', 1)
end
enlist(L, ns, updated_at, s[4], s[7])
if last - tonumber(s[6]) > tonumber(ARGV[9]) and not redis.call('ZSCORE', due, ARGV[4]) then
  redis.call('ZADD', due, now, ARGV[4])
end
return out
