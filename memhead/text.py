"""What text and JSON memhead accepts from a client: the one set of rules every surface
(Motörhead routes, the native API, and later ones) applies before anything reaches a store.

- No string may hold a lone surrogate (``"\\udfff"`` is valid JSON but no valid text: it
  cannot be encoded as UTF-8, so no store can keep it).
- Names (roles, ids, user ids, namespaces) are single-line and bounded: no control
  characters (Unicode category Cc: NUL, newlines, escapes), at most a stated length.
- Free text (message content, summaries, queries) may hold any other character, NUL and
  newlines included: it is the user's text, stored and returned as sent.
- Numbers in JSON values are finite: ``NaN``, ``Infinity`` and ``1e400`` (which overflows to
  infinity) have no JSON form, so storing them would silently turn them into ``null``.

Breaking a rule raises ``ValueError`` (inside pydantic models: a validation error, a 4xx) or,
through ``check_name`` / ``check_text``, ``InvalidRequest`` (400).
"""

from __future__ import annotations

import math
import re
from functools import partial
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from memhead.errors import InvalidRequest

CONTROL = re.compile("[\u0000-\u001f\u007f-\u009f]")
"""Control characters (Unicode category Cc), refused in names."""
NAME_PATTERN = "^[^\u0000-\u001f\u007f-\u009f]+$"
"""``CONTROL``'s rule as a JSON Schema pattern, for the OpenAPI document."""
OPTIONAL_NAME_PATTERN = NAME_PATTERN.replace("+", "*")
"""The same rule for a name that may be empty (Motörhead's ``namespace``)."""
SURROGATE = re.compile("[\ud800-\udfff]")

ROLE_CHARS = 64
NAME_CHARS = 256
QUERY_CHARS = 10_000


def text_problem(value: str, *, max_chars: int | None = None, name: bool = False) -> str | None:
    """Why ``value`` is refused (``name``: under the stricter rules for names), or None."""
    if max_chars is not None and len(value) > max_chars:
        return f"longer than {max_chars} characters"
    if SURROGATE.search(value):
        return "holds a lone surrogate (not valid Unicode text)"
    if name and CONTROL.search(value):
        return "must not contain control characters"
    return None


def check_name(value: str, what: str, *, max_chars: int = NAME_CHARS) -> str:
    """``value`` as a name (single line, bounded), else ``InvalidRequest`` naming ``what``."""
    problem = text_problem(value, max_chars=max_chars, name=True)
    if problem is not None:
        raise InvalidRequest(f"{what} {problem}")
    return value


def check_text(value: str, what: str, *, max_chars: int | None = None) -> str:
    """``value`` as free text, else ``InvalidRequest`` naming ``what``."""
    problem = text_problem(value, max_chars=max_chars)
    if problem is not None:
        raise InvalidRequest(f"{what} {problem}")
    return value


def _validate(value: str, *, name: bool) -> str:
    problem = text_problem(value, name=name)
    if problem is not None:
        raise ValueError(problem)
    return value


def check_json(value: Any) -> Any:
    """``value`` (parsed JSON) if every number is finite and every string (keys too) is valid
    text, else ``ValueError``. Iterative: a deeply nested value cannot exhaust the stack."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError("numbers must be finite (no NaN, Infinity or overflowing values)")
        elif isinstance(item, str) and SURROGATE.search(item):
            raise ValueError("a string holds a lone surrogate (not valid Unicode text)")
    return value


Text = Annotated[str, AfterValidator(partial(_validate, name=False))]
"""Free text: any character but a lone surrogate."""
Name = Annotated[
    str,
    AfterValidator(partial(_validate, name=True)),
    Field(min_length=1, max_length=NAME_CHARS, json_schema_extra={"pattern": NAME_PATTERN}),
]
"""An id or user id: 1-256 characters, no control characters."""
Role = Annotated[
    str,
    AfterValidator(partial(_validate, name=True)),
    Field(min_length=1, max_length=ROLE_CHARS, json_schema_extra={"pattern": NAME_PATTERN}),
]
"""A message role (``user``, ``Human``, ...): 1-64 characters, no control characters."""
