"""URLs fit to be logged or shown: every credential they may carry replaced by ``***``.

A store or provider URL can hold a secret in three places: the password of its user info
(``redis://user:secret@host``, ``redis://:secret@host``, or a token as the user name:
``https://token@host``), a query parameter
(``redis://host/0?password=secret``, ``...?token=...``), or, for URLs that do not parse,
anywhere. Every URL memhead logs or shows goes through ``redact_url``.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlsplit

MASK = "***"
SECRET_PARAMS = ("pass", "pwd", "secret", "token", "key", "auth", "cred", "sig")
"""A query parameter whose name contains one of these is a credential (``password``,
``api_key``, ``access_token``, ``X-Amz-Signature``, ...)."""


def redact_url(url: str) -> str:
    """``url`` with any password and any credential-like query parameter masked. Never
    raises: a string that does not parse as a URL is masked after its scheme."""
    try:
        parts = urlsplit(url)
        netloc = _netloc(parts.netloc)
        query = _query(parts.query)
    except ValueError:
        scheme, sep, _ = url.partition("://")
        return f"{scheme}{sep}{MASK}" if sep else MASK
    # joined by hand: urlunsplit drops the empty host of ``sqlite:///file.db``
    sep = "://" if "://" in url else ":"
    head = f"{parts.scheme}{sep}{netloc}" if parts.scheme else netloc
    tail = (f"?{query}" if query else "") + (f"#{parts.fragment}" if parts.fragment else "")
    return head + parts.path + tail


def _netloc(netloc: str) -> str:
    creds, at, host = netloc.rpartition("@")
    if not at:
        return netloc
    user, colon, _ = creds.partition(":")
    # user info without a password is usually a token on its own (``https://<token>@host``)
    return f"{user}:{MASK}@{host}" if colon else f"{MASK}@{host}"


def _query(query: str) -> str:
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    return "&".join(
        f"{quote(name, safe='')}={MASK if _secret(name) else quote(value, safe='')}"
        for name, value in pairs
    )


def _secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SECRET_PARAMS)
