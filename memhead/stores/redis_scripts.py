"""The Lua scripts behind every multi-key write (and the consistent reads) of ``RedisStore``.

Each script runs atomically on the server. Redis does not roll a script back when it fails
half way, so every script checks its preconditions before its first write. Times come in as
arguments (the caller's clock), never from ``TIME``. Key names are built in
``redis_keys``; a script only appends a seq to a message prefix, rebuilds the listing
keys of a session's previous state, or builds embed members with ``LUA_HELPERS``. Optional
values travel as a value plus a ``'1'``/``'0'`` flag.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from memhead.stores.redis_batches import BatchedScript, ScriptBatcher
from memhead.stores.redis_keys import LUA_HELPERS

READ_ONLY = "#!lua flags=no-writes\n"

COMMON = (
    LUA_HELPERS
    + """
local FIELDS = {'seq', 'role', 'content', 'created_at', 'client_id', 'metadata'}
-- L: {ns = namespace listing base, recent = recent listing key, user = user listing base,
--     id = session id}
local function unlist(L, ns, updated_at, user)
  redis.call('ZREM', L.ns .. quote(ns), L.id)
  local m = member(updated_at, L.id)
  redis.call('ZREM', L.recent, m)
  if user then redis.call('ZREM', L.user .. quote(user), m) end
end
local function enlist(L, ns, updated_at, user)
  redis.call('ZADD', L.ns .. quote(ns), updated_at, L.id)
  local m = member(updated_at, L.id)
  redis.call('ZADD', L.recent, 0, m)
  if user then redis.call('ZADD', L.user .. quote(user), 0, m) end
end
local function create(skey, tenant, id, incarnation, ns, now)
  redis.call('HSET', skey, 'tenant', tenant, 'id', id, 'incarnation', incarnation,
    'namespace', ns, 'created_at', now, 'updated_at', now, 'last_seq', 0, 'upto_seq', 0,
    'summary_version', 0, 'tokens', 0, 'attempts', 0)
end
"""
)

# KEYS: session, client-id index, due, recent listing, embedding backlog
# ARGV: message prefix, namespace base, user base, due member, tenant, session id,
#       fresh incarnation, now, window, namespace, has namespace, context, has context,
#       tenant tag, session tag,
#       then per message: role, role tag, content, text (folded content), day (folded),
#       created_at, client id, has client id, metadata ('')
# Returns per message {seq} when stored now, or the stored message's FIELDS when its client
# id was already known. A message's keyword row (redis_search) is its text, the text of the
# message stored before it in the session (context) and its day. Each message hash is written
# by one HSET, so the search indexes index it once, at once.
APPEND = (
    COMMON
    + """
local skey, cids, due, embed = KEYS[1], KEYS[2], KEYS[3], KEYS[5]
local L = {ns = ARGV[2], recent = KEYS[4], user = ARGV[3], id = ARGV[6]}
local now = ARGV[8]
local s = redis.call('HMGET', skey, 'incarnation', 'namespace', 'updated_at', 'user_id',
  'last_seq', 'upto_seq')
if s[1] then
  unlist(L, s[2], s[3], s[4])
else
  local ns = ARGV[11] == '1' and ARGV[10] or ''
  create(skey, ARGV[5], ARGV[6], ARGV[7], ns, now)
  s = {ARGV[7], ns, now, false, '0', '0'}
end
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
      'role_tag', ARGV[i + 1]}
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
enlist(L, ns, updated_at, s[4])
if last - tonumber(s[6]) > tonumber(ARGV[9]) and not redis.call('ZSCORE', due, ARGV[4]) then
  redis.call('ZADD', due, now, ARGV[4])
end
return out
"""
)

# KEYS: session; ARGV: message prefix, mode ('window' | 'history' | 'span'), a, b
#   window: a = size; history: a = before seq ('' for none), b = limit;
#   span: a = after seq, b = through seq
# Returns {session HGETALL, messages...} (newest first, oldest first for span), or {}.
READ = (
    READ_ONLY
    + """
