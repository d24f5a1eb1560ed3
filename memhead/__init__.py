"""memhead: a memory server for LLM applications, compatible with Motörhead.

The names below are imported on first use (PEP 562), so that importing any part of memhead
(``memhead.models``, a store, the worker) does not import the web stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from memhead.app import create_app
    from memhead.settings import Settings, load_settings

__all__ = ["Settings", "__version__", "create_app", "load_settings"]

# The server is imported on first use, not here: ``memhead.client`` and
# ``memhead.integrations`` live in this package and must not pull in FastAPI.
_LAZY = {
    "create_app": "memhead.app",
    "Settings": "memhead.settings",
    "load_settings": "memhead.settings",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'memhead' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # found directly from now on
    return value
