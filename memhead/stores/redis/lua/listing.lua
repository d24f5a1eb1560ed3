-- Session records and their listings, shared by append, put_session and delete.
-- Uses keys.lua (scripts.py puts it before this file).
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
