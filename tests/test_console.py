"""The console at /ui in a real headless Chromium, against ``memhead serve`` with the fake LLM
summarizing. Every test ends by checking that the page asked nothing of any other host and
logged no error."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from memhead.auth import create_key
from memhead.stores.sqlite import SqliteStore
from tests import browser
from tests.fake_openai import FakeOpenAI
from tests.servers import NO_PROVIDERS, MemheadProcess

WINDOW = 4
WAIT_S = 60  # a loaded CI machine summarizes slowly

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    why = browser.missing()
    if why is not None:
        if browser.in_ci():
            pytest.fail(f"the console tests need a browser in CI: {why}")
        pytest.skip(why)
    chrome = browser.chromium()
    try:
        yield chrome
    finally:
        chrome.quit()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MemheadProcess]:
    """``memhead serve`` with the fake LLM summarizing and embedding, window 4, auth off."""
    tmp = tmp_path_factory.mktemp("console")
    with FakeOpenAI() as fake:
        env = {
            **NO_PROVIDERS,
            "MEMHEAD_STORE_URL": f"sqlite:///{tmp / 'console.db'}",
            "MEMHEAD_AUTH": "off",
            "MEMHEAD_LLM_BASE_URL": fake.base_url,
            "MEMHEAD_LLM_MAX_RETRIES": "0",
            "MEMHEAD_EMBED_MODEL": "fake-embedder",
            "MEMHEAD_WINDOW_SIZE": str(WINDOW),
            "MEMHEAD_WORKER_POLL": "0.05",
        }
        with MemheadProcess(env, cwd=tmp) as proc:
            yield proc.wait_ready(timeout=90)


@pytest.fixture
def page(driver: Any, server: MemheadProcess) -> Iterator[Callable[[str], None]]:
    """Opens a console address (``#/...``) and afterwards checks what the browser did."""
    driver.get("about:blank")
    browser.requested_urls(driver)
    browser.console_errors(driver)

    def open_(hash_: str) -> None:
        driver.get(f"{server.url}/ui/{hash_}")
        wait_rendered(driver)

    yield open_
    assert_stayed_home(driver, server.url)


def assert_stayed_home(driver: Any, base: str, allowed_statuses: tuple[int, ...] = ()) -> None:
    urls = browser.requested_urls(driver)
    assert urls, "the performance log recorded no request"
    assert all(u.startswith(base + "/") or u == "about:blank" for u in urls), urls
    assert browser.console_errors(driver, allowed_statuses=allowed_statuses) == []


def wait_for(condition: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = condition()
        except Exception:  # the element is being replaced: look again
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


RENDERED = """const main = document.getElementById('main');
return main.dataset.rendered === location.hash && main.getAttribute('aria-busy') === 'false';"""


def wait_rendered(driver: Any) -> None:
    """Until the console shows what the address asks for (not what it showed before)."""
    wait_for(lambda: driver.execute_script(RENDERED), "the page to render")


def css(driver: Any, selector: str) -> list[Any]:
    return list(driver.find_elements("css selector", selector))


def post(url: str, sid: str, contents: list[str], **params: str) -> None:
    body = {"messages": [{"role": "Human", "content": c} for c in contents]}
    r = httpx.post(f"{url}/sessions/{quote(sid, safe='')}/memory", json=body, params=params)
    assert r.status_code == 200, r.text


def session_api(url: str, sid: str, tail: str = "") -> httpx.Response:
    return httpx.get(f"{url}/api/v1/sessions/{quote(sid, safe='')}{tail}")


def compacted(url: str, sid: str) -> dict[str, Any]:
    """The summary status once compaction has left at most the window unsummarized."""

    def done() -> dict[str, Any] | None:
        status: dict[str, Any] = session_api(url, sid, "/summary").json()
        return status if status["upto_seq"] > 0 and status["unsummarized"] <= WINDOW else None

    found: dict[str, Any] = wait_for(done, f"compaction of {sid}")
    return found


def test_sessions_list_shows_posted_sessions_and_filters(
    page: Callable[[str], None], driver: Any, server: MemheadProcess
) -> None:
    post(server.url, "list-a", ["one", "two"], namespace="team")
    post(server.url, "list-b", ["three"])
    httpx.put(f"{server.url}/api/v1/sessions/list-b", json={"user_id": "ada"})
    page("#/sessions")
    rows = {r.get_attribute("data-session"): r.text for r in css(driver, "#sessions tbody tr")}
    assert "list-a" in rows and "list-b" in rows
    assert list(rows).index("list-b") < list(rows).index("list-a")  # most recent first
    assert "team" in rows["list-a"] and "2" in rows["list-a"].split()
    assert "ada" in rows["list-b"]

    form = driver.find_element("id", "session-filters")
    form.find_element("name", "namespace").send_keys("team")
    form.find_element("css selector", "button").click()
    wait_for(lambda: "namespace=team" in driver.current_url, "the filter in the address")
    wait_rendered(driver)
    shown = [r.get_attribute("data-session") for r in css(driver, "#sessions tbody tr")]
    assert shown == ["list-a"]
    page("#/sessions?user_id=ada")  # a shared link opens the same filtered page
    assert [r.get_attribute("data-session") for r in css(driver, "#sessions tbody tr")] == [
        "list-b"
    ]


def test_sessions_list_pages_with_shareable_links(
    page: Callable[[str], None], driver: Any, server: MemheadProcess
) -> None:
    for i in range(27):
        post(server.url, f"paged-{i:02d}", ["x"], namespace="paged")
    page("#/sessions?namespace=paged&limit=25")
    first = [r.get_attribute("data-session") for r in css(driver, "#sessions tbody tr")]
    assert len(first) == 25 and first[0] == "paged-26"
    driver.find_element("link text", "Next page »").click()
    wait_for(lambda: "cursor=" in driver.current_url, "the next page's address")
    wait_rendered(driver)
    second = [r.get_attribute("data-session") for r in css(driver, "#sessions tbody tr")]
    assert second == ["paged-01", "paged-00"]
    assert css(driver, ".pager a")[0].text == "« First page"


def test_session_page_shows_summary_and_marks_window_and_summarized_messages(
    page: Callable[[str], None], driver: Any, server: MemheadProcess
) -> None:
    sid = "team/alpha: ünï <b>bold</b>"
    hostile = "<img src=x onerror=alert(1)> <<m3>>"
    contents = [f"turn <<m{i}>>" for i in range(1, 11)]
    contents[2] = hostile
    post(server.url, sid, contents)
    status = compacted(server.url, sid)
    upto = status["upto_seq"]
    page("#/sessions/" + quote(sid, safe=""))

    assert driver.find_element("id", "session-id").text == sid
    summary = driver.find_element("id", "summary").text
    assert summary == status["summary"] and "<<m1>>" in summary
    assert driver.find_element("css selector", '[data-fact="upto"]').text == f"messages 1–{upto}"
    assert driver.find_element("css selector", '[data-fact="tokens"]').text == str(status["tokens"])
    items = css(driver, "#history li.message")
    states = {int(li.get_attribute("data-seq")): li.get_attribute("data-state") for li in items}
    assert sorted(states) == list(range(1, 11))
    assert all(states[s] == "summarized" for s in range(1, upto + 1))
    assert all(states[s] == "window" for s in range(upto + 1, 11))
    third = driver.find_element("id", "m-3")
    assert third.find_element("css selector", ".content").text == hostile
    assert css(driver, "#main img") == [] and css(driver, "#main b") == []

    page("#/sessions")
    row = driver.find_element("css selector", f'#sessions tr[data-session="{sid}"]')
    assert f"{upto} of 10 summarized" in row.text


def test_search_finds_a_posted_message_with_score_and_retrievers(
    page: Callable[[str], None], driver: Any, server: MemheadProcess
) -> None:
    post(server.url, "search-me", ["the zeppelin lands at noon", "nothing else"])
    wait_for(
        lambda: httpx.get(f"{server.url}/readyz").json()["embedding_backlog"] == 0,
        "the embedding of every message",
    )
    page("#/search")
    form = driver.find_element("id", "search-form")
    form.find_element("name", "q").send_keys("zeppelin")
    form.find_element("css selector", "button").click()
    hit = wait_for(lambda: css(driver, "#hits li.hit"), "a hit")[0]
    assert "q=zeppelin" in driver.current_url
    assert hit.find_element("css selector", ".content").text == "the zeppelin lands at noon"
    assert hit.get_attribute("data-session") == "search-me" and hit.get_attribute("data-seq") == "1"
    assert float(hit.find_element("css selector", ".score").text) > 0
    retrievers = {b.text for b in hit.find_elements("css selector", ".badge.retriever")}
    assert retrievers == {"keyword", "vector"}

    page("#/search?q=zeppelin&scope=session&id=other-session")  # scope: one session
    assert css(driver, "#hits") == [] and "No hits." in driver.find_element("id", "main").text
    page("#/search?q=zeppelin&scope=session&id=search-me&mode=keyword")
    hits = wait_for(lambda: css(driver, "#hits li.hit"), "a keyword hit")
    assert [b.text for b in hits[0].find_elements("css selector", ".badge.retriever")] == [
        "keyword"
    ]
    hits[0].find_element("css selector", ".meta a").click()  # to the message in its session
    wait_for(lambda: "seq=1" in driver.current_url, "the session page")
    wait_rendered(driver)
    assert "focus" in driver.find_element("id", "m-1").get_attribute("class")


def test_deleting_from_the_console_asks_first_and_removes_the_session(
    page: Callable[[str], None], driver: Any, server: MemheadProcess
) -> None:
    post(server.url, "doomed", ["bye"])
    page("#/sessions/doomed")
    driver.find_element("id", "delete").click()
    alert = wait_for(lambda: driver.switch_to.alert, "the confirm dialog")
    assert "doomed" in alert.text
    alert.dismiss()
    assert session_api(server.url, "doomed").status_code == 200  # not confirmed: kept

    driver.find_element("id", "delete").click()
    wait_for(lambda: driver.switch_to.alert, "the confirm dialog").accept()
    wait_for(lambda: driver.current_url.endswith("#/sessions"), "the sessions list")
    assert session_api(server.url, "doomed").status_code == 404
    assert session_api(server.url, "doomed", "/messages").json()["messages"] == []
    wait_rendered(driver)
    assert "doomed" not in [r.get_attribute("data-session") for r in css(driver, "#sessions tr")]


def test_server_page_shows_models_window_and_backlogs(
    page: Callable[[str], None], driver: Any, server: MemheadProcess
) -> None:
    page("#/server")

    def fact(name: str) -> str:
        text: str = driver.find_element("css selector", f'[data-fact="{name}"]').text
        return text

    assert fact("store") == "sqlite"
    assert fact("llm") == "gpt-3.5-turbo" and fact("embedder") == "fake-embedder"
    assert fact("window") == str(WINDOW)
    assert fact("compaction").endswith(" sessions") and fact("embedding").endswith(" messages")
    jobs = driver.find_element("id", "jobs").text
    assert "compaction" in jobs and "embedding" in jobs


def test_phone_width_stacks_the_list_without_sideways_scrolling(
    page: Callable[[str], None], driver: Any, server: MemheadProcess
) -> None:
    post(server.url, "phone-" + "x" * 80, ["a long id must wrap, not widen the page"])
    driver.set_window_size(390, 844)
    try:
        page("#/sessions")
        assert not driver.find_element("css selector", "#sessions thead").is_displayed()
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
    finally:
        driver.set_window_size(1280, 800)


# -- with authentication ----------------------------------------------------------------


@pytest.fixture
def auth_server(tmp_path: Path) -> Iterator[tuple[MemheadProcess, str, str]]:
    """A server with MEMHEAD_AUTH=required; yields it and the keys of tenants A and B."""
    db = tmp_path / "auth.db"

    async def keys() -> list[str]:
        store = SqliteStore(str(db))
        await store.setup()
        try:
            return [(await create_key(store, t, t))[1] for t in ("tenant-a", "tenant-b")]
        finally:
            await store.close()

    key_a, key_b = asyncio.run(keys())
    env = {**NO_PROVIDERS, "MEMHEAD_STORE_URL": f"sqlite:///{db}", "MEMHEAD_AUTH": "required"}
    with MemheadProcess(env, cwd=tmp_path) as proc:
        yield proc.wait_ready(timeout=90), key_a, key_b


def test_with_auth_a_key_of_tenant_b_never_shows_tenant_a(
    driver: Any, auth_server: tuple[MemheadProcess, str, str]
) -> None:
    server, key_a, key_b = auth_server
    for key, sid, text in [(key_a, "a-private", "alpaca secret"), (key_b, "b-own", "beaver")]:
        body = {"messages": [{"role": "Human", "content": text}]}
        headers = {"Authorization": f"Bearer {key}"}
        assert httpx.post(f"{server.url}/sessions/{sid}/memory", json=body, headers=headers)
    driver.get("about:blank")
    browser.requested_urls(driver)
    browser.console_errors(driver)

    driver.get(f"{server.url}/ui/#/sessions")
    wait_rendered(driver)
    form = driver.find_element("id", "key-form")  # asked for a key, shows nothing else
    form.find_element("name", "key").send_keys(key_b)
    form.find_element("css selector", "button").click()
    wait_for(lambda: css(driver, "#sessions"), "tenant B's sessions")
    shown = [r.get_attribute("data-session") for r in css(driver, "#sessions tbody tr")]
    assert shown == ["b-own"]
    assert driver.execute_script("return sessionStorage.getItem('memhead.apiKey')") == key_b
    assert driver.execute_script("return localStorage.length") == 0

    driver.get(f"{server.url}/ui/#/sessions/a-private")
    wait_rendered(driver)
    assert "No such session" in driver.find_element("id", "main").text
    driver.get(f"{server.url}/ui/#/search?q=alpaca")
    wait_rendered(driver)
    assert "No hits." in driver.find_element("id", "main").text
    assert css(driver, "#hits") == [] and "secret" not in driver.page_source

    driver.find_element("id", "forget-key").click()
    wait_for(lambda: css(driver, "#key-form"), "the key form again")
    assert driver.execute_script("return sessionStorage.length") == 0
    assert_stayed_home(driver, server.url, allowed_statuses=(401, 404))  # the key, a-private
