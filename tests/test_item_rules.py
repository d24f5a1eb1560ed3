"""The pure rules of memory items: which text an item's index paths give search, and what a
request may hold (each refusal names the field and the limit)."""

from __future__ import annotations

from typing import Any

import pytest

from memhead.errors import ConfigError, InvalidRequest
from memhead.items import checks, paths
from memhead.settings import load_settings
from memhead.settings_values import ItemSettings

VALUE: dict[str, Any] = {
    "text": "Ada prefers a blue kettle",
    "tags": ["kettle", "tea", {"name": "colour"}],
    "author": {"name": "Ada", "age": 36, "tags": ["a", "b"]},
    "rating": 5,
    "done": True,
    "nothing": None,
    "empty": "",
    "rows": [{"x": "first"}, {"x": "second"}, {"y": "other"}],
}


def text(*spec: str) -> str | None:
    return paths.text_of(VALUE, [paths.parse(p) for p in spec])


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("text", "Ada prefers a blue kettle"),
        ("author.name", "Ada"),
        ("tags[0]", "kettle"),
        ("tags[-1]", '{"name":"colour"}'),
        ("tags[-3]", "kettle"),
        ("tags[*]", 'kettle\ntea\n{"name":"colour"}'),
        ("tags[*].name", "colour"),
        ("rows[*].x", "first\nsecond"),
        ("author.tags[1]", "b"),
        ("rating", "5"),
        ("done", "true"),
        ("author", '{"name":"Ada","age":36,"tags":["a","b"]}'),
        ("author.*", 'Ada\n36\n["a","b"]'),
        ("{text,author.name}", "Ada prefers a blue kettle\nAda"),
        ("rows[1].{x,y}", "second"),
    ],
)
def test_a_path_finds_the_values_langgraph_finds(path: str, expected: str) -> None:
    assert text(path) == expected


def test_paths_that_find_nothing_give_no_text() -> None:
    for path in ("missing", "text.inner", "tags[3]", "tags[-4]", "author[0]", "nothing", "empty"):
        assert text(path) is None, path


def test_several_paths_are_joined_one_value_per_line() -> None:
    assert text("author.name", "missing", "tags[1]") == "Ada\ntea"


def test_the_whole_value_is_compact_json() -> None:
    whole = text("$")
    assert whole is not None and whole.startswith('{"text":"Ada prefers a blue kettle","tags"')
    assert paths.text_of({"note": "plain"}, [()]) == '{"note":"plain"}'


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("", "must not be empty"),
        ("a..b", "empty field name"),
        ("a.", "empty field name"),
        ("tags[", "unclosed"),
        ("tags]", "unmatched"),
        ("a]b", "unmatched"),
        ("a{b", "unclosed"),
        ("tags[x]", "[x] is not an index"),
        ("tags[0]x", "unexpected 'x' after ']'"),
        ("{a,b}c", "nothing may follow"),
        ("{a,}", "must not be empty"),
    ],
)
def test_a_malformed_path_is_refused_saying_why(path: str, why: str) -> None:
    with pytest.raises(ValueError, match=why.replace("[", r"\[").replace("]", r"\]")):
        paths.parse(path)


def test_the_index_setting_splits_at_top_level_commas() -> None:
    assert paths.split_top_level("text, tags[*] ,{a,b.c}") == ["text", "tags[*]", "{a,b.c}"]


