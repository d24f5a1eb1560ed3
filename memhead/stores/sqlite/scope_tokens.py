"""Scope tokens: the keyword index confines a search to its scope by an indexed token.

Each keyword row (``messages_fts``) holds, in its ``scope`` column, three tokens: one for its
tenant, one for its session's user (or for "no user" in that tenant) and one for its session,
each a short digest. A search matches ``scope:<token> AND (<terms>)``, so FTS5 intersects the
scope's posting list with the terms' and scores only the scope's rows, instead of every match
in the store before the JOINs drop the other tenants and users.

The tokens only accelerate: the search keeps its exact SQL conditions on the session's tenant,
user and id, so a digest collision or a stale token can cost time, never leak a row. The
``scope`` column's bm25() weight is 0, so it adds nothing to a score; but FTS5's bm25() takes
a row's length over all its columns, so the three tokens every row holds add 3 to each row's
length and to the average length: scores move slightly and near-ties can swap places (on the
LoCoMo development split, keyword-only recall@10 73.51 -> 73.36, @50 85.66 -> 85.57).
"""

from __future__ import annotations

import hashlib

from memhead.models import SearchScope
from memhead.retrieval import FTS_COLUMNS

TERM_COLUMNS = "{" + " ".join(FTS_COLUMNS) + "}"
"""The terms' column filter: a term equal to a scope token never matches by it."""


def _token(kind: str, *parts: str) -> str:
    # A letter first: FTS5 barewords and the tokenizer keep "t0a1..." as one token.
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8, person=kind.encode())
    return kind + digest.hexdigest()


def tenant_token(tenant: str) -> str:
    return _token("t", tenant)


def user_token(tenant: str, user_id: str | None) -> str:
    """The user's token; sessions without a user share their tenant's "no user" token."""
    return _token("n", tenant) if user_id is None else _token("u", tenant, user_id)


def session_token(tenant: str, session_id: str) -> str:
    return _token("s", tenant, session_id)


def row_tokens(tenant: str, session_id: str, user_id: str | None) -> str:
    """The ``scope`` column of a keyword row: always three tokens (an equal length for all)."""
    return " ".join(
        (tenant_token(tenant), user_token(tenant, user_id), session_token(tenant, session_id))
    )


def scope_token(scope: SearchScope) -> str:
    """The narrowest token that covers ``scope``."""
    if scope.session_id is not None:
        return session_token(scope.tenant, scope.session_id)
    if scope.user_id is not None:
        return user_token(scope.tenant, scope.user_id)
    return tenant_token(scope.tenant)


def scoped_match(scope: SearchScope, expression: str) -> str:
    """The FTS5 query: the scope's token AND the terms (``match_expression``) in their
    columns."""
    return f'scope : "{scope_token(scope)}" AND {TERM_COLUMNS} : ({expression})'
