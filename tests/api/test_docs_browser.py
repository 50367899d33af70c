"""Swagger UI at ``/docs/`` with API keys on, in a real headless Chromium (issue 12).

It showed "Failed to load API definition": ``/openapi.json`` needed a key and the document
declared no way to send one. Here the app runs in a real HTTP server on a free loopback port
and a person's steps are taken: the page loads the (generic) document, Authorize takes the key,
"Try it out" runs a query and shows the row.

Playwright drives Debian's chromium through ``executable_path``, never a browser of its own
download (``playwright install`` cannot work on every machine); ``scripts/test.sh`` installs
the package with apt when ``/usr/bin/chromium`` is missing, and this test skips only when that
could not be done.
"""
from __future__ import annotations

import json
import os
import threading

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from werkzeug.serving import make_server

from tablegate.api.auth import hash_line

CHROMIUM = "/usr/bin/chromium"
#: No background traffic: the machine's network is closed, and a test page needs none.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
KEY = "browser-Key.1"
TIMEOUT_MS = 20_000  # two shared cores: generous, yet a hang still fails
expect.set_options(timeout=TIMEOUT_MS)

pytestmark = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason=f"{CHROMIUM} is missing: Debian's chromium could not be installed here "
           "(scripts/test.sh tries apt-get install chromium)")


@pytest.fixture
def base_url(make_app, sql):
    """The app with keys on, served over real HTTP on a free loopback port."""
    sql("INSERT INTO users (id, name, email, age) VALUES "
        "(1, 'Alice', 'alice@example.com', 30), (2, 'Bob', 'bob@example.com', 40)")
    server = make_server("127.0.0.1", 0, make_app(api_keys=f"{hash_line(KEY)}=users:r"),
                         threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="docs-browser", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def page(base_url, tmp_path):
    """A page of a fresh headless browser; every URL it asks for is kept in ``page.asked``.
    On a failure the test's screenshot is in its tmp_path (named in the error)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS,
                                             headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1200})
            page.set_default_timeout(TIMEOUT_MS)
            page.asked = []
            page.on("request", lambda request: page.asked.append(request.url))
            yield page
        finally:
            browser.close()


@pytest.mark.parametrize("scheme", ["bearer", "X-API-Key"])
def test_swagger_ui_authorizes_and_runs_a_query(page: Page, base_url, tmp_path, scheme):
    try:
        _authorize_and_query(page, base_url, scheme)
    except BaseException as error:
        shot = tmp_path / "docs.png"
        page.screenshot(path=str(shot), full_page=True)
        error.add_note(f"screenshot of the page: {shot}")
        raise
    # Swagger UI's own files come from the package: nothing is fetched from anywhere else.
    assert all(url.startswith(base_url + "/") for url in page.asked), page.asked


def _authorize_and_query(page: Page, base_url: str, scheme: str) -> None:
    page.goto(base_url + "/docs/")
    # The document loaded: its title and the generic query route are shown, no error.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("tablegate")
    query = page.locator(".opblock-get").filter(
        has=page.locator('.opblock-summary-path[data-path="/api/{table}/query"]'))
    expect(query).to_be_visible()
    expect(page.get_by_text("Failed to load API definition")).to_have_count(0)

    page.locator(".auth-wrapper button.authorize").click()
    dialog = page.locator(".auth-container").filter(
        has=page.locator("h4 code", has_text=scheme))
    dialog.locator("input").fill(KEY)
    dialog.locator("button.authorize").click()
    expect(dialog).to_contain_text("Authorized")
    dialog.locator("button.btn-done").click()
    expect(page.locator(".dialog-ux")).to_have_count(0)

    query.locator(".opblock-summary").click()
    query.locator("button.try-out__btn").click()
    query.locator('tr[data-param-name="table"] input').fill("users")
    query.locator('tr[data-param-name="filters"] textarea').fill('{"name": "Alice"}')
    query.locator("button.execute").click()

    live = query.locator(".live-responses-table")
    expect(live.locator("tbody .response-col_status")).to_have_text("200")
    expect(query.locator(".request-url pre")).to_have_text(
        base_url + "/api/users/query?name=Alice")
    body = json.loads(live.locator("tbody .response-col_description .highlight-code pre")
                      .inner_text())
    assert body["data"]["rows"] == [
        {"id": 1, "name": "Alice", "email": "alice@example.com", "age": 30}]