local s = redis.call('HGETALL', KEYS[1])
if #s == 0 then return {} end
local h = {}
for i = 1, #s, 2 do h[s[i]] = s[i + 1] end
local last, upto = tonumber(h.last_seq), tonumber(h.upto_seq)
local mode, from, to, step = ARGV[2], 0, 0, -1
if mode == 'window' then
  from, to = last, math.max(upto + 1, last - tonumber(ARGV[3]) + 1)
elseif mode == 'history' then
  from = last
  if ARGV[3] ~= '' then from = math.min(last, tonumber(ARGV[3]) - 1) end
  to = math.max(1, from - tonumber(ARGV[4]) + 1)
else
  from, to, step = tonumber(ARGV[3]) + 1, math.min(last, tonumber(ARGV[4])), 1
end
local out = {s}
for seq = from, to, step do
  local m = redis.call('HMGET', ARGV[1] .. seq,
    'seq', 'role', 'content', 'created_at', 'client_id', 'metadata')
  if m[1] then out[#out + 1] = m end
end
return out
"""
)

# KEYS: session, recent listing
# ARGV: namespace base, user base, tenant, session id, fresh incarnation, now, user id,
#       has user id, metadata ('' = unchanged)
# Returns the session's HGETALL.
PUT_SESSION = (
    COMMON
    + """
local skey = KEYS[1]
local L = {ns = ARGV[1], recent = KEYS[2], user = ARGV[2], id = ARGV[4]}
local now = ARGV[6]
local s = redis.call('HMGET', skey, 'incarnation', 'namespace', 'updated_at', 'user_id')
local ns, user = '', s[4]
if s[1] then
  unlist(L, s[2], s[3], s[4])
  ns = s[2]
else
  create(skey, ARGV[3], ARGV[4], ARGV[5], ns, now)
end
if ARGV[8] == '1' then
  user = ARGV[7]
  redis.call('HSET', skey, 'user_id', user)
end
if ARGV[9] ~= '' then redis.call('HSET', skey, 'metadata', ARGV[9]) end
redis.call('HSET', skey, 'updated_at', now)
enlist(L, ns, now, user)
return redis.call('HGETALL', skey)
"""
)

# KEYS: session, client-id index, due, recent listing, embedding backlog
# ARGV: message prefix, namespace base, user base, due member, session id, vector prefix
# Unlinking the message and vector hashes also takes them out of the search indexes.
DELETE = (
    COMMON
    + """
local s = redis.call('HMGET', KEYS[1], 'incarnation', 'namespace', 'updated_at', 'user_id',
  'last_seq')
if not s[1] then return 0 end
unlist({ns = ARGV[2], recent = KEYS[4], user = ARGV[3], id = ARGV[5]}, s[2], s[3], s[4])
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
"""
)

# KEYS: session, due
# ARGV: incarnation, expected version, summary, has summary, upto seq, tokens, now, window,
#       due member
COMMIT_SUMMARY = """
local skey, due = KEYS[1], KEYS[2]
local s = redis.call('HMGET', skey, 'incarnation', 'summary_version', 'last_seq', 'upto_seq')
local upto = tonumber(ARGV[5])
if s[1] ~= ARGV[1] or tonumber(s[2]) ~= tonumber(ARGV[2])
    or upto > tonumber(s[3]) or upto < tonumber(s[4]) then
  return 0
end
if ARGV[4] == '1' then
  redis.call('HSET', skey, 'summary', ARGV[3])
else
  redis.call('HDEL', skey, 'summary')
end
redis.call('HSET', skey, 'upto_seq', ARGV[5], 'last_compacted_at', ARGV[7], 'attempts', 0)
redis.call('HINCRBY', skey, 'summary_version', 1)
redis.call('HINCRBY', skey, 'tokens', ARGV[6])
redis.call('HDEL', skey, 'last_error', 'next_attempt_at')
if tonumber(s[3]) - upto > tonumber(ARGV[8]) then
  redis.call('ZADD', due, ARGV[7], ARGV[9])
else
  redis.call('ZREM', due, ARGV[9])
end
return 1
"""

# KEYS: session, due; ARGV: incarnation, error, retry at, due member
RECORD_FAILURE = """
if redis.call('HGET', KEYS[1], 'incarnation') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'last_error', ARGV[2], 'next_attempt_at', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 1
"""

# KEYS: session; ARGV: owner, now, lease until
ACQUIRE_LEASE = """
local s = redis.call('HMGET', KEYS[1], 'incarnation', 'lease_owner', 'lease_until')
if not s[1] then return 0 end
if s[3] and tonumber(s[3]) > tonumber(ARGV[2]) and s[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'lease_owner', ARGV[1], 'lease_until', ARGV[3])
return 1
"""

# KEYS: session; ARGV: owner
RELEASE_LEASE = """
if redis.call('HGET', KEYS[1], 'lease_owner') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'lease_owner', 'lease_until')
end
return 0
"""

# KEYS: due; ARGV: now, limit, session key head, session key tail
# Returns due members whose session exists and whose lease is free or expired, oldest first.
DUE_SESSIONS = (
    READ_ONLY
    + """
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local out, offset = {}, 0
while #out < limit do
  local batch = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', offset, limit)
  if #batch == 0 then break end
  for _, m in ipairs(batch) do
    local s = redis.call('HMGET', ARGV[3] .. m .. ARGV[4], 'incarnation', 'lease_until')
    if s[1] and (not s[2] or tonumber(s[2]) <= now) then
      out[#out + 1] = m
      if #out == limit then break end
    end
  end
  offset = offset + #batch
end
return out
"""
)


# KEYS: session, message, vector, embedding backlog; ARGV: incarnation, vector bytes,
#       embed member
# Stores the vector, with the message's filter fields, in a hash of its own (the message hash
# is never written again, so the keyword index never re-indexes it), unless the session was
# deleted or recreated (another incarnation) or another worker stored one first. Returns 1
# when stored.
STORE_VECTOR = """
if redis.call('HGET', KEYS[1], 'incarnation') ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local f = {'session', 'seq', 'tenant_tag', 'session_tag', 'role_tag', 'created_at'}
local m = redis.call('HMGET', KEYS[2], unpack(f))
if not m[1] then return 0 end
local v = {'vector', ARGV[2]}
for i = 1, #f do v[#v + 1], v[#v + 2] = f[i], m[i] end
redis.call('HSET', KEYS[3], unpack(v))
redis.call('ZREM', KEYS[4], ARGV[3])
return 1
"""


@dataclass(frozen=True, slots=True)
class Scripts:
    append: BatchedScript
    read: BatchedScript
    put_session: BatchedScript
    delete: BatchedScript
    commit_summary: BatchedScript
    record_failure: BatchedScript
    acquire_lease: BatchedScript
    release_lease: BatchedScript
    due_sessions: BatchedScript
    store_vector: BatchedScript


def register(client: Redis) -> Scripts:
    """Register every script once; each loads itself on first use (and after a restart).
    Concurrent calls share pipelines (``redis_batches``)."""
    batcher = ScriptBatcher(client)

    def script(source: str) -> BatchedScript:
        return BatchedScript(client.register_script(source), batcher)

    return Scripts(
        append=script(APPEND),
        read=script(READ),
        put_session=script(PUT_SESSION),
        delete=script(DELETE),
        commit_summary=script(COMMIT_SUMMARY),
        record_failure=script(RECORD_FAILURE),
        acquire_lease=script(ACQUIRE_LEASE),
        release_lease=script(RELEASE_LEASE),
        due_sessions=script(DUE_SESSIONS),
        store_vector=script(STORE_VECTOR),
    )
