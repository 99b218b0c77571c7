"""The studio in a real browser: Debian's chromium driven by Playwright (its own browser download is
not used), against the real API process, PostgreSQL, Redis and workers of the service tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from control_api.api.studio import DEFAULT_DIST
from tests.control_api.service.conftest import running_api, servers, settings, workers  # noqa: F401 - shared fixtures

SECRET = "studio-test-secret-" + "y" * 32
WELCOME_CREDITS = 500
VIEWPORT = {"width": 1280, "height": 800}
SCREENSHOTS = Path(__file__).resolve().parents[3] / "out" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--autoplay-policy=no-user-gesture-required", "--mute-audio"]


@pytest.fixture(scope="session")
def studio_url(settings, tmp_path_factory) -> Iterator[str]:  # noqa: F811
    if not (DEFAULT_DIST / "index.html").is_file():
        raise AssertionError("the studio is not built: run `make studio` (make test builds it first)")
    env = {"DRAMAFLOW_SECRET_KEY": SECRET, "DRAMAFLOW_WELCOME_CREDITS": str(WELCOME_CREDITS)}
    with running_api(settings, tmp_path_factory.mktemp("studio-api"), **env) as (url, _):
        yield url


# Module scope, not session: Playwright's sync API runs an event loop of its own while it is open, and
# tests after these on the same worker call asyncio.run(), which refuses to run inside another loop.
@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # a busy machine: assertions wait for the page as long as actions do

    executable = shutil.which("chromium")
    if executable is None:
        raise AssertionError("Debian's chromium is not installed: `make browser` (make test installs it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """Factory: a page in a fresh browser context (its own cookies), 1280×800, downloads accepted."""
    contexts = []

    def make(locale: str = "en-US"):
        context = browser.new_context(viewport=VIEWPORT, locale=locale, accept_downloads=True)
        context.set_default_timeout(30_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


CONTROL_ROLES = {"button", "link", "textbox", "searchbox", "combobox", "listbox", "checkbox", "radio", "switch",
                 "slider", "spinbutton", "tab", "menuitem", "option"}


def unnamed_controls(page) -> list[str]:
    """Controls on the page without an accessible name, as chromium's accessibility tree has them."""
    cdp = page.context.new_cdp_session(page)
    try:
        nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        cdp.detach()
    found = []
    for node in nodes:
        role = (node.get("role") or {}).get("value")
        if role in CONTROL_ROLES and not node.get("ignored") and not (node.get("name") or {}).get("value", "").strip():
            found.append(f"{role} (backend node {node.get('backendDOMNodeId')})")
    return found


@pytest.fixture(scope="session")
def screenshot():
    """Save a 1280×800 screenshot of ``page`` as out/screenshots/NAME.png (git-ignored), after checking
    that every control on it has an accessible name."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> None:
        assert unnamed_controls(page) == [], f"{name}: controls without an accessible name"
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    return take
