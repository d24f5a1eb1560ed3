"""A memory item's Redis record: its fields, how namespaces become index values, and back.

Three hashes per item (``keyspace``), each indexed by the query engine (``item_indexes``):

- the record ``P:item:{id}``: ``tenant``, ``ns`` (the namespace code, below), ``key``,
  ``value`` (compact JSON), ``created_at``, ``updated_at``, ``ttl_ms`` (when it has one),
  ``live_until`` (its expiry, ``NEVER`` without one), ``revision`` (a fresh id per put),
  ``indexed`` (``1`` when it has text), ``pending`` (``y`` while it has text and no vector),
  ``scope_tag`` and ``order``;
- the keyword entry ``P:itext:{id}``: ``text`` (folded as messages are, ``text.fold``),
  ``raw`` (the text as put, for the embedder) and ``scope_tag``;
- the vector ``P:ivec:{id}``: ``vector``, ``scope_tag`` and the ``revision`` it embeds.

The keyword entry is apart from the record because RediSearch 2.10 re-indexes a hash on any
write and counts the old copy in its BM25 statistics until its garbage collector runs: a
refresh of the expiry, which rewrites ``live_until``, must not skew the keyword ranking. A put
that keeps the text keeps the entry untouched for the same reason.

``scope_tag`` holds one TAG value per namespace prefix of the item, the empty one included
(``scope_tag``), so a prefix search is one TAG match. A value is a digest of the tenant and
the labels: labels may hold any character, TAG syntax included, and be long; a digest needs
no escaping and has a fixed size.

``ns`` is the namespace as the hex of each label's UTF-8, joined by ``.``, and ``order`` is
``NEVER - updated_at`` (zero-padded) + ``ns`` + ``-`` + the key's hex: byte order of ``ns``
is label-by-label order of namespaces (``.`` sorts before any hex digit, ``-`` before
``.``), so ``SORTBY order`` lists most recently updated first, ties by namespace then key.
The same ``order`` is the item's member (score 0) in the order set ``P:iorder:<scope>`` of
each of its prefixes, kept by the put and delete scripts: a listing without a filter reads
its page there (``ZRANGE``, lexicographic as ``SORTBY order``) instead of sorting the prefix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import orjson

from memhead.models import Item, ItemKey, Namespace

NEVER = 2**53
"""``live_until`` of an item without expiry (ms; a double holds it exactly)."""
ORDER_DIGITS = 16

RECORD_FIELDS = ("ns", "key", "value", "created_at", "updated_at", "ttl_ms", "live_until")
"""The fields ``record_item`` reads, in its order."""


def ns_code(namespace: Namespace) -> str:
    return ".".join(label.encode().hex() for label in namespace)


def namespace_of(code: bytes | str) -> Namespace:
    text = code.decode() if isinstance(code, bytes) else code
    return tuple(bytes.fromhex(part).decode() for part in text.split("."))


def scope_tag(tenant: str, prefix: Namespace) -> str:
    """The TAG value every item of ``tenant`` under ``prefix`` carries."""
    return hashlib.blake2b(orjson.dumps([tenant, *prefix]), digest_size=16).hexdigest()


def scope_tags(tenant: str, namespace: Namespace) -> str:
    """The ``scope_tag`` field of an item in ``namespace``: every prefix's value."""
    return ",".join(scope_tag(tenant, namespace[:n]) for n in range(len(namespace) + 1))


def order(updated_at: int, namespace: Namespace, key: str) -> str:
    return f"{NEVER - updated_at:0{ORDER_DIGITS}d}{ns_code(namespace)}-{key.encode().hex()}"


def key_of_order(tenant: str, member: bytes) -> ItemKey:
    """The item of ``tenant`` whose ``order`` is ``member``."""
    ns, key = member[ORDER_DIGITS:].decode().rsplit("-", 1)
    return ItemKey(tenant, namespace_of(ns), bytes.fromhex(key).decode())


def live_until(now: int, ttl_ms: int | None) -> int:
    return NEVER if ttl_ms is None else now + ttl_ms


def record_item(values: Sequence[bytes | None]) -> Item:
    """An item from the values of ``RECORD_FIELDS``."""
    ns, key, value, created, updated, ttl, until = values
    assert ns is not None and key is not None and value is not None and until is not None
    ttl_ms = None if ttl is None else int(ttl)
    return Item(
        namespace_of(ns),
        key.decode(),
        orjson.loads(value),
        int(created or 0),
        int(updated or 0),
        None if ttl_ms is None else int(float(until)),
        ttl_ms,
    )
