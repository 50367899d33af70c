"""The docs are the user's manual: the README leads to the pages in docs/, which name every
setting and every route."""
from __future__ import annotations

import pathlib
import re

import pytest

from tablegate import create_app
from tablegate.config import Config, env_names

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
OPERATIONS = DOCS / "operations.md"
API = DOCS / "api.md"
GUNICORN_ENV = re.findall(r"TABLEGATE_[A-Z_]+", (ROOT / "gunicorn.conf.py").read_text())
# (TABLEGATE_DB_* in a comment names no variable.)
SCRIPTS_ENV = re.findall(r"TABLEGATE_[A-Z_]*[A-Z]\b",
                         "".join(p.read_text() for p in (ROOT / "scripts").glob("*.sh")))
README_MAX_LINES = 250

FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)


def fenced(text: str, language: str) -> list[tuple[int, str]]:
    """(line of the first line inside, body) of each block fenced as ``language``."""
    return [(text.count("\n", 0, m.start(2)) + 1, m.group(2))
            for m in FENCE.finditer(text) if m.group(1) == language]


def test_readme_is_short_and_links_every_page():
    readme = README.read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= README_MAX_LINES
    for page in DOCS.glob("*.md"):
        assert f"](docs/{page.name})" in readme, f"README does not link docs/{page.name}"


def _anchors(text: str) -> set[str]:
    """GitHub's ids for the page's headings."""
    return {re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
            for title in re.findall(r"^#+ (.*)$", text, re.M)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_between_pages_resolve(page):
    text = page.read_text(encoding="utf-8")
    for target, anchor in re.findall(r"\]\(([^)#:\s]*)(?:#([^)\s]+))?\)", text):
        linked = (page.parent / target).resolve() if target else page
        assert linked.exists(), f"{page.name}: no {target}"
        if anchor:
            assert anchor in _anchors(linked.read_text(encoding="utf-8")), (
                f"{page.name}: no heading #{anchor} in {linked.name}")


def test_readme_starts_with_the_two_commands():
    first_block = fenced(README.read_text(encoding="utf-8"), "sh")[0][1]
    assert "bash scripts/serve.sh" in first_block and "bash scripts/test.sh" in first_block


# --- settings and routes ---------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(set(env_names() + GUNICORN_ENV + SCRIPTS_ENV)))
def test_every_setting_is_documented(name):
    assert re.search(rf"^\|\s*`{name}`\s*\|", OPERATIONS.read_text(encoding="utf-8"), re.M), (
        f"{name} is missing from the settings table of docs/operations.md")


def _routes() -> list[tuple[str, str]]:
    app = create_app(Config())  # opens no connection
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, path))
    return found


@pytest.mark.parametrize("method, path", _routes())
def test_every_route_is_documented(method, path):
    assert re.search(rf"\|\s*{method}\s*\|\s*`{re.escape(path)}`", API.read_text("utf-8")), (
        f"{method} {path} is missing from the endpoint table of docs/api.md")
