"""Token counting for prompt budgeting: tiktoken when its files are on disk, else an estimate.

tiktoken fetches its encoding files from the internet on first use and caches them. A server
that may run without internet must not block on that download, so tiktoken is used only when
the file is already in its cache (``TIKTOKEN_CACHE_DIR``, ``DATA_GYM_CACHE_DIR``, or the
default ``<tmp>/data-gym-cache``) with the expected checksum; otherwise the estimate of
``TokenCounter`` is used.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import os
import tempfile
from pathlib import Path

import tiktoken

logger = logging.getLogger("memhead.tokens")

_BLOB = "https://openaipublic.blob.core.windows.net/encodings/"
_ENCODING_FILES: dict[str, tuple[str, str]] = {
    "cl100k_base": (
        _BLOB + "cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": (
        _BLOB + "o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}
"""The encodings of current chat models: (download URL, sha256) as tiktoken knows them."""

_FALLBACK_ENCODING = "cl100k_base"
"""Used for models tiktoken does not know (Llama, Mistral... behind compatible servers)."""

BYTES_PER_TOKEN = 3
"""The estimate's ratio. English averages about 4 bytes per token; code, digits and
non-Latin scripts come closer to 3 or less, so 3 overcounts ordinary text (a budget is
then used less fully) rather than undercounting and overflowing a context window."""

_BUDGETS: tuple[tuple[str, int], ...] = (
    ("gpt-4o", 12_000),
    ("gpt-4.1", 12_000),
    ("gpt-4-turbo", 12_000),
    ("gpt-5", 12_000),
    ("gpt-3.5-turbo", 3_000),
)
DEFAULT_BUDGET = 3_000
"""Budget for models not listed: safe for a 4k-8k context with room for the summary."""


class TokenCounter:
    """Counts and truncates text in tokens.

    With a tiktoken ``encoding`` the counts are exact for that encoding. Without one they are
    the estimate ``ceil(utf8_bytes / 3)`` (see ``BYTES_PER_TOKEN``): never below the true
    count for typical text, and ``truncate`` cuts at a UTF-8 character boundary.
    """

    def __init__(self, encoding: tiktoken.Encoding | None = None) -> None:
        self.encoding = encoding
        self.method = f"tiktoken {encoding.name}" if encoding else "estimate (utf-8 bytes / 3)"

    def count(self, text: str) -> int:
        """Tokens in ``text`` (special-token strings count as ordinary text)."""
        if self.encoding is None:
            return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN)
        return len(self.encoding.encode_ordinary(text))

    def truncate(self, text: str, max_tokens: int) -> str:
        """The longest start of ``text`` that counts at most ``max_tokens`` tokens."""
        if max_tokens <= 0:
            return ""
        if self.encoding is None:
            cut = text.encode("utf-8")[: max_tokens * BYTES_PER_TOKEN]
            return cut.decode("utf-8", errors="ignore")
        tokens = self.encoding.encode_ordinary(text)
        if len(tokens) <= max_tokens:
            return text
        keep = max_tokens
        while True:
            # A cut inside a multi-byte character is dropped, and re-encoding a prefix can
            # merge differently, so check the result and shrink until it fits.
            head = self.encoding.decode_bytes(tokens[:keep]).decode("utf-8", errors="ignore")
            if keep == 0 or self.count(head) <= max_tokens:
                return head
            keep -= 1


def cached_encoding(name: str) -> tiktoken.Encoding | None:
    """tiktoken's encoding ``name`` if its file is cached and intact; never downloads."""
    known = _ENCODING_FILES.get(name)
    path = _cache_dir()
    if known is None or path is None:
        return None
    url, sha256 = known
    file = path / hashlib.sha1(url.encode()).hexdigest()
    try:
        if hashlib.sha256(file.read_bytes()).hexdigest() != sha256:
            return None
    except OSError:
        return None
    return tiktoken.get_encoding(name)


def _cache_dir() -> Path | None:
    """tiktoken's cache directory, by its own rules (an empty setting disables the cache)."""
    for variable in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if variable in os.environ:
            value = os.environ[variable]
            return Path(value) if value else None
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def encoding_name(model: str) -> str:
    """The tiktoken encoding of ``model``; ``cl100k_base`` for models tiktoken does not know."""
    try:
        return tiktoken.encoding_name_for_model(model)
    except KeyError:
        return _FALLBACK_ENCODING


@functools.cache
def build_token_counter(model: str) -> TokenCounter:
    """The counter for ``model``, built (and its method logged) once per model name."""
    counter = TokenCounter(cached_encoding(encoding_name(model)))
    logger.info("token counting for %s: %s", model, counter.method)
    return counter


def default_budget(model: str) -> int:
    """Default tokens of new-message text per summarization call, from the model's context."""
    name = model.lower().rsplit("/", 1)[-1]
    for prefix, budget in _BUDGETS:
        if name.startswith(prefix):
            return budget
    return DEFAULT_BUDGET
