"""memhead: a memory server for LLM applications, compatible with Motörhead."""

from __future__ import annotations

__version__ = "0.1.0"

from memhead.app import create_app
from memhead.settings import Settings, load_settings

__all__ = ["Settings", "__version__", "create_app", "load_settings"]