def test_settings_give_the_item_defaults_and_refuse_a_bad_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings(item_index="text, tags[*]", item_ttl_minutes=5)
    assert settings.item_settings() == ItemSettings(
        index=("text", "tags[*]"), ttl_minutes=5, refresh_ttl=True, max_bytes=65536
    )
    assert load_settings(item_index="").item_settings().index == ()
    monkeypatch.setenv("MEMHEAD_ITEM_INDEX", "text, a[")
    with pytest.raises(ConfigError, match=r"^invalid setting MEMHEAD_ITEM_INDEX: .*'a\['"):
        load_settings()
    monkeypatch.delenv("MEMHEAD_ITEM_INDEX")
    for name, bad in [
        ("MEMHEAD_ITEM_TTL", "0"),
        ("MEMHEAD_ITEM_REFRESH_TTL", "maybe"),
        ("MEMHEAD_ITEM_SWEEP_INTERVAL", "-1"),
        ("MEMHEAD_ITEM_MAX_BYTES", "10"),
    ]:
        monkeypatch.setenv(name, bad)
        with pytest.raises(ConfigError, match=f"^invalid setting {name}: "):
            load_settings()
        monkeypatch.delenv(name)
    monkeypatch.setenv("MEMHEAD_ITEM_TTL", "")
    assert load_settings().item_ttl_minutes is None


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([], "namespace must have at least one label"),
        (["a"] * 17, "namespace has 17 labels; at most 16"),
        (["users", "a.b"], "namespace label 'a.b' must not contain '.'"),
        (["users", ""], "namespace labels must not be empty"),
        (["x" * 257], "longer than 256 characters"),
        (["line\nbreak"], "must not contain control characters"),
        (["\udfff"], "lone surrogate"),
        ("users", "namespace must be a list of labels"),
        ([1], "namespace labels must be strings"),
    ],
)
def test_namespace_rules(labels: Any, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message.replace(".", r"\.")):
        checks.namespace(labels)


def test_a_namespace_at_the_limits_is_accepted() -> None:
    deepest = tuple(["x" * 256] * 16)
    assert checks.namespace(list(deepest)) == deepest
    assert checks.namespace([], "namespace_prefix", empty=True) == ()
    assert checks.dotted("users.ada") == ("users", "ada")
    with pytest.raises(InvalidRequest, match="namespace labels must not be empty"):
        checks.dotted("users..ada")


def test_key_value_ttl_and_page_rules() -> None:
    assert checks.key("k" * 1024) == "k" * 1024
    cases: list[tuple[Any, str]] = [
        (lambda: checks.key(""), "key must be a non-empty string"),
        (lambda: checks.key("k" * 1025), "key longer than 1024 characters"),
        (lambda: checks.value([1], 100), "value must be a JSON object"),
        (lambda: checks.value({"a": "x" * 100}, 100), r"value is 108 bytes as JSON; at most 100"),
        (lambda: checks.value({"a": float("nan")}, 100), "value: numbers must be finite"),
        (lambda: checks.value({"a": 2**70}, 100), "value cannot be stored as JSON"),
        (lambda: checks.ttl_ms(0), "ttl must be more than 0"),
        (lambda: checks.ttl_ms(1e300), "at most 5.256e\\+07 minutes"),
        (lambda: checks.page(0, 0), "limit must be at least 1 and at most 1000"),
        (lambda: checks.page(1001, 0), "limit must be at least 1 and at most 1000"),
        (lambda: checks.page(10, -1), "offset must be at least 0 and at most 10000"),
        (lambda: checks.max_depth(0), "max_depth must be at least 1"),
        (lambda: checks.search_filter({"a": {"$like": 1}}), "unknown operator '\\$like'"),
        (lambda: checks.search_filter([]), "filter must be a JSON object"),  # type: ignore[arg-type]
        (lambda: checks.index(["a["]), "index path 'a\\[': unclosed"),
        (lambda: checks.index(["a"] * 65), "index has 65 paths; at most 64"),
        (lambda: checks.query("x" * 10_001), "query longer than 10000 characters"),
    ]
    for call, message in cases:
        with pytest.raises(InvalidRequest, match=message):
            call()
    assert checks.ttl_ms(1.5) == 90_000
    assert checks.ttl_ms(1e-9) == 1  # never zero: an item is not born expired
    assert checks.query("   ") is None
    assert checks.index(False) is False and checks.index(None) is None
