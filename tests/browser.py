"""Headless Chromium for tests and scripts: Debian's ``chromium`` and ``chromium-driver``,
driven by selenium through ``/usr/bin/chromedriver`` (nothing is downloaded)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def missing() -> str | None:
    """Why no browser can start here, or ``None``."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            return f"{path} is missing: apt-get install chromium chromium-driver"
    return None


def chromium(width: int = 1280, height: int = 800) -> Any:
    """A headless Chromium that records its console and its network events."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",  # tests run as root in containers
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
        "--hide-scrollbars",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # An explicit driver path: selenium does not run Selenium Manager, so nothing is fetched.
    service = Service(executable_path=CHROMEDRIVER)
    return webdriver.Chrome(service=service, options=options)


def requested_urls(driver: Any) -> list[str]:
    """Every URL the page asked for since the last call (CDP ``Network.requestWillBeSent``)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def console_errors(driver: Any, *, allowed_statuses: tuple[int, ...] = ()) -> list[str]:
    """Browser console entries at warning level or worse since the last call, except failed
    loads with an expected HTTP status (e.g. the 401 that makes the console ask for a key)."""
    found = []
    for entry in driver.get_log("browser"):
        if entry["level"] not in ("SEVERE", "WARNING"):
            continue
        text = entry["message"]
        expected = any(f"status of {s} " in text for s in allowed_statuses)
        if not (entry.get("source") == "network" and expected):
            found.append(text)
    return found


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")
