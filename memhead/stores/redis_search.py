"""Search in the Redis store: the Redis Query Engine (``FT.*``) over the message hashes.

Two indexes, with the same filter fields:

- ``P:idx`` over the message hashes (``P:msg:``), made by ``setup``: the keyword row of
  ``retrieval.keyword_fields`` as three TEXT fields, ``text`` (the content), ``context`` (the
  text of the message stored before it in the session) and ``day`` (its day in words), each
  folded as SQLite's ``unicode61 remove_diacritics`` tokenizer sees it (``fold``): the engine
  neither strips accents nor splits on ``_``, so stored texts and query words are folded
  here. Stemming (English) is the engine's; stopwords are off (the service drops its own).
- ``P:vidx:<dimensions>`` over the vector hashes (``P:vec:``), made when the first vector is
  stored (only then is the dimension known): ``vector`` (HNSW, cosine). A vector lives in a
  hash of its own, so that a message hash is written once and never re-indexed: RediSearch
  re-indexes a hash on any write, and its BM25STD then over-counts a term's documents (an IDF
  underflow, fixed in later releases). The dimension is in the name, so that an index left
  from vectors of another size (keys wiped, indexes kept) is never taken for this one.

Filter fields, written by the append script: ``tenant_tag``, ``session_tag`` (tenant and
session), ``role_tag`` TAG and ``created_at`` NUMERIC. A TAG value is ``search_tag``: each part
as ``x`` + the hex of its UTF-8 bytes, so any id (punctuation, spaces, unicode) becomes
``[0-9a-fx]``, needs no escaping in a query, and distinct ids never share a value.

A user scope is resolved to the user's sessions (the user listing zset) and searched as a
union of session tags. A message hash does not carry its session's user: ``put_session`` may
change the user of a session with any number of messages, and rewriting each of them would
re-index each (and re-insert each vector into the HNSW graph) in one blocking script.

Keyword scores: the engine has no per-field BM25 weights (a term's frequency counts over all
fields of a document), so a search is one query per field, all sent in one round trip, and a
message scores the ``retrieval.BM25_WEIGHTS``-weighted sum of its per-field BM25 scores. Each
query is a union of one filtered intersection per term, ``((@text:t1) F) | ((@text:t2) F)``:
with ``@text:(t1|t2) F`` RediSearch 2.10 scores a document by its first matching term only.
The filter clauses score too (TAG fields count as terms, favouring short documents), so the
text clause is weighted by ``TEXT_SCALE`` and the score divided by it again, which leaves the
filters' share negligible.

The embedding backlog is the ``P:embed`` zset, kept by the append, delete and store-vector
scripts. The embedding space (model, dimensions) is fixed by the first ``SET NX``.
"""

from __future__ import annotations

import asyncio
import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import orjson
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from memhead.errors import EmbeddingMismatch
from memhead.models import PendingEmbedding, SearchScope, SessionKey
from memhead.retrieval import BM25_WEIGHTS, day_text
from memhead.stores.redis_keys import Keys, key_of_embed_member, session_id_of_member
from memhead.stores.redis_scripts import Scripts

FIELDS = ("seq", "role", "content", "created_at", "client_id", "metadata")
"""The message fields a search returns, in the order ``redis._message`` reads them."""

Fields = list[bytes | None]
Found = tuple[str, Fields, float]
"""A hit: session id, ``FIELDS`` values, score."""
Pending = tuple[SessionKey, str, Fields]
"""A message without a vector: its session, the session's incarnation, ``FIELDS`` values."""

KEYWORD_FIELDS = ("text", "context", "day")
"""The keyword row, as ``retrieval.FTS_COLUMNS`` (weighted by ``retrieval.BM25_WEIGHTS``)."""
FILTER_SCHEMA = (
    *("tenant_tag", "TAG", "session_tag", "TAG", "role_tag", "TAG"),
    *("created_at", "NUMERIC"),
)
SCORERS = ("BM25STD", "BM25")
"""Standard BM25 when the engine has it (RediSearch >= 2.10, Redis 8), else its older BM25."""
TEXT_SCALE = 1e6
SCAN_WAIT_S = 30.0
"""How long ``setup`` waits for a new index's scan of the existing keys (see ``_create``)."""

_WORD = re.compile(r"[^\W_]+")
MAX_WORD_BYTES = 128
"""The longest term the engine indexes whole."""


