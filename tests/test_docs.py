"""The README and docs/: every relative link lands, every page is reachable, every file path
named in code exists, every setting is documented.

Links are read with markdown-it (so code blocks and spans are not mistaken for links) and
anchors are checked against GitHub's heading ids: lower case, punctuation dropped, spaces to
hyphens, a ``-1``, ``-2``... suffix for repeats. External links are not fetched.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token
from pydantic import AliasChoices

from memhead.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
REPO_PATH = re.compile(r"(?<![\w./-])((?:memhead|bench|tests|scripts|docs|\.ci)/[\w./-]*[\w/])")
"""A path inside the repository, as the docs name files in code (`bench/load.py`)."""


def _tokens(page: Path) -> list[Token]:
    return MarkdownIt("commonmark").enable("table").parse(page.read_text(encoding="utf-8"))


def _links(page: Path) -> list[str]:
    hrefs = []
    for token in _tokens(page):
        for child in token.children or []:
            if child.type == "link_open":
                hrefs.append(str(child.attrs["href"]))
            elif child.type == "image":
                hrefs.append(str(child.attrs["src"]))
    return hrefs


def _anchors(page: Path) -> set[str]:
    """GitHub's ids for the headings of ``page``."""
    tokens = _tokens(page)
    seen: Counter[str] = Counter()
    ids = set()
    for opening, inline in zip(tokens, tokens[1:], strict=False):
        if opening.type != "heading_open":
            continue
        text = "".join(
            c.content for c in inline.children or [] if c.type in ("text", "code_inline")
        )
        slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        ids.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
        seen[slug] += 1
    return ids


def _relative_targets(page: Path) -> list[tuple[str, Path, str]]:
    """``(href, target file, anchor)`` of every link of ``page`` that stays in the repository."""
    targets = []
    for href in _links(page):
        parts = urlsplit(href)
        if parts.scheme or parts.netloc:
            continue
        target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
        targets.append((href, target, unquote(parts.fragment)))
    return targets


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_at_something_that_exists(page: Path) -> None:
    broken = []
    for href, target, anchor in _relative_targets(page):
        if not target.exists():
            broken.append(f"{href}: no such file")
        elif anchor and target.suffix == ".md" and anchor not in _anchors(target):
            broken.append(f"{href}: no heading #{anchor} in {target.name}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def _code_paths(page: Path) -> set[str]:
    """Repository paths named in the code spans and code blocks of ``page``."""
    code = []
    for token in _tokens(page):
        code += [token.content] if token.type in ("fence", "code_block") else []
        code += [c.content for c in token.children or [] if c.type == "code_inline"]
    return {m.group(1) for text in code for m in REPO_PATH.finditer(text)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_file_path_named_in_code_exists(page: Path) -> None:
    missing = sorted(p for p in _code_paths(page) if not (ROOT / p).exists())
    assert not missing, f"{page.relative_to(ROOT)} names {missing}, which do not exist"


def test_every_docs_page_can_be_reached_from_the_readme() -> None:
    reached, todo = set(), [ROOT / "README.md"]
    while todo:
        page = todo.pop()
        if page in reached:
            continue
        reached.add(page)
        todo += [t for _, t, _ in _relative_targets(page) if t.suffix == ".md" and t.exists()]
    unreached = sorted(p.name for p in PAGES if p not in reached)
    assert not unreached, f"no link leads from README.md to {unreached}"


def test_the_configuration_page_names_every_setting_by_all_its_variables() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = []
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        names = [str(n) for n in alias.choices] if isinstance(alias, AliasChoices) else [field]
        missing += [n for n in names if f"`{n}`" not in page]
    assert not missing, f"docs/configuration.md does not mention {missing}"
