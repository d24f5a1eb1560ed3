"""``/docs`` in a real headless Chromium (Debian's ``chromium`` and ``chromium-driver``),
as a user without internet sees it: the operations render, Swagger UI's buttons work against
the server, nothing is requested off the machine and the console stays clean.

Chromium is also told that every host name but the loopback address does not exist, so even
a page that did reach for the internet would send nothing there (and then fail to render)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from memhead import Settings, create_app
from memhead.api import examples
from memhead.stores.sqlite import SqliteStore
from tests.servers import serve_in_thread
from tests.test_auth import keys_for

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"  # the system's: Selenium Manager never downloads one
FLAGS = (
    "--headless=new",
    "--no-sandbox",  # tests run as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--window-size=1280,2000",
    # Chromium's own background traffic (updates, sync, metrics) is none of the page's.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--no-pings",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)
LOCAL_SCHEMES = {"data", "blob", "about"}  # never leave the browser
WAIT_S = 30


def browser() -> WebDriver:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if shutil.which(p) is None]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} missing: apt-get install chromium chromium-driver "
            "(.ci/run installs them)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    app = create_app(Settings(long_term_memory=True), store=SqliteStore(str(tmp_path / "d.db")))
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture
def driver() -> Iterator[WebDriver]:
    d = browser()
    try:
        yield d
    finally:
        d.quit()


class PageWatch:
    """What the page has requested (Chrome's DevTools Network events) and what its console
    reported as errors, so far: each read of Chrome's logs drains them, so they pile up here."""

    def __init__(self, driver: WebDriver) -> None:
        self.driver = driver
        self.urls: list[str] = []
        self.errors: list[str] = []

    def read(self) -> PageWatch:
        for entry in self.driver.get_log("performance"):
            message: dict[str, Any] = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            if message["method"] == "Network.requestWillBeSent":
                self.urls.append(params["request"]["url"])
            elif message["method"] == "Network.webSocketCreated":
                self.urls.append(params["url"])
        self.errors += [
            e["message"] for e in self.driver.get_log("browser") if e["level"] == "SEVERE"
        ]
        return self

    def off_machine(self) -> list[str]:
        return [
            url
            for url in self.urls
            if urlsplit(url).scheme not in LOCAL_SCHEMES and urlsplit(url).hostname != "127.0.0.1"
        ]


def operation(driver: WebDriver, tag: str, operation_id: str) -> WebElement:
    return driver.find_element(By.ID, f"operations-{tag}-{operation_id}")


def wait_for(driver: WebDriver, css: str, within: WebElement | None = None) -> WebElement:
    root = within or driver
    WebDriverWait(driver, WAIT_S).until(lambda _: root.find_elements(By.CSS_SELECTOR, css))
    return root.find_element(By.CSS_SELECTOR, css)


def expand(block: WebElement) -> None:
    if "is-open" not in (block.get_attribute("class") or ""):
        block.find_element(By.CSS_SELECTOR, ".opblock-summary").click()


def try_it_out(driver: WebDriver, block: WebElement) -> str:
    """Expand an operation, press "Try it out" then "Execute"; the status shown."""
    expand(block)
    wait_for(driver, ".try-out__btn", block).click()
    return execute(driver, block)


def execute(driver: WebDriver, block: WebElement) -> str:
    """Press "Execute" (clearing any earlier answer first); the status shown."""
    for clear in block.find_elements(By.CSS_SELECTOR, ".btn-clear"):
        clear.click()
    wait_for(driver, ".execute", block).click()
    cell = ".live-responses-table tbody .response-col_status"
    WebDriverWait(driver, WAIT_S).until(
        lambda _: (
            block.find_elements(By.CSS_SELECTOR, cell)
            and block.find_element(By.CSS_SELECTOR, cell).text.strip()
        )
    )
    return block.find_element(By.CSS_SELECTOR, cell).text.strip()


def render(driver: WebDriver, url: str) -> PageWatch:
    """Open ``/docs`` and wait until every operation of the document shows."""
    count = sum(len(ops) for ops in httpx.get(f"{url}/openapi.json").json()["paths"].values())
    watch = PageWatch(driver)
    driver.get(f"{url}/docs")
    try:
        WebDriverWait(driver, WAIT_S).until(
            lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) == count
        )
    except TimeoutException:
        watch.read()
        pytest.fail(
            f"/docs did not render {count} operations; requested off the machine: "
            f"{watch.off_machine()}; console errors: {watch.errors}"
        )
    return watch


def test_docs_render_every_operation_offline(server: str, driver: WebDriver) -> None:
    watch = render(driver, server)
    assert watch.read().off_machine() == []
    assert driver.title == "memhead - Swagger UI"
    # Motörhead, hosted shape, native and operations routes all render
    operation(driver, "motorhead", "post_sessions__session_id__memory")
    operation(driver, "motorhead_hosted", "get_v1_motorhead_sessions")
    operation(driver, "native", "append_messages_api_v1_sessions__session_id__messages_post")
    operation(driver, "operations", "get_readyz")

    # a described operation shows its description and its example body
    post = operation(driver, "motorhead", "post_sessions__session_id__memory")
    expand(post)
    body = wait_for(driver, ".body-param__example, .example", post)
    assert "When does my blue kettle ship?" in body.text
    assert "summarizing runs in the background" in post.text

    # the Authorize button lists the four ways to present a key
    driver.find_element(By.CSS_SELECTOR, "button.authorize").click()
    dialog = wait_for(driver, ".modal-ux")
    for name in ("bearer", "x-metal-api-key", "x-api-key", "basic"):
        assert name in dialog.text, name
    dialog.find_element(By.CSS_SELECTOR, ".close-modal").click()

    # "Try it out" sends the example to the server and shows the answer
    assert try_it_out(driver, post) == "200"
    memory = httpx.get(f"{server}/sessions/{examples.SESSION_ID}/memory").json()
    assert [m["content"] for m in memory["messages"]] == [
        "It ships on Tuesday.",
        "When does my blue kettle ship?",
    ]
    assert try_it_out(driver, operation(driver, "operations", "get_healthz")) == "200"

    watch.read()
    host = urlsplit(server).netloc
    for path in ("/docs", "/openapi.json", "/docs/static/swagger-ui-bundle.js", "/healthz"):
        assert f"http://{host}{path}" in watch.urls, path
    assert watch.off_machine() == []
    assert watch.errors == []


def test_authorize_sends_the_key_to_the_data_routes(tmp_path: Path, driver: WebDriver) -> None:
    db = str(tmp_path / "keys.db")
    [key] = keys_for(SqliteStore(db), "acme")
    app = create_app(Settings(auth="required"), store=SqliteStore(db))
    with serve_in_thread(app) as url:
        watch = render(driver, url)
        sessions = operation(driver, "motorhead", "get_sessions")
        assert try_it_out(driver, sessions) == "401"

        driver.find_element(By.CSS_SELECTOR, "button.authorize").click()
        dialog = wait_for(driver, ".modal-ux")
        bearer = next(
            c
            for c in dialog.find_elements(By.CSS_SELECTOR, ".auth-container")
            if c.text.startswith("bearer")
        )
        bearer.find_element(By.CSS_SELECTOR, "input").send_keys(key)
        bearer.find_element(By.CSS_SELECTOR, "button.authorize").click()
        dialog.find_element(By.CSS_SELECTOR, ".close-modal").click()

        assert execute(driver, sessions) == "200"
        assert watch.read().off_machine() == []
