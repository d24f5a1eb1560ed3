"""The shared store: Redis 8 (or Redis Stack >= 7.2), for many processes on many machines.

Every multi-key write is one Lua script (``redis_scripts``), so it lands whole or not at
all; key names come from ``redis_keys``. Times are the caller's (``now``), never the
server's. Connection failures and timeouts surface as ``BackendUnavailable`` after one quick
reconnect attempt; the connection pool reconnects by itself once Redis is back.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from itertools import chain
from typing import Any, TypeVar, cast

import orjson
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, ReadOnlyError, ResponseError, TimeoutError
from redis.maint_notifications import MaintNotificationsConfig

from memhead.errors import BackendUnavailable, ConfigError, SearchUnavailable
from memhead.models import (
    ApiKey,
    Hit,
    JSONObject,
    Memory,
    Message,
    NewMessage,
    PendingEmbedding,
    SearchScope,
    Session,
    SessionKey,
    SessionPatch,
)
from memhead.stores import redis_check, redis_keys
from memhead.stores.redis_keys import LAYOUT_VERSION, Keys
from memhead.stores.redis_scripts import register
from memhead.stores.redis_search import FIELDS as MESSAGE_FIELDS
from memhead.stores.redis_search import Found, RedisSearch, day, fold, search_tag

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

TIMEOUT_S = 5.0
FILTER_BATCH = 100
"""Listing members read per round when sessions are filtered after reading."""
NO_SEARCH = (
    "search needs the Redis Query Engine (FT.* commands), which this Redis lacks: use Redis 8, "
    "or Redis Stack >= 7.2 (the RediSearch module)"
)
# BusyLoadingError is a ConnectionError; READONLY is what a failed-over primary answers.
UNAVAILABLE = (ConnectionError, TimeoutError, ReadOnlyError)


def _unavailable_as_503(method: F) -> F:
    """The one place where Redis connection trouble becomes ``BackendUnavailable``."""

    @functools.wraps(method)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        except UNAVAILABLE as exc:
            raise BackendUnavailable(f"Redis store unavailable: {exc}") from exc

    return cast(F, wrapper)


def _lex_bound(before: tuple[int, str] | None) -> str:
    """The exclusive upper lex bound of a listing page after the cursor ``before``."""
    return "+" if before is None else "(" + redis_keys.listing_member(*before)


def _flag(value: str | None) -> tuple[str, str]:
    return ("", "0") if value is None else (value, "1")


def _dump(value: JSONObject | None) -> str:
    return "" if value is None else orjson.dumps(value).decode()


def _load(value: bytes | None) -> JSONObject | None:
    if value is None:
        return None
    loaded: JSONObject = orjson.loads(value)
    return loaded


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode()


def _int(value: bytes | None) -> int | None:
    return None if value is None else int(value)


def _message(fields: Sequence[Any]) -> Message:
    """A message from the script fields ``seq, role, content, created_at, client_id, metadata``."""
    seq, role, content, created, client_id, meta = fields
    return Message(
        int(seq), role.decode(), content.decode(), int(created), _text(client_id), _load(meta)
    )


def _session(h: Mapping[bytes, bytes]) -> Session:
    return Session(
        id=h[b"id"].decode(),
        incarnation=h[b"incarnation"].decode(),
        namespace=h[b"namespace"].decode(),
        user_id=_text(h.get(b"user_id")),
        metadata=_load(h.get(b"metadata")),
        created_at=int(h[b"created_at"]),
        updated_at=int(h[b"updated_at"]),
        last_seq=int(h[b"last_seq"]),
        summary=_text(h.get(b"summary")),
        upto_seq=int(h[b"upto_seq"]),
        summary_version=int(h[b"summary_version"]),
        tokens=int(h[b"tokens"]),
        last_compacted_at=_int(h.get(b"last_compacted_at")),
        last_error=_text(h.get(b"last_error")),
        attempts=int(h[b"attempts"]),
        next_attempt_at=_int(h.get(b"next_attempt_at")),
    )


def _pairs(flat: Sequence[bytes]) -> dict[bytes, bytes]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _message_args(new: NewMessage, now: int) -> tuple[str, ...]:
    created_at = now if new.created_at is None else new.created_at
    return (
        *(new.role, search_tag(new.role), new.content, fold(new.content), day(created_at)),
        *(str(created_at), *_flag(new.client_id), _dump(new.metadata)),
    )


def _hit(found: Found) -> Hit:
    session_id, fields, score = found
    return Hit(session_id, _message(fields), score)


class RedisStore:
    backend = "redis"

    def __init__(self, client: Redis, *, prefix: str = "memhead") -> None:
        """Use ``client`` (which must not decode responses); key names start with ``prefix``."""
        if client.connection_pool.connection_kwargs.get("decode_responses"):
            raise ConfigError("RedisStore needs a client with decode_responses=False")
        self.client = client
        self.keys = Keys(prefix)
        self.has_search: bool | None = None
        """Whether the server has the query engine (``FT.*``); known after ``setup()``."""
        self._scripts = register(client)
        self._search = RedisSearch(client, self.keys, self._scripts)

    @classmethod
    def from_url(
        cls, url: str, prefix: str = "memhead", *, timeout_s: float = TIMEOUT_S
    ) -> RedisStore:
        """``redis://``, ``rediss://`` (TLS) or ``unix://``; timeouts, no blind retries."""
        client = Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            # No retries (redis-py's default is three). A connection that fails after a
            # command was sent may fail after Redis ran it: an append sent again would be
            # stored twice. A failed call is a 503; the client decides whether to send it
            # again. A pooled connection that died with a server restart needs no retry
            # either: the pool checks each connection as it hands it out and replaces one
            # the server has closed...
            retry=Retry(NoBackoff(), 0),
            # ...unless maintenance notifications are on. redis-py 8.1 skips that check
            # when they are, and their default, "auto", counts as on. They are a feature
            # of Redis Software/Cloud over RESP3; memhead speaks RESP2.
            maint_notifications_config=MaintNotificationsConfig(enabled=False),
            health_check_interval=30,
        )
        return cls(client, prefix=prefix)

    # -- plumbing ---------------------------------------------------------------------

    @_unavailable_as_503
    async def setup(self) -> None:
        schema = self.keys.schema()
        await self.client.set(schema, LAYOUT_VERSION, nx=True)
        stored = await self.client.get(schema)
        if stored != str(LAYOUT_VERSION).encode():
            raise ConfigError(
                f"Redis keys under {self.keys.prefix!r} have layout {stored!r}; "
                f"this memhead reads layout {LAYOUT_VERSION}"
            )
        self.has_search = await self._probe_search()
        if self.has_search:
            db = self.client.connection_pool.connection_kwargs.get("db", 0)
            if db not in (0, "0", None):
                raise ConfigError(
                    f"this Redis URL selects database {db}, but the query engine (search) "
                    "indexes only database 0: use a URL ending in /0 or with no database; "
                    f"memhead's keys are already kept apart under {self.keys.prefix!r}"
                )
            await self._search.setup()

    async def _probe_search(self) -> bool:
        try:
            await self.client.execute_command("FT._LIST")  # type: ignore[no-untyped-call]
        except ResponseError:
            return False
        return True

    async def close(self) -> None:
        await self.client.aclose()

    @_unavailable_as_503
    async def ping(self) -> None:
        await self.client.ping()

    # -- messages ---------------------------------------------------------------------

    @_unavailable_as_503
    async def append(
        self,
        key: SessionKey,
        messages: Sequence[NewMessage],
        *,
        now: int,
        window: int,
        namespace: str | None = None,
        context: str | None = None,
    ) -> list[Message]:
        k = self.keys
        replies = await self._scripts.append(
            keys=k.write_set(key),
            args=[
                k.message_prefix(key),
                k.namespace_base(key.tenant),
                k.user_base(key.tenant),
                k.due_member(key),
                key.tenant,
                key.session_id,
                uuid.uuid4().hex,
                now,
                window,
                *_flag(namespace),
                *_flag(context),
                search_tag(key.tenant),
                search_tag(key.tenant, key.session_id),
                *chain.from_iterable(_message_args(m, now) for m in messages),
            ],
        )
        return [_stored(reply, new, now) for reply, new in zip(replies, messages, strict=True)]

    async def _read(
        self, key: SessionKey, *args: str | int
    ) -> tuple[Session | None, list[Message]]:
        reply = await self._scripts.read(
            keys=[self.keys.session(key)], args=[self.keys.message_prefix(key), *args]
        )
        if not reply:
            return None, []
        return _session(_pairs(reply[0])), [_message(m) for m in reply[1:]]

    @_unavailable_as_503
    async def memory(self, key: SessionKey, window: int) -> Memory:
        session, messages = await self._read(key, "window", window, "")
        return Memory(session, messages)

    @_unavailable_as_503
    async def history(
        self, key: SessionKey, *, before_seq: int | None, limit: int
    ) -> list[Message]:
        before = "" if before_seq is None else before_seq
        return (await self._read(key, "history", before, limit))[1]

    @_unavailable_as_503
    async def span(self, key: SessionKey, *, after_seq: int, through_seq: int) -> list[Message]:
        return (await self._read(key, "span", after_seq, through_seq))[1]

    # -- sessions ---------------------------------------------------------------------

    @_unavailable_as_503
    async def get_session(self, key: SessionKey) -> Session | None:
        fields = await self.client.hgetall(self.keys.session(key))
        return _session(cast(dict[bytes, bytes], fields)) if fields else None

    @_unavailable_as_503
    async def put_session(self, key: SessionKey, patch: SessionPatch, *, now: int) -> Session:
        k = self.keys
        reply = await self._scripts.put_session(
            keys=[k.session(key), k.recent(key.tenant)],
            args=[
                k.namespace_base(key.tenant),
                k.user_base(key.tenant),
                key.tenant,
                key.session_id,
                uuid.uuid4().hex,
                now,
                *_flag(patch.user_id),
                _dump(patch.metadata),
            ],
        )
        return _session(_pairs(reply))

    @_unavailable_as_503
    async def delete_session(self, key: SessionKey) -> bool:
        k = self.keys
        deleted = await self._scripts.delete(
            keys=k.write_set(key),
            args=[
                k.message_prefix(key),
                k.namespace_base(key.tenant),
                k.user_base(key.tenant),
                k.due_member(key),
                key.session_id,
                k.vector_prefix(key),
            ],
        )
        return bool(deleted)

    @_unavailable_as_503
    async def list_namespace(
        self, tenant: str, namespace: str, *, offset: int, limit: int
    ) -> list[str]:
        if limit <= 0:
            return []
        key = self.keys.namespace(tenant, namespace)
        ids = await self.client.zrange(key, offset, offset + limit - 1)
        return [i.decode() for i in cast(list[bytes], ids)]

    @_unavailable_as_503
    async def list_sessions(
        self,
        tenant: str,
        *,
        user_id: str | None,
        before: tuple[int, str] | None,
        limit: int,
        namespace: str | None = None,
    ) -> list[Session]:
        if limit <= 0:
            return []
        if namespace is not None and user_id is not None:
            return await self._users_in_namespace(tenant, user_id, namespace, before, limit)
        if namespace is not None:
            ids = await self._namespace_page(tenant, namespace, before, limit)
        else:
            k = self.keys
            listing = k.recent(tenant) if user_id is None else k.user(tenant, user_id)
            members = await self._listing_page(listing, _lex_bound(before), limit)
            ids = [redis_keys.session_id_of_member(m) for m in members]
        return await self._sessions(SessionKey(tenant, i) for i in ids)

    async def _listing_page(self, listing: str, upper: str | bytes, num: int) -> list[bytes]:
        """Listing members below ``upper``, newest first."""
        members = await self.client.zrange(
            listing, upper, "-", desc=True, bylex=True, offset=0, num=num
        )
        return cast(list[bytes], members)

    async def _namespace_page(
        self, tenant: str, namespace: str, before: tuple[int, str] | None, limit: int
    ) -> list[str]:
        """Session ids of a namespace after the cursor, newest first. The namespace zset
        scores ``updated_at`` and orders ties by id, so a cursor splits into the ties at its
        time (few: same millisecond) and everything older."""
        key = self.keys.namespace(tenant, namespace)
        if before is None:
            found = await self.client.zrange(
                key, "+inf", "-inf", desc=True, byscore=True, offset=0, num=limit
            )
            return [m.decode() for m in cast(list[bytes], found)]
        updated_at, session_id = before
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.zrange(key, updated_at, updated_at, desc=True, byscore=True)
            pipe.zrange(key, f"({updated_at}", "-inf", desc=True, byscore=True, offset=0, num=limit)
            ties, older = await pipe.execute()
        below = session_id.encode()
        members = [m for m in cast(list[bytes], ties) if m < below] + cast(list[bytes], older)
        return [m.decode() for m in members[:limit]]

    async def _users_in_namespace(
        self, tenant: str, user_id: str, namespace: str, before: tuple[int, str] | None, limit: int
    ) -> list[Session]:
        """One user's sessions in one namespace: walks the user's listing (a user has few
        sessions) and keeps the namespace's."""
        listing = self.keys.user(tenant, user_id)
        upper: str | bytes = _lex_bound(before)
        found: list[Session] = []
        while len(found) < limit:
            members = await self._listing_page(listing, upper, FILTER_BATCH)
            ids = [redis_keys.session_id_of_member(m) for m in members]
            sessions = await self._sessions(SessionKey(tenant, i) for i in ids)
            found += [s for s in sessions if s.namespace == namespace]
            if len(members) < FILTER_BATCH:
                break
            upper = b"(" + members[-1]
        return found[:limit]

    async def _sessions(self, keys: Iterable[SessionKey]) -> list[Session]:
        async with self.client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hgetall(self.keys.session(key))
            found: list[dict[bytes, bytes]] = await pipe.execute()
        return [_session(fields) for fields in found if fields]  # deleted meanwhile: skipped

    # -- compaction -------------------------------------------------------------------

    @_unavailable_as_503
    async def due_sessions(self, *, now: int, limit: int) -> list[SessionKey]:
        members = await self._scripts.due_sessions(
            keys=[self.keys.due()], args=[now, limit, *self.keys.session_of_member()]
        )
        return [redis_keys.key_of_due_member(m) for m in members]

    @_unavailable_as_503
    async def acquire_lease(self, key: SessionKey, *, owner: str, now: int, ttl_ms: int) -> bool:
        taken = await self._scripts.acquire_lease(
            keys=[self.keys.session(key)], args=[owner, now, now + ttl_ms]
        )
        return bool(taken)

    @_unavailable_as_503
    async def release_lease(self, key: SessionKey, *, owner: str) -> None:
        await self._scripts.release_lease(keys=[self.keys.session(key)], args=[owner])

    @_unavailable_as_503
    async def commit_summary(
        self,
        key: SessionKey,
        *,
        incarnation: str,
        expected_version: int,
        summary: str | None,
        upto_seq: int,
        tokens: int,
        now: int,
        window: int,
    ) -> bool:
        committed = await self._scripts.commit_summary(
            keys=[self.keys.session(key), self.keys.due()],
            args=[
                incarnation,
                expected_version,
                *_flag(summary),
                upto_seq,
                tokens,
                now,
                window,
                self.keys.due_member(key),
            ],
        )
        return bool(committed)

    @_unavailable_as_503
    async def record_failure(
        self, key: SessionKey, *, incarnation: str, error: str, retry_at: int
    ) -> None:
        await self._scripts.record_failure(
            keys=[self.keys.session(key), self.keys.due()],
            args=[incarnation, error, retry_at, self.keys.due_member(key)],
        )

    # -- search -----------------------------------------------------------------------

    async def _searcher(self) -> RedisSearch:
        if self.has_search is None:
            await self.setup()
        if not self.has_search:
            raise SearchUnavailable(NO_SEARCH)
        return self._search

    @_unavailable_as_503
    async def keyword_search(
        self, scope: SearchScope, terms: Sequence[str], limit: int
    ) -> list[Hit]:
        found = await (await self._searcher()).keyword_search(scope, terms, limit)
        return [_hit(f) for f in found]

    @_unavailable_as_503
    async def vector_search(
        self, scope: SearchScope, vector: Sequence[float], limit: int
    ) -> list[Hit]:
        found = await (await self._searcher()).vector_search(scope, vector, limit)
        return [_hit(f) for f in found]

    @_unavailable_as_503
    async def fetch(self, tenant: str, positions: Sequence[tuple[str, int]]) -> list[Hit]:
        """Plain reads of the message hashes: no query engine needed."""
        async with self.client.pipeline(transaction=False) as pipe:
            for session_id, seq in positions:
                pipe.hmget(self.keys.message(SessionKey(tenant, session_id), seq), MESSAGE_FIELDS)
            found: list[list[bytes | None]] = await pipe.execute()
        return [
            Hit(session_id, _message(fields), 0.0)
            for (session_id, _), fields in zip(positions, found, strict=True)
            if fields[0] is not None
        ]

    @_unavailable_as_503
    async def embedding_backlog(self, *, limit: int) -> list[PendingEmbedding]:
        pending = await (await self._searcher()).embedding_backlog(limit)
        return [PendingEmbedding(key, inc, _message(fields)) for key, inc, fields in pending]

    @_unavailable_as_503
    async def store_vectors(
        self, items: Sequence[tuple[PendingEmbedding, Sequence[float]]], *, model: str
    ) -> None:
        await (await self._searcher()).store_vectors(items, model)

    # -- API keys ---------------------------------------------------------------------

    @_unavailable_as_503
    async def create_key(self, key: ApiKey, *, key_hash: str) -> None:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(
                self.keys.api_key(key_hash),
                mapping={
                    "id": key.id,
                    "tenant": key.tenant,
                    "name": key.name,
                    "created_at": key.created_at,
                },
            )
            pipe.hset(self.keys.api_keys(), key.id, key_hash)
            await pipe.execute()

    @_unavailable_as_503
    async def list_keys(self) -> list[ApiKey]:
        hashes = await self.client.hgetall(self.keys.api_keys())
        async with self.client.pipeline(transaction=False) as pipe:
            for key_hash in hashes.values():
                pipe.hgetall(self.keys.api_key(_str(key_hash)))
            records: list[dict[bytes, bytes]] = await pipe.execute()
        keys = [_api_key(r) for r in records if r]
        return sorted(keys, key=lambda k: (k.created_at, k.id))

    @_unavailable_as_503
    async def revoke_key(self, key_id: str, *, now: int) -> bool:
        key_hash = await self.client.hget(self.keys.api_keys(), key_id)
        if key_hash is None:
            return False
        record = self.keys.api_key(_str(key_hash))
        # HSETNX: only the first revocation counts, concurrent ones see False.
        return bool(await self.client.hsetnx(record, "revoked_at", now))

    @_unavailable_as_503
    async def tenant_for_key(self, key_hash: str) -> str | None:
        tenant, revoked = await self.client.hmget(
            self.keys.api_key(key_hash), ["tenant", "revoked_at"]
        )
        return None if tenant is None or revoked is not None else _str(tenant)

    @_unavailable_as_503
    async def check(self) -> list[str]:
        return await redis_check.check(self.client, self.keys)


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _api_key(fields: Mapping[bytes, bytes]) -> ApiKey:
    revoked = fields.get(b"revoked_at")
    return ApiKey(
        fields[b"id"].decode(),
        fields[b"tenant"].decode(),
        fields[b"name"].decode(),
        int(fields[b"created_at"]),
        None if revoked is None else int(revoked),
    )


def _stored(reply: Sequence[Any], new: NewMessage, now: int) -> Message:
    """A message the append script stored now (``{seq}``), or the one stored before it."""
    if len(reply) > 1:
        return _message(reply)
    created_at = now if new.created_at is None else new.created_at
    return Message(int(reply[0]), new.role, new.content, created_at, new.client_id, new.metadata)
