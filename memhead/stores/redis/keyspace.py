"""Every Redis key name memhead uses, built here and nowhere else.

Layout, with ``P`` the prefix (default ``memhead``) and ``q()`` percent-encoding (every byte
outside ``A-Z a-z 0-9 - . _ ~`` becomes ``%XX``, so an encoded part holds no ``:``, ``{``,
``}``, space or non-ASCII byte and distinct ids stay distinct)::

    P:session:{q(tenant):q(session)}        hash: the session record, lease included
    P:msg:{q(tenant):q(session)}:<seq>      hash per message (role, content, user_tag, ...)
    P:vec:{q(tenant):q(session)}:<seq>      hash: the message's vector (+ its filter fields)
    P:cid:{q(tenant):q(session)}            hash: client id -> seq
    P:ns:q(tenant):q(namespace)             zset: session id, score updated_at
    P:recent:q(tenant)                      zset (score 0): listing member per session
    P:user:q(tenant):q(user_id)             zset (score 0): listing member per session
    P:due                                   zset: due member, score due time
    P:embed                                 zset: embed member per message without a vector,
                                            score the append time (the embedding backlog)
    P:embedding_space                       string: JSON {model, dimensions} of the vectors
    P:embedding_reset                       string: set while a reset of the vectors runs
    P:schema                                string: layout version
    P:written                               zset: due member per session without its own
                                            TTL, score updated_at (retention)
    P:expires                               zset: due member per session with its own TTL,
                                            score updated_at + TTL (retention)
    P:job:<name>                            string: the owner of a store-wide job's lease
    P:<upgrade>_ready                       string: set once an upgrade's backfill is done
                                            (retention, user_tags, item_filters)
    P:iorder:<scope>                        zset (score 0): item order members under a prefix
    P:apikey:<sha256 of key>                hash: an API key's record
    P:apikeys                               hash: API key id -> sha256 of the key
    P:idx, P:vidx:<dimensions>              search indexes (not keys) over P:msg:, P:vec:
    P:item:{id}                             hash: a memory item's record (``item_records``)
    P:itext:{id}                            hash: its keyword entry (only when it has text)
    P:ivec:{id}                             hash: its vector
    P:iidx, P:itidx, P:ividx:<dimensions>   search indexes over P:item:, P:itext:, P:ivec:

An item's ``id`` is ``q(tenant):q(label1).q(label2)...:q(key)`` (labels never hold ``.``, and
``q`` never yields ``:``), so it names the item exactly and the item's three keys share a slot.

The kind comes right after the prefix so that a search index covers exactly one kind of hash
(``FT.CREATE ... ON HASH PREFIX 1 P:msg:``). Every key of a session carries the same hash tag
``{q(tenant):q(session)}``, so its keys share one cluster slot.

An embed member is the due member, ``:`` and the zero-padded seq (``t:s:000000000007``), so
that messages appended at the same time come out of the backlog in seq order.

A listing member is the zero-padded ``updated_at`` followed by the session id, so that
``ZRANGE ... BYLEX`` orders by ``(updated_at, id)`` and a cursor is an exact lex bound.
The Lua scripts rebuild the namespace/user keys and listing members of a session's *old*
state; ``lua/keys.lua`` (``LUA_HELPERS``) does that with the same rules as the Python below
(tests compare them).
"""

from __future__ import annotations

from importlib.resources import files
from urllib.parse import quote, unquote

from memhead.errors import ConfigError
from memhead.models import ItemKey, SessionKey

LAYOUT_VERSION = 2
UPDATED_AT_DIGITS = 20
SEQ_DIGITS = 12

LUA_HELPERS = (files("memhead.stores.redis") / "lua" / "keys.lua").read_text(encoding="utf-8")
"""The Lua twins of ``q``, ``listing_member`` and ``Keys.embed_member`` (``lua/keys.lua``)."""


def q(value: str) -> str:
    """Percent-encode one part of a key; injective, and never yields ``:``, ``{`` or ``}``."""
    return quote(value, safe="")


def listing_member(updated_at: int, session_id: str) -> str:
    return f"{updated_at:0{UPDATED_AT_DIGITS}d}{session_id}"


def session_id_of_member(member: bytes) -> str:
    return member[UPDATED_AT_DIGITS:].decode()


