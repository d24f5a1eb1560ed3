"""What the MCP tools return: pydantic models, from which the SDK derives each tool's output
schema, with descriptions a model reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class Appended(BaseModel):
    session_id: str
    seqs: list[int] = Field(description="The position each message got in the session.")
    message_count: int


class Hit(BaseModel):
    kind: Literal["message", "memory"] = Field(
        description="What was found: 'message' (a message of a conversation) or 'memory' "
        "(a memory item, saved with remember or through the item API)."
    )
    content: str = Field(description="The message's text, or the memory's content.")
    score: float = Field(description="Higher is better; comparable within one search.")
    created_at: datetime = Field(
        description="When the message was written, or the memory last saved."
    )
    session_id: str | None = Field(None, description="Messages: the session it belongs to.")
    seq: int | None = Field(None, description="Messages: its position in that session.")
    role: str | None = Field(None, description="Messages: who wrote it.")
    namespace: list[str] | None = Field(
        None, description="Memories: the namespace it is stored under (forget takes it)."
    )
    key: str | None = Field(None, description="Memories: its key in that namespace.")
    value: dict[str, Any] | None = Field(
        None, description="Memories: the whole stored value (content and any metadata)."
    )


class Hits(BaseModel):
    mode: str = Field(description="The search actually run: hybrid, vector or keyword.")
    hits: list[Hit] = Field(description="Best first, messages and memories together.")


class SessionInfo(BaseModel):
    session_id: str
    user_id: str | None
    message_count: int
    updated_at: datetime


class Sessions(BaseModel):
    sessions: list[SessionInfo] = Field(description="Most recently updated first.")


class Deleted(BaseModel):
    session_id: str
    deleted: bool = Field(description="False when there was no such session.")


class Remembered(BaseModel):
    namespace: list[str] = Field(description="Where the memory is stored.")
    key: str = Field(description="Its key there: pass it to remember again to update it.")


class Forgotten(BaseModel):
    namespace: list[str]
    key: str
    deleted: bool = Field(description="False when there was no such memory.")
