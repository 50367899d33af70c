"""The README is the user's manual: it must name every setting and every route."""
from __future__ import annotations

import pathlib
import re

import pytest

from tablegate import create_app
from tablegate.config import Config, env_names

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
GUNICORN_ENV = re.findall(r"TABLEGATE_[A-Z_]+", (ROOT / "gunicorn.conf.py").read_text())


@pytest.mark.parametrize("name", sorted(set(env_names() + GUNICORN_ENV)))
def test_every_setting_is_documented(name):
    assert f"`{name}`" in README


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
    assert re.search(rf"\|\s*{method}\s*\|\s*`{re.escape(path)}`", README), (
        f"{method} {path} is missing from the README's endpoint table")
