"""API keys and the tenant a request acts for.

A key is ``mh_<id>_<secret>``: 128 random bits of secret, shown once at creation; the store
keeps only its SHA-256 (a fast hash is right for random keys of this strength: there is
nothing to brute-force by dictionary). Every request looks its key up in the store, so a
revocation takes effect at once on every process.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import secrets

from starlette.requests import Request

from memhead.errors import InvalidRequest, Unauthorized
from memhead.models import ApiKey, now_ms
from memhead.stores.roles import KeyStore

log = logging.getLogger("memhead.auth")

PREFIX = "mh_"
KEY_ID = re.compile(r"mh_([0-9a-f]{12})_")
CREDENTIAL_HEADERS = ("authorization", "x-metal-api-key", "x-api-key")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_key(store: KeyStore, tenant: str, name: str) -> tuple[ApiKey, str]:
    """Create a key for ``tenant``; returns its record and the key (never stored)."""
    if not tenant:
        raise ValueError("tenant must not be empty")
    key_id = secrets.token_hex(6)
    key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(24)}"
    record = ApiKey(key_id, tenant, name, now_ms())
    await store.create_key(record, key_hash=hash_key(key))
    return record, key


def presented_key(request: Request) -> str | None:
    """The key a request carries: ``Authorization: Bearer <key>``, ``x-api-key`` (what MCP
    hosts and API gateways are often configured with), ``x-metal-api-key``, or the password
    of HTTP Basic auth (so a client that cannot set headers, like LangChain's
    ``MotorheadMemory`` with a self-hosted URL, can put the key in its URL:
    ``http://key:<key>@host:8080``). Two headers of one kind are refused (400): which one
    a proxy or the client meant is anyone's guess."""
    for name in CREDENTIAL_HEADERS:
        if len(request.headers.getlist(name)) > 1:
            raise InvalidRequest(f"send one {name} header, not several")
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            _, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return password or None
    return request.headers.get("x-api-key") or request.headers.get("x-metal-api-key") or None


class KeyTenancy:
    """Resolves each request to its key's tenant; 401 without a live key."""

    def __init__(self, store: KeyStore) -> None:
        self.store = store

    async def __call__(self, request: Request) -> str:
        key = presented_key(request)
        if key is None:
            refused(request, "no API key")
            raise Unauthorized(
                "missing API key: send 'Authorization: Bearer <key>', 'x-api-key' or "
                "'x-metal-api-key'"
            )
        tenant = await self.store.tenant_for_key(hash_key(key))
        if tenant is None:
            refused(request, f"key {key_label(key)}, unknown or revoked")
            raise Unauthorized("invalid or revoked API key")
        return tenant


def refused(request: Request, why: str) -> None:
    """One WARNING per refused request, so that a client which swallows its 401s (LangChain's
    ``MotorheadMemory`` does) still shows up in the server's log."""
    client = request.client.host if request.client else "?"
    # The path as sent (still percent-encoded), so that no decoded newline can forge a line.
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode("unicode_escape")
    path = raw.decode("ascii", "backslashreplace")
    log.warning("refused %s %s from %s: %s", request.method, path, client, why)


def key_label(key: str) -> str:
    """What a log line may say about a key: its id (``mh_<id>_...``), never the secret."""
    found = KEY_ID.match(key)
    return f"mh_{found.group(1)}_..." if found else "(not a memhead key)"
