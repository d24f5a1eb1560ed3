"""The storage contract, cut into roles named for who uses them; ``Store`` is their union.

Each consumer is typed with the role (or the few roles) it calls, so a new capability is a new
role here, a module per backend under ``stores/sqlite/`` and ``stores/redis/``, a line per
operation in each store class and in ``InstrumentedStore``, and a module under
``tests/contract/`` that every backend must pass.

Times are milliseconds since the epoch, passed in by the caller so that tests and the
worker control the clock. Every method either completes atomically or raises
``BackendUnavailable`` when the backend cannot be reached.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from memhead.models import (
    ApiKey,
    Hit,
    Memory,
    Message,
    NewMessage,
    PendingEmbedding,
    SearchScope,
    Session,
    SessionKey,
    SessionPatch,
)
from memhead.stores.data_roles import Retention, Transfer
from memhead.stores.item_roles import ItemStore


class Lifecycle(Protocol):
    """Opening, closing and checking a store: what the app, the CLI and the readiness probe use."""

    backend: str
    """Short name for logs and metrics, e.g. ``sqlite`` or ``redis``."""

    async def setup(self) -> None:
        """Create or migrate whatever the backend needs; safe to call any number of times."""

    async def close(self) -> None:
        """Release connections and threads."""

    async def ping(self) -> None:
        """Raise ``BackendUnavailable`` unless the backend answers."""

    async def check(self) -> list[str]:
        """Violations of the store's invariants, one line each (empty when sound): seqs
        contiguous from 1 to ``last_seq``, ``upto_seq <= last_seq``, no message, vector,
        keyword row or client id left without its session."""


class Sessions(Protocol):
    """Sessions and their messages: what ``MemoryService`` (and the compactor's reads) use."""

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
        """Append messages to a session, creating it, in one atomic operation.

        Each message gets the next ``seq``. A message whose ``client_id`` is already stored
        in the session is not stored again; the stored one is returned in its place.
        ``namespace`` (when given) sets the session's listing group; ``context`` (when not
        ``None``) replaces the summary and bumps its version. The session becomes due for
        compaction when more than ``window`` messages are unsummarized.
        """

    async def memory(self, key: SessionKey, window: int) -> Memory:
        """The session and its newest unsummarized messages (at most ``window``), newest first."""

    async def history(
        self, key: SessionKey, *, before_seq: int | None, limit: int
    ) -> list[Message]:
        """Stored messages with ``seq < before_seq`` (all when ``None``), newest first."""

    async def span(self, key: SessionKey, *, after_seq: int, through_seq: int) -> list[Message]:
        """Messages with ``after_seq < seq <= through_seq``, oldest first."""

    async def get_session(self, key: SessionKey) -> Session | None:
        """The session, or ``None`` when it does not exist."""

    async def put_session(self, key: SessionKey, patch: SessionPatch, *, now: int) -> Session:
        """Create the session or update the fields the patch sets."""

    async def delete_session(self, key: SessionKey) -> bool:
        """Delete the session and everything of it; ``False`` when nothing existed."""

    async def list_namespace(
        self, tenant: str, namespace: str, *, offset: int, limit: int
    ) -> list[str]:
        """Session ids of a listing group, least recently written first."""

    async def list_sessions(
        self,
        tenant: str,
        *,
        user_id: str | None,
        before: tuple[int, str] | None,
        limit: int,
        namespace: str | None = None,
    ) -> list[Session]:
        """Sessions, most recently updated first, after the cursor ``(updated_at, id)``;
        ``user_id`` and ``namespace`` (when not ``None``) keep only the matching ones."""


class CompactionQueue(Protocol):
    """Sessions due for compaction, their leases and the summary's compare-and-set: what the
    compaction worker uses."""

    async def due_sessions(self, *, now: int, limit: int) -> list[SessionKey]:
        """Sessions due for compaction now whose lease is free or expired, oldest due first."""

    async def acquire_lease(self, key: SessionKey, *, owner: str, now: int, ttl_ms: int) -> bool:
        """Take (or extend) the session's compaction lease unless another owner holds it."""

    async def release_lease(self, key: SessionKey, *, owner: str) -> None:
        """Give the lease back if ``owner`` still holds it."""

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
        """Compare-and-set the summary.

        Lands ``summary``, ``upto_seq``, ``version + 1`` and ``tokens += tokens`` and clears
        the failure status only if the session still has ``incarnation`` and its summary
        version is still ``expected_version``; otherwise changes nothing and returns ``False``.
        The session stays due when more than ``window`` messages remain unsummarized.
        """

    async def record_failure(
        self, key: SessionKey, *, incarnation: str, error: str, retry_at: int
    ) -> None:
        """Note a failed compaction: last error, attempts + 1, not due again before ``retry_at``."""


class SearchIndex(Protocol):
    """Keyword and vector search over stored messages: what ``SearchService`` uses."""

    async def keyword_search(
        self, scope: SearchScope, terms: Sequence[str], limit: int
    ) -> list[Hit]:
        """Messages in scope matching any of ``terms`` (already normalised words), best first
        by BM25 over the message's keyword row (``retrieval.keyword_fields``: the message, the
        previous message of its session, its day in words, weighted by
        ``retrieval.BM25_WEIGHTS``); ``score`` is the relevance (higher is better)."""

    async def vector_search(
        self, scope: SearchScope, vector: Sequence[float], limit: int
    ) -> list[Hit]:
        """Messages in scope by cosine similarity to ``vector`` (the ``score``), best first."""

    async def fetch(self, tenant: str, positions: Sequence[tuple[str, int]]) -> list[Hit]:
        """The messages at ``(session id, seq)`` positions of a tenant, in the order asked,
        skipping positions that hold no message; ``score`` is 0."""

    async def similarities(
        self, tenant: str, positions: Sequence[tuple[str, int]], vector: Sequence[float]
    ) -> list[float | None]:
        """The cosine similarity of ``vector`` to the stored vector of each ``(session id,
        seq)`` position of a tenant, in the order asked, in one round trip; ``None`` where no
        vector is stored. A ``vector`` of another dimension raises ``EmbeddingMismatch``."""


class EmbeddingQueue(Protocol):
    """Messages waiting for a vector, and storing their vectors: what the embedding worker uses."""

    async def embedding_backlog(self, *, limit: int) -> list[PendingEmbedding]:
        """Stored messages without a vector, oldest first."""

    async def store_vectors(
        self, items: Sequence[tuple[PendingEmbedding, Sequence[float]]], *, model: str
    ) -> None:
        """Store one vector per message (skipping messages of deleted sessions).

        The first call fixes the embedding model and dimension of the store; vectors of
        another dimension or model raise ``EmbeddingMismatch``."""

    async def embedding_space(self) -> tuple[str, int] | None:
        """The ``(model, dimensions)`` the stored vectors were made with (read afresh, as
        another process may have changed it), or ``None`` before the first vector and while
        a ``reset_vectors`` is incomplete (interrupted, or running)."""

    async def embedding_backlog_size(self) -> int:
        """How many stored messages have no vector."""

    async def reset_vectors(self, *, model: str, dimensions: int) -> None:
        """Drop every vector and the recorded model, for a reindex: every stored message is
        back in the backlog, and ``(model, dimensions)`` is recorded at once in place of the
        old space, so that a process still running the old model can store no vector from
        then on (its ``store_vectors`` raises ``EmbeddingMismatch``). Vectors of the new
        space stored meanwhile by other processes are kept or their messages requeued.
        Safe to repeat after an interruption."""


class KeyStore(Protocol):
    """API keys, stored by the SHA-256 of the key: what authentication and ``memhead keys`` use."""

    async def create_key(self, key: ApiKey, *, key_hash: str) -> None:
        """Store an API key's record under the SHA-256 of the key."""

    async def list_keys(self) -> list[ApiKey]:
        """Every API key's record, oldest first."""

    async def revoke_key(self, key_id: str, *, now: int) -> bool:
        """Revoke a key at once for every process; ``False`` when no live key has that id."""

    async def tenant_for_key(self, key_hash: str) -> str | None:
        """The tenant of a live key, or ``None`` (unknown or revoked)."""


class CompactionStore(Sessions, CompactionQueue, Protocol):
    """What compaction uses: the queue, and the session's state and messages it folds."""


class Store(
    Lifecycle,
    Sessions,
    CompactionQueue,
    SearchIndex,
    EmbeddingQueue,
    KeyStore,
    ItemStore,
    Retention,
    Transfer,
    Protocol,
):
    """Everything a backend implements (``SqliteStore``, ``RedisStore``)."""