def fold(text: str) -> str:
    """Lower-case words without accents, one space apart (``"Zürich, l'été"`` -> ``zurich l ete``).

    Words are runs of letters and digits, so nothing in a folded text or query word is
    punctuation, query syntax or a separator to the engine's tokenizer. Words are cut to
    ``MAX_WORD_BYTES`` here, since the engine cuts longer ones when indexing but not in
    queries: two words that long match when they start alike.
    """
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text.casefold())
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_clip(w) for w in _WORD.findall(text.lower()))


def _clip(word: str) -> str:
    encoded = word.encode()
    if len(encoded) <= MAX_WORD_BYTES:
        return word
    return encoded[:MAX_WORD_BYTES].decode(errors="ignore")


def day(created_at: int) -> str:
    """The ``day`` field of a message created at ``created_at`` (ms): its day in words, folded."""
    return fold(day_text(datetime.fromtimestamp(created_at / 1000, tz=UTC)))


def search_tag(*parts: str) -> str:
    """The TAG value of ``parts`` (e.g. tenant and session): ``x<hex>`` per part."""
    return "".join("x" + part.encode().hex() for part in parts)


def match_terms(terms: Sequence[str]) -> list[str]:
    """The distinct folded terms; one that folds to several words (``"a:b"``) is the phrase
    of them, as in FTS5, and one without a word is dropped."""
    folded = (fold(t) for t in terms)
    return list(dict.fromkeys(f'"{f}"' if " " in f else f for f in folded if f))


def keyword_query(field: str, terms: Sequence[str], filters: str) -> str:
    """Documents in scope matching any term in ``field``; see the module docstring."""
    weight = f"=>{{$weight:{TEXT_SCALE:g}}}"
    return " | ".join(f"((@{field}:{term}){weight} {filters})" for term in terms)


def normalised(vector: Sequence[float]) -> bytes:
    v = np.asarray(vector, dtype=np.float32)
    v /= max(float(np.linalg.norm(v)), 1e-12)
    return v.tobytes()


@dataclass(frozen=True, slots=True)
class Space:
    model: str
    dimensions: int


Document = tuple[bytes, float, dict[bytes, bytes]]
"""A document of an ``FT.SEARCH`` reply: key, score, returned fields."""


def _documents(reply: Any, *, scores: bool) -> list[Document]:
    """The documents of an ``FT.SEARCH`` reply, RESP3 or RESP2, skipping ones gone meanwhile."""
    if isinstance(reply, dict):
        docs = [
            (r[b"id"], float(r.get(b"score", 0)), r.get(b"extra_attributes", {}))
            for r in reply[b"results"]
        ]
    else:
        stride = 3 if scores else 2
        docs = [
            (
                reply[i],
                float(reply[i + 1]) if scores else 0.0,
                dict(zip(reply[i + stride - 1][::2], reply[i + stride - 1][1::2], strict=True)),
            )
            for i in range(1, len(reply), stride)
        ]
    return [doc for doc in docs if b"session" in doc[2]]


def _weighted(replies: Sequence[Any], limit: int) -> list[Found]:
    """The best ``limit`` documents of the per-field replies by weighted sum of scores."""
    scores: dict[bytes, float] = {}
    fields_of: dict[bytes, dict[bytes, bytes]] = {}
    for weight, reply in zip(BM25_WEIGHTS, replies, strict=True):
        for key, score, fields in _documents(reply, scores=True):
            scores[key] = scores.get(key, 0.0) + weight * score / TEXT_SCALE
            fields_of[key] = fields
    best = sorted(scores, key=lambda key: -scores[key])[:limit]
    return [
        (
            fields_of[k][b"session"].decode(),
            [fields_of[k].get(f.encode()) for f in FIELDS],
            scores[k],
        )
        for k in best
    ]


def _already_exists(exc: ResponseError) -> bool:
    return "already exists" in str(exc).lower()


