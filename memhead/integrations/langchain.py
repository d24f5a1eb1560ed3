"""LangChain's chat history over memhead: ``pip install 'memhead[langchain]'``.

    from langchain_core.runnables.history import RunnableWithMessageHistory
    from memhead.client import Memhead
    from memhead.integrations.langchain import MemheadChatMessageHistory

    mh = Memhead("http://127.0.0.1:8080")
    chain = RunnableWithMessageHistory(
        prompt | model,
        lambda session_id: MemheadChatMessageHistory(session_id, client=mh),
        input_messages_key="input",
        history_messages_key="history",
    )

What a chain reads is memhead's memory: the running summary of older messages (a leading
``SystemMessage``) and the window of recent ones, so the prompt stays bounded however long the
conversation runs. ``window_only=False`` reads the whole stored history instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from memhead.client import AsyncMemhead, Memhead, Message, MessagePage
from memhead.client.types import Memory

SUMMARY_TEMPLATE = "Summary of the conversation before the messages that follow:\n{summary}"
ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}
EXTRAS = ("tool_calls", "tool_call_id", "name")
"""What a message carries besides role and text that a prompt needs back (an assistant's
tool calls and the answers to them), kept in the stored message's metadata."""
PAGE = 1000


class MemheadChatMessageHistory(BaseChatMessageHistory):
    """One memhead session as a LangChain chat history, sync and async.

    Pass a ``client`` (``Memhead``) and/or ``async_client`` (``AsyncMemhead``) to share
    connections across sessions (the way to go when ``RunnableWithMessageHistory`` builds a
    history per call); a missing one is built from the other's URL and key, or from
    ``base_url`` / ``api_key`` (defaults: ``MEMHEAD_BASE_URL`` / ``MEMHEAD_API_KEY``).
    """

    def __init__(
        self,
        session_id: str,
        *,
        client: Memhead | None = None,
        async_client: AsyncMemhead | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        window_only: bool = True,
        summary_template: str = SUMMARY_TEMPLATE,
    ) -> None:
        self.session_id = session_id
        self.window_only = window_only
        self.summary_template = summary_template
        self._client = client
        self._async_client = async_client
        given = client or async_client
        self._base_url = base_url or (given.base_url if given else None)
        self._api_key = api_key or (given.api_key if given else None)

    @property
    def client(self) -> Memhead:
        if self._client is None:
            self._client = Memhead(self._base_url, api_key=self._api_key)
        return self._client

    @property
    def async_client(self) -> AsyncMemhead:
        if self._async_client is None:
            self._async_client = AsyncMemhead(self._base_url, api_key=self._api_key)
        return self._async_client

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """The summary (a ``SystemMessage``, when there is one) then the window, oldest
        first; with ``window_only=False``, every stored message, oldest first."""
        if self.window_only:
            return self._from_memory(self.client.get_memory(self.session_id))
        pages = [self.client.list_messages(self.session_id, limit=PAGE)]
        while (before := pages[-1].next_before_seq) is not None:
            pages.append(self.client.list_messages(self.session_id, before_seq=before, limit=PAGE))
        return _from_pages(pages)

    async def aget_messages(self) -> list[BaseMessage]:
        """``messages``, without blocking the event loop."""
        mh = self.async_client
        if self.window_only:
            return self._from_memory(await mh.get_memory(self.session_id))
        pages = [await mh.list_messages(self.session_id, limit=PAGE)]
        while (before := pages[-1].next_before_seq) is not None:
            pages.append(await mh.list_messages(self.session_id, before_seq=before, limit=PAGE))
        return _from_pages(pages)

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append ``messages`` in one request; a message's ``id`` (else a generated one)
        is its client id, so a retried append stores nothing twice."""
        if messages:
            self.client.add_messages(self.session_id, [to_memhead(m) for m in messages])

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        if messages:
            await self.async_client.add_messages(self.session_id, [to_memhead(m) for m in messages])

    def clear(self) -> None:
        """Delete the session: its messages, summary and record."""
        self.client.delete_session(self.session_id)

    async def aclear(self) -> None:
        await self.async_client.delete_session(self.session_id)

    def _from_memory(self, memory: Memory) -> list[BaseMessage]:
        window = [to_langchain(m) for m in reversed(memory.messages)]
        if not memory.summary:
            return window
        return [SystemMessage(self.summary_template.format(summary=memory.summary)), *window]


def _from_pages(pages: list[MessagePage]) -> list[BaseMessage]:
    return [to_langchain(m) for page in reversed(pages) for m in reversed(page.messages)]


def to_memhead(message: BaseMessage) -> dict[str, Any]:
    """A LangChain message as a memhead message (``{role, content, id?, metadata?}``)."""
    role = message.role if isinstance(message, ChatMessage) else ROLES.get(message.type)
    body: dict[str, Any] = {"role": role or message.type, "content": message.text}
    if message.id:
        body["id"] = message.id
    extras = {k: getattr(message, k) for k in EXTRAS if getattr(message, k, None)}
    if extras:
        body["metadata"] = {"langchain": extras}
    return body


def to_langchain(message: Message) -> BaseMessage:
    """A stored message as the LangChain message it was (or would be)."""
    extras: dict[str, Any] = (message.metadata or {}).get("langchain") or {}
    common: dict[str, Any] = {"content": message.content, "id": message.id}
    if message.role in ("user", "human"):
        return HumanMessage(**common, name=extras.get("name"))
    if message.role in ("assistant", "ai"):
        return AIMessage(
            **common, name=extras.get("name"), tool_calls=extras.get("tool_calls") or []
        )
    if message.role == "system":
        return SystemMessage(**common, name=extras.get("name"))
    if message.role == "tool" and "tool_call_id" in extras:
        return ToolMessage(**common, tool_call_id=extras["tool_call_id"], name=extras.get("name"))
    return ChatMessage(**common, role=message.role)
