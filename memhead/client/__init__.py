"""A Python client for memhead's native API, blocking (``Memhead``) and asyncio
(``AsyncMemhead``), on httpx. It never imports the server.

    from memhead.client import Memhead

    with Memhead("http://127.0.0.1:8080", api_key="mh_...") as mh:
        mh.add_messages("chat-1", [{"role": "user", "content": "I moved to Lyon"}])
        memory = mh.get_memory("chat-1")
"""

from __future__ import annotations

from memhead.client.aio import AsyncMemhead
from memhead.client.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    InternalServerError,
    InvalidRequestError,
    MemheadError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    UnavailableError,
)
from memhead.client.sync import Memhead
from memhead.client.types import (
    Item,
    Memory,
    Message,
    MessagePage,
    MessageParam,
    Namespace,
    SearchHit,
    SearchItem,
    SearchMode,
    SearchResults,
    Session,
    SessionPage,
    SummaryStatus,
)

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncMemhead",
    "AuthenticationError",
    "ConflictError",
    "InternalServerError",
    "InvalidRequestError",
    "Item",
    "Memhead",
    "MemheadError",
    "Memory",
    "Message",
    "MessagePage",
    "MessageParam",
    "Namespace",
    "NotFoundError",
    "PermissionDeniedError",
    "ProviderError",
    "SearchHit",
    "SearchItem",
    "SearchMode",
    "SearchResults",
    "Session",
    "SessionPage",
    "SummaryStatus",
    "UnavailableError",
]