class RedisSearch:
    """The search half of ``RedisStore`` (which checks that the query engine is there)."""

    def __init__(self, client: Redis, keys: Keys, scripts: Scripts) -> None:
        self.client = client
        self.keys = keys
        self.scripts = scripts
        self.scorer = SCORERS[0]
        self._space: Space | None = None  # fixed for good once stored
        self._vector_index = False  # the vector index of the space is known to exist

    async def _ft(self, *args: Any) -> Any:
        return await self.client.execute_command(*args)  # type: ignore[no-untyped-call]

    # -- indexes ------------------------------------------------------------------------

    async def setup(self) -> None:
        """Create the keyword index (once for all processes) and pick the BM25 scorer."""
        text_fields = (part for field in KEYWORD_FIELDS for part in (field, "TEXT"))
        created = await self._create(
            self.keys.search_index(),
            *("ON", "HASH", "PREFIX", 1, self.keys.messages_index_prefix(), "STOPWORDS", 0),
            *("SCHEMA", *text_fields, *FILTER_SCHEMA),
        )
        if created:
            await self._wait_scanned(self.keys.search_index())
        for scorer in SCORERS:
            try:  # a query that matches nothing, whatever the index holds
                await self._ft(
                    *("FT.SEARCH", self.keys.search_index(), "@tenant_tag:{probe}"),
                    *("SCORER", scorer, "LIMIT", 0, 0, "DIALECT", 2),
                )
            except ResponseError:
                continue
            self.scorer = scorer
            return

    async def _create(self, index: str, *spec: str | int) -> bool:
        """``FT.CREATE`` unless it exists (then ``False``): concurrent creators all succeed."""
        try:
            await self._ft("FT.CREATE", index, *spec)
        except ResponseError as exc:
            if not _already_exists(exc):
                raise
            return False
        return True

    async def _wait_scanned(self, index: str) -> None:
        """Wait (up to ``SCAN_WAIT_S``) for a new index's background scan of the keyspace.

        A hash written during the scan is indexed twice, and RediSearch keeps counting the
        stale copy in its term statistics, which skews BM25 for good.
        """
        deadline = time.monotonic() + SCAN_WAIT_S
        while time.monotonic() < deadline:
            info = await self._ft("FT.INFO", index)
            stats = (
                info if isinstance(info, dict) else dict(zip(info[::2], info[1::2], strict=True))
            )
            if not int(stats.get(b"indexing", 0)):
                return
            await asyncio.sleep(0.01)

    async def _ensure_vector_index(self, space: Space) -> None:
        if self._vector_index:
            return
        await self._create(
            self.keys.vector_index(space.dimensions),
            *("ON", "HASH", "PREFIX", 1, self.keys.vectors_index_prefix()),
            *("SCHEMA", *FILTER_SCHEMA, "vector", "VECTOR", "HNSW", 6, "TYPE", "FLOAT32"),
            *("DIM", space.dimensions, "DISTANCE_METRIC", "COSINE"),
        )
        self._vector_index = True

    async def _stored_space(self) -> Space | None:
        if self._space is None:
            raw = await self.client.get(self.keys.embedding_space())
            if raw is not None:
                self._space = Space(**orjson.loads(raw))
        return self._space

    async def _claim_space(self, model: str, dimensions: int) -> Space:
        """The store's space; the first caller ever fixes it (``SET NX``), others must match."""
        wanted = Space(model, dimensions)
        space = await self._stored_space()
        if space is None:
            value = orjson.dumps({"model": model, "dimensions": dimensions})
            before = await self.client.set(self.keys.embedding_space(), value, nx=True, get=True)
            space = wanted if before is None else Space(**orjson.loads(cast(bytes, before)))
            self._space = space
        if space != wanted:
            raise EmbeddingMismatch(
                f"this store holds vectors of {space.model} ({space.dimensions} dimensions); "
                f"the embedder is {model} ({dimensions} dimensions). Use the same model, "
                "or a new store."
            )
        return space

    # -- queries ------------------------------------------------------------------------

    async def _sessions(self, scope: SearchScope) -> list[str] | None:
        """The sessions a scope names (None: every session of the tenant)."""
        if scope.user_id is None:
            return None if scope.session_id is None else [scope.session_id]
        listing = await self.client.zrange(self.keys.user(scope.tenant, scope.user_id), 0, -1)
        ids = [session_id_of_member(m) for m in cast(list[bytes], listing)]
        if scope.session_id is not None:
            return [scope.session_id] if scope.session_id in ids else []
        return ids

    async def _filters(self, scope: SearchScope) -> str | None:
        """The query clauses confining a search to ``scope``; None when nothing is in scope."""
        sessions = await self._sessions(scope)
        if sessions is None:
            clauses = [f"@tenant_tag:{{{search_tag(scope.tenant)}}}"]
        elif sessions:
            tags = "|".join(search_tag(scope.tenant, s) for s in sessions)
            clauses = [f"@session_tag:{{{tags}}}"]
        else:
            return None
        if scope.since is not None or scope.until is not None:
            low = "-inf" if scope.since is None else str(scope.since)
            high = "+inf" if scope.until is None else f"({scope.until}"
            clauses.append(f"@created_at:[{low} {high}]")
        if scope.roles:
            clauses.append("@role_tag:{" + "|".join(search_tag(r) for r in scope.roles) + "}")
        return " ".join(clauses)

    async def keyword_search(
        self, scope: SearchScope, terms: Sequence[str], limit: int
    ) -> list[Found]:
        words = match_terms(terms)
        filters = await self._filters(scope)
        if not words or filters is None or limit <= 0:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for field in KEYWORD_FIELDS:
                pipe.execute_command(
                    *("FT.SEARCH", self.keys.search_index(), keyword_query(field, words, filters)),
                    *("WITHSCORES", "SCORER", self.scorer),
                    *("RETURN", len(FIELDS) + 1, "session", *FIELDS),
                    *("LIMIT", 0, limit, "DIALECT", 2),
                )
            replies: list[Any] = await pipe.execute()
        return _weighted(replies, limit)

    async def vector_search(
        self, scope: SearchScope, vector: Sequence[float], limit: int
    ) -> list[Found]:
        space = await self._stored_space()
        if space is None or limit <= 0:
            return []  # no vector stored yet
        if len(vector) != space.dimensions:
            raise EmbeddingMismatch(
                f"query vector has {len(vector)} dimensions, stored vectors {space.dimensions}"
            )
        filters = await self._filters(scope)
        if filters is None:
            return []
        await self._ensure_vector_index(space)
        reply = await self._ft(
            *("FT.SEARCH", self.keys.vector_index(space.dimensions)),
            f"({filters})=>[KNN {limit} @vector $vector AS distance]",
            *("PARAMS", 2, "vector", normalised(vector), "SORTBY", "distance"),
            *("RETURN", 3, "session", "seq", "distance", "LIMIT", 0, limit, "DIALECT", 2),
        )
        nearest = [
            (fields[b"session"].decode(), int(fields[b"seq"]), 1.0 - float(fields[b"distance"]))
            for _, _, fields in _documents(reply, scores=False)
        ]
        return await self._with_messages(scope.tenant, nearest)

    async def _with_messages(
        self, tenant: str, nearest: list[tuple[str, int, float]]
    ) -> list[Found]:
        async with self.client.pipeline(transaction=False) as pipe:
            for session_id, seq, _ in nearest:
                pipe.hmget(self.keys.message(SessionKey(tenant, session_id), seq), FIELDS)
            messages: list[Fields] = await pipe.execute()
        return [
            (session_id, fields, score)
            for (session_id, _, score), fields in zip(nearest, messages, strict=True)
            if fields[0] is not None  # deleted meanwhile
        ]

    # -- embedding ----------------------------------------------------------------------

    async def embedding_backlog(self, limit: int) -> list[Pending]:
        if limit <= 0:
            return []
        members = await self.client.zrange(self.keys.embed(), 0, limit - 1)
        entries = [key_of_embed_member(m) for m in cast(list[bytes], members)]
        async with self.client.pipeline(transaction=False) as pipe:
            for key, seq in entries:
                # The incarnation is read before the message: a message read after its session
                # was recreated is then paired with the old incarnation, and skipped on store.
                pipe.hget(self.keys.session(key), "incarnation")
                pipe.hmget(self.keys.message(key, seq), FIELDS)
            replies: list[Any] = await pipe.execute()
        return [
            (key, incarnation.decode(), fields)
            for (key, _), incarnation, fields in zip(
                entries, replies[::2], replies[1::2], strict=True
            )
            if incarnation is not None and fields[0] is not None  # deleted meanwhile
        ]

    async def store_vectors(
        self, items: Sequence[tuple[PendingEmbedding, Sequence[float]]], model: str
    ) -> None:
        """Fix (first time) or check the embedding space, then store each vector atomically."""
        if not items:
            return
        dimensions = sorted({len(v) for _, v in items})
        if len(dimensions) != 1:
            raise EmbeddingMismatch(f"vectors of different dimensions in one batch: {dimensions}")
        await self._ensure_vector_index(await self._claim_space(model, dimensions[0]))
        k = self.keys
        calls = []
        for item, vector in items:
            key, seq = item.key, item.message.seq
            calls.append(
                self.scripts.store_vector(
                    keys=[k.session(key), k.message(key, seq), k.vector(key, seq), k.embed()],
                    args=[item.incarnation, normalised(vector), k.embed_member(key, seq)],
                )
            )
        await asyncio.gather(*calls)  # made together, they share pipelines (redis_batches)