def key_of_due_member(member: bytes) -> SessionKey:
    tenant, session_id = member.decode().split(":")
    return SessionKey(unquote(tenant), unquote(session_id))


def key_of_embed_member(member: bytes) -> tuple[SessionKey, int]:
    """The session and seq of a message in the embedding backlog."""
    tenant, session_id, seq = member.decode().split(":")
    return SessionKey(unquote(tenant), unquote(session_id)), int(seq)


def item_id(key: ItemKey) -> str:
    """The item's part of its key names (see the module docstring)."""
    return f"{q(key.tenant)}:{'.'.join(q(label) for label in key.namespace)}:{q(key.key)}"


def item_key_of_id(item_id: str) -> ItemKey:
    tenant, namespace, key = item_id.split(":")
    return ItemKey(unquote(tenant), tuple(unquote(n) for n in namespace.split(".")), unquote(key))


class Keys:
    """Key names under one prefix; tests isolate themselves by giving each a prefix."""

    def __init__(self, prefix: str = "memhead") -> None:
        if not prefix or any(c in prefix for c in "{}*?[]\\"):
            raise ConfigError(f"invalid Redis key prefix {prefix!r}: no braces or glob characters")
        self.prefix = prefix

    # -- one session (all under one hash tag) ------------------------------------------

    @staticmethod
    def due_member(key: SessionKey) -> str:
        """The session's member in the due zset, also the content of its hash tag."""
        return f"{q(key.tenant)}:{q(key.session_id)}"

    def tag(self, key: SessionKey) -> str:
        return "{" + self.due_member(key) + "}"

    def session(self, key: SessionKey) -> str:
        return f"{self.prefix}:session:{self.tag(key)}"

    def session_of_member(self) -> tuple[str, str]:
        """Head and tail that turn a due member into its session key (``head .. m .. tail``)."""
        return f"{self.prefix}:session:{{", "}"

    def message_prefix(self, key: SessionKey) -> str:
        """Message ``seq`` lives at this prefix followed by the decimal seq."""
        return f"{self.prefix}:msg:{self.tag(key)}:"

    def message(self, key: SessionKey, seq: int) -> str:
        return f"{self.message_prefix(key)}{seq}"

    def vector_prefix(self, key: SessionKey) -> str:
        """The vector of message ``seq`` lives at this prefix followed by the decimal seq."""
        return f"{self.prefix}:vec:{self.tag(key)}:"

    def vector(self, key: SessionKey, seq: int) -> str:
        return f"{self.vector_prefix(key)}{seq}"

    def client_ids(self, key: SessionKey) -> str:
        return f"{self.prefix}:cid:{self.tag(key)}"

    @classmethod
    def embed_member(cls, key: SessionKey, seq: int) -> str:
        """A message's member in the embedding backlog (``embed_member`` in ``LUA_HELPERS``)."""
        return f"{cls.due_member(key)}:{seq:0{SEQ_DIGITS}d}"

    # -- per tenant ---------------------------------------------------------------------

    def namespace_base(self, tenant: str) -> str:
        """A namespace listing key is this base followed by ``q(namespace)``."""
        return f"{self.prefix}:ns:{q(tenant)}:"

    def namespace(self, tenant: str, namespace: str) -> str:
        return self.namespace_base(tenant) + q(namespace)

    def recent(self, tenant: str) -> str:
        return f"{self.prefix}:recent:{q(tenant)}"

    def user_base(self, tenant: str) -> str:
        """A user listing key is this base followed by ``q(user_id)``."""
        return f"{self.prefix}:user:{q(tenant)}:"

    def user(self, tenant: str, user_id: str) -> str:
        return self.user_base(tenant) + q(user_id)

    # -- global -------------------------------------------------------------------------

    def due(self) -> str:
        return f"{self.prefix}:due"

    def schema(self) -> str:
        return f"{self.prefix}:schema"

    def embed(self) -> str:
        """The embedding backlog: messages without a vector, oldest first."""
        return f"{self.prefix}:embed"

    def embedding_space(self) -> str:
        """The model and dimensions of every stored vector, fixed by the first one."""
        return f"{self.prefix}:embedding_space"

    def embedding_reset(self) -> str:
        """Present while a reset of the vectors (``memhead reindex``) is not complete."""
        return f"{self.prefix}:embedding_reset"

    def search_index(self) -> str:
        """The keyword index (``FT.CREATE``) over the message hashes; an index, not a key."""
        return f"{self.prefix}:idx"

    def vector_index(self, dimensions: int) -> str:
        """The vector index over the vector hashes; not a key."""
        return f"{self.prefix}:vidx:{dimensions}"

    def messages_index_prefix(self) -> str:
        """The key prefix every message hash (and nothing else) has, for ``FT.CREATE``."""
        return f"{self.prefix}:msg:"

    def vectors_index_prefix(self) -> str:
        """The key prefix every vector hash (and nothing else) has, for ``FT.CREATE``."""
        return f"{self.prefix}:vec:"

    # -- memory items -------------------------------------------------------------------

    def item(self, key: ItemKey) -> str:
        """Hash: the item's record (value, times, revision, its index fields)."""
        return f"{self.prefix}:item:{{{item_id(key)}}}"

    def item_text(self, key: ItemKey) -> str:
        """Hash: the item's keyword entry, written only by a put that changes its text."""
        return f"{self.prefix}:itext:{{{item_id(key)}}}"

    def item_vector(self, key: ItemKey) -> str:
        return f"{self.prefix}:ivec:{{{item_id(key)}}}"

    def item_set(self, key: ItemKey) -> list[str]:
        """The keys the item scripts take, in the order they expect them."""
        return [self.item(key), self.item_text(key), self.item_vector(key)]

    def item_of(self, name: bytes | str) -> ItemKey:
        """The item whose record, keyword entry or vector key is ``name``."""
        text = name.decode() if isinstance(name, bytes) else name
        return item_key_of_id(text[text.index("{") + 1 : text.rindex("}")])

    def item_order_base(self) -> str:
        """A prefix's order set is this base followed by its ``item_records.scope_tag``."""
        return f"{self.prefix}:iorder:"

    def item_order(self, scope: str) -> str:
        return self.item_order_base() + scope

    def items_index_prefix(self) -> str:
        return f"{self.prefix}:item:"

    def item_texts_index_prefix(self) -> str:
        return f"{self.prefix}:itext:"

    def item_vectors_index_prefix(self) -> str:
        return f"{self.prefix}:ivec:"

    def item_index(self) -> str:
        """The index over the item records (scope, expiry, order); not a key."""
        return f"{self.prefix}:iidx"

    def item_text_index(self) -> str:
        """The keyword index over the items' keyword entries; not a key."""
        return f"{self.prefix}:itidx"

    def item_vector_index(self, dimensions: int) -> str:
        """The vector index over the items' vectors; not a key."""
        return f"{self.prefix}:ividx:{dimensions}"

    def write_set(self, key: SessionKey) -> list[str]:
        """The keys the append and delete scripts take, in the order they expect them."""
        return [
            self.session(key),
            self.client_ids(key),
            self.due(),
            self.recent(key.tenant),
            self.embed(),
            self.written(),
            self.expires(),
        ]

    # -- data lifecycle (issue 20) -----------------------------------------------------

    def written(self) -> str:
        """Sessions that expire by the default TTL, by last write (``updated_at``)."""
        return f"{self.prefix}:written"

    def expires(self) -> str:
        """Sessions with their own positive TTL, by expiry time."""
        return f"{self.prefix}:expires"

    def job(self, name: str) -> str:
        """The lease of a store-wide job (the retention sweep)."""
        return f"{self.prefix}:job:{q(name)}"

    def ready(self, upgrade: str) -> str:
        """Set once ``upgrade`` (``retention``, ``user_tags``, ``item_filters``) has given
        what was stored before it what it adds (its backfill)."""
        return f"{self.prefix}:{upgrade}_ready"

    def recent_base(self) -> str:
        """A tenant's recent listing is this base followed by ``q(tenant)``."""
        return f"{self.prefix}:recent:"

    def api_key(self, key_hash: str) -> str:
        """Hash: an API key's record, under the SHA-256 of the key."""
        return f"{self.prefix}:apikey:{key_hash}"

    def api_keys(self) -> str:
        """Hash: API key id -> SHA-256 of the key (the list of keys)."""
        return f"{self.prefix}:apikeys"

    def match_all(self) -> str:
        """A ``SCAN MATCH`` pattern for every key under this prefix."""
        return f"{self.prefix}:*"
