-- Session records and their listings, shared by append, put_session and delete.
-- Uses keys.lua (scripts.py puts it before this file).
local FIELDS = {'seq', 'role', 'content', 'created_at', 'client_id', 'metadata'}
-- L: {ns = namespace listing base, recent = recent listing key, user = user listing base,
--     id = session id, written = written zset, expires = expires zset, due = due member}
local function unlist(L, ns, updated_at, user)
  redis.call('ZREM', L.ns .. quote(ns), L.id)
  local m = member(updated_at, L.id)
  redis.call('ZREM', L.recent, m)
  if user then redis.call('ZREM', L.user .. quote(user), m) end
  redis.call('ZREM', L.written, L.due)
  redis.call('ZREM', L.expires, L.due)
end
-- ttl: the session's own TTL in ms (false: the default TTL; '0': never), see keyspace.py.
local function enlist(L, ns, updated_at, user, ttl)
  redis.call('ZADD', L.ns .. quote(ns), updated_at, L.id)
  local m = member(updated_at, L.id)
  redis.call('ZADD', L.recent, 0, m)
  if user then redis.call('ZADD', L.user .. quote(user), 0, m) end
  if not ttl then
    redis.call('ZADD', L.written, updated_at, L.due)
  elseif tonumber(ttl) > 0 then
    redis.call('ZADD', L.expires, tonumber(updated_at) + tonumber(ttl), L.due)
  end
end
local function create(skey, tenant, id, incarnation, ns, now)
  redis.call('HSET', skey, 'tenant', tenant, 'id', id, 'incarnation', incarnation,
    'namespace', ns, 'created_at', now, 'updated_at', now, 'last_seq', 0, 'upto_seq', 0,
    'summary_version', 0, 'tokens', 0, 'attempts', 0)
end
