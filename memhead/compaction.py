"""Folding the oldest unsummarized messages of one session into its running summary.

The invariants (2-4 in ``docs/architecture.md``): every message is either in the window
(``seq > upto_seq``) or covered by the summary, never both; the commit is a compare-and-set
against the summary version and the session's incarnation read at the start, so a context
written or a DELETE made meanwhile wins; appends made meanwhile are untouched (their seqs are
above the new ``upto_seq``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from memhead.errors import ProviderFailure
from memhead.models import Message, Session, SessionKey
from memhead.providers.base import LLM
from memhead.stores.roles import CompactionStore
from memhead.tokens import TokenCounter

log = logging.getLogger("memhead.compaction")

SYSTEM_PROMPT = """You keep the long-term memory of an assistant: a running summary of its \
conversation with a user. You are given the current summary (it may be empty) and the next \
lines of the conversation, oldest first, each prefixed by the speaker's role.

Write the new summary:
- keep every fact of the current summary that the new lines do not contradict;
- add what is worth remembering from the new lines: names, relationships, preferences, \
plans, decisions, dates, numbers, promises and open questions;
- leave out greetings, small talk and wording;
- write concise third-person prose, with no preamble and no headings.

If there is no current summary and the new lines hold nothing worth remembering, answer \
exactly NONE. Answer with the summary only."""


def render_prompt(summary: str | None, lines: Sequence[str]) -> str:
    previous = summary if summary else "(empty)"
    return f"Current summary:\n{previous}\n\nNew lines:\n" + "\n".join(lines) + "\n\nNew summary:"


def is_none_answer(text: str) -> bool:
    """Motörhead stored a literal NONE as the summary; we keep the previous one instead."""
    return text.strip().strip(".").upper() == "NONE"


def chunk_lines(
    messages: Sequence[Message], counter: TokenCounter, budget: int
) -> list[tuple[list[str], int]]:
    """Group messages oldest first into chunks of at most ``budget`` tokens.

    Returns ``(lines, last seq)`` per chunk. A message larger than the budget on its own is
    truncated for the prompt (it stays whole in the store), so it can never block the session.
    """
    chunks: list[tuple[list[str], int]] = []
    lines: list[str] = []
    used = 0
    for message in messages:
        line = counter.truncate(f"{message.role}: {message.content}", budget)
        cost = counter.count(line)
        if lines and used + cost > budget:
            chunks.append((lines, message.seq - 1))
            lines, used = [], 0
        lines.append(line)
        used += cost
    if lines:
        chunks.append((lines, messages[-1].seq))
    return chunks


@dataclass(frozen=True, slots=True)
class Outcome:
    committed: bool
    upto_seq: int
    calls: int
    error: str | None = None
    tokens: int = 0


class Compactor:
    """Compacts one session at a time; the worker decides which and when."""

    def __init__(
        self,
        store: CompactionStore,
        llm: LLM,
        counter: TokenCounter,
        *,
        window: int,
        budget: int,
        clock: Callable[[], int],
    ) -> None:
        self.store = store
        self.llm = llm
        self.counter = counter
        self.window = window
        self.budget = budget
        self.clock = clock

    async def compact(self, key: SessionKey) -> Outcome:
        """Summarize everything but the newest ``window // 2`` messages, chunk by chunk.

        On a provider failure the chunks already summarized are still committed.
        """
        session = await self.store.get_session(key)
        if session is None:
            return Outcome(False, 0, 0)
        target = session.last_seq - self.window // 2
        if session.unsummarized <= self.window or target <= session.upto_seq:
            # Nothing to fold (e.g. a context write reset the state): commit the state as it
            # is, which clears the session's due marker.
            return await self._commit(key, session, session.summary, session.upto_seq, 0, 0)
        messages = await self.store.span(key, after_seq=session.upto_seq, through_seq=target)
        summary, upto, tokens, calls = session.summary, session.upto_seq, 0, 0
        for lines, last_seq in chunk_lines(messages, self.counter, self.budget):
            try:
                answer = await self.llm.complete(SYSTEM_PROMPT, render_prompt(summary, lines))
            except ProviderFailure as exc:
                committed = (
                    calls > 0
                    and (await self._commit(key, session, summary, upto, tokens, calls)).committed
                )
                return Outcome(committed, upto, calls, exc.message, tokens if committed else 0)
            calls += 1
            tokens += answer.total_tokens
            if not is_none_answer(answer.text):
                summary = answer.text.strip()
            upto = last_seq
        return await self._commit(key, session, summary, upto, tokens, calls)

    async def _commit(
        self,
        key: SessionKey,
        session: Session,
        summary: str | None,
        upto: int,
        tokens: int,
        calls: int,
    ) -> Outcome:
        committed = await self.store.commit_summary(
            key,
            incarnation=session.incarnation,
            expected_version=session.summary_version,
            summary=summary,
            upto_seq=upto,
            tokens=tokens,
            now=self.clock(),
            window=self.window,
        )
        if not committed:
            log.info("session %r changed during compaction; it will be re-examined", key.session_id)
        return Outcome(committed, upto, calls, tokens=tokens if committed else 0)
