"""Example bodies for the OpenAPI document: one conversation (Ada asking about her kettle)
told through every route, so the examples read as one story in ``/docs``. Each one is a body
the server accepts or could answer (the tests send and validate them)."""

from __future__ import annotations

from typing import Any

SESSION_ID = "support-7f3a"
SUMMARY = "Ada ordered a blue kettle on Monday and asked when it ships."

# -- Motörhead shape ----------------------------------------------------------------------

MOTORHEAD_POSTS: dict[str, Any] = {
    "a chat turn": {
        "messages": [
            {"role": "Human", "content": "When does my blue kettle ship?"},
            {"role": "AI", "content": "It ships on Tuesday."},
        ]
    },
    "seed a summary": {
        "messages": [{"role": "user", "content": "Hello again!"}],
        "context": "Ada ordered a blue kettle on Monday.",
    },
}
MOTORHEAD_MEMORY: dict[str, Any] = {
    "messages": [
        {"role": "AI", "content": "It ships on Tuesday."},
        {"role": "Human", "content": "When does my blue kettle ship?"},
    ],
    "context": SUMMARY,
    "tokens": 412,
}
MOTORHEAD_QUERY: dict[str, Any] = {"text": "kettle order"}
MOTORHEAD_HITS: list[Any] = [
    {"role": "Human", "content": "I ordered a blue kettle on Monday.", "dist": 0.18},
    {"role": "AI", "content": "Your kettle is on its way.", "dist": 0.41},
]

# -- native shape -------------------------------------------------------------------------

SESSION: dict[str, Any] = {
    "id": SESSION_ID,
    "user_id": "ada",
    "metadata": {"channel": "web"},
    "namespace": "",
    "created_at": "2026-11-30T09:12:03.120Z",
    "updated_at": "2026-11-30T09:14:41.007Z",
    "message_count": 2,
    "upto_seq": 0,
    "last_error": None,
}
MESSAGES: list[Any] = [
    {
        "seq": 2,
        "role": "assistant",
        "content": "It ships on Tuesday.",
        "created_at": "2026-11-30T09:14:41.007Z",
        "id": "turn-2",
        "metadata": None,
    },
    {
        "seq": 1,
        "role": "user",
        "content": "When does my blue kettle ship?",
        "created_at": "2026-11-30T09:14:40.512Z",
        "id": "turn-1",
        "metadata": {"lang": "en"},
    },
]
APPEND: dict[str, Any] = {
    "messages": [
        {
            "role": "user",
            "content": "When does my blue kettle ship?",
            "id": "turn-1",
            "metadata": {"lang": "en"},
        },
        {"role": "assistant", "content": "It ships on Tuesday.", "id": "turn-2"},
    ]
}
MESSAGE_LIST: dict[str, Any] = {"messages": MESSAGES, "next_before_seq": None}
MEMORY: dict[str, Any] = {
    "messages": MESSAGES,
    "summary": None,
    "upto_seq": 0,
    "tokens": 0,
    "message_count": 2,
    "unsummarized": 2,
}
SUMMARY_STATE: dict[str, Any] = {
    "summary": SUMMARY,
    "upto_seq": 14,
    "tokens": 412,
    "unsummarized": 3,
    "last_compacted_at": "2026-11-30T09:20:00.000Z",
    "last_error": None,
    "attempts": 0,
    "next_attempt_at": None,
}
SESSION_PUT: dict[str, Any] = {"user_id": "ada", "metadata": {"channel": "web"}}
SESSION_LIST: dict[str, Any] = {"sessions": [SESSION], "next_cursor": None}
SEARCH: dict[str, Any] = {"query": "kettle delivery", "user_id": "ada", "limit": 5}
SEARCH_RESULT: dict[str, Any] = {
    "mode": "hybrid",
    "hits": [
        {
            "session_id": SESSION_ID,
            "seq": 1,
            "role": "user",
            "content": "When does my blue kettle ship?",
            "created_at": "2026-11-30T09:14:40.512Z",
            "metadata": {"lang": "en"},
            "score": 0.032,
            "retrievers": ["keyword", "vector"],
        }
    ],
}

# -- store (memory items, LangGraph's shape) ----------------------------------------------

ITEM_NAMESPACE = ["users", "ada"]
ITEM_VALUE: dict[str, Any] = {
    "text": "Ada prefers her kettle in blue and boils water for green tea at 80 °C.",
    "tags": ["kettle", "tea"],
    "rating": 5,
}
ITEM_PUT: dict[str, Any] = {
    "namespace": ITEM_NAMESPACE,
    "key": "kettle-preferences",
    "value": ITEM_VALUE,
    "index": ["text", "tags[*]"],
    "ttl": 43200,
}
ITEM: dict[str, Any] = {
    "namespace": ITEM_NAMESPACE,
    "key": "kettle-preferences",
    "value": ITEM_VALUE,
    "created_at": "2026-11-30T09:15:02.118Z",
    "updated_at": "2026-11-30T09:15:02.118Z",
    "expires_at": "2026-12-30T09:15:02.118Z",
}
ITEM_REF: dict[str, Any] = {"namespace": ITEM_NAMESPACE, "key": "kettle-preferences"}
ITEM_SEARCH: dict[str, Any] = {
    "namespace_prefix": ["users"],
    "query": "which kettle does Ada like",
    "filter": {"rating": {"$gte": 4}},
    "limit": 5,
}
ITEM_SEARCH_RESULT: dict[str, Any] = {"items": [{**ITEM, "score": 0.364}]}
NAMESPACES: dict[str, Any] = {"prefix": ["users"], "max_depth": 2, "limit": 100}
NAMESPACE_LIST: dict[str, Any] = {"namespaces": [ITEM_NAMESPACE, ["users", "grace"]]}
ITEM_NOT_FOUND = "no item 'kettle-preferences' in namespace ['users', 'ada']"

# -- operations ---------------------------------------------------------------------------

HEALTH: dict[str, Any] = {"status": "ok"}
READINESS: dict[str, Any] = {
    "status": "ok",
    "store": "sqlite",
    "llm": True,
    "embedding_backlog": 0,
    "embedding": {"embedded": 1280, "last_error": None, "attempts": 0, "next_attempt_at": None},
}
METRICS = """# HELP memhead_http_requests_total HTTP requests
# TYPE memhead_http_requests_total counter
memhead_http_requests_total{method="GET",route="/sessions",status="200"} 42.0
"""

# -- errors, by status --------------------------------------------------------------------

ERRORS: dict[str, str] = {
    "400": "messages: List should have at least 1 item",
    "401": "invalid or revoked API key",
    "404": f"session {SESSION_ID!r} not found",
    "413": "request body larger than 2097152 bytes",
    "422": "limit: Input should be less than or equal to 1000",
    "503": "Redis store unavailable: Error 111 connecting to localhost:6379. Connection refused.",
}
ERROR: dict[str, Any] = {"error": ERRORS["400"]}
