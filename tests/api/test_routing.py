"""Every path answers 405, with Allow, for each method it does not take (issue 12: `PUT
/api/tables` answered 400, an update of a table named "tables"; `GET /api/batch/import` read a
row of a table named "batch")."""
from __future__ import annotations

import re

import pytest

from tablegate import create_app
from tablegate.config import Config
from tests.conftest import assert_envelope_error

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

#: A value for each path variable of the routes.
SAMPLES = {"table": "users", "key": "1", "job_id": "1", "path": "index.html"}


def paths() -> dict[str, set[str]]:
    """Each route's path with sample values, and the methods its rules take together (the
    row routes are three rules on one path)."""
    app = create_app(Config())  # opens no connection
    found: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static":
            path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: SAMPLES[m[1]], rule.rule)
            found.setdefault(path, set()).update(rule.methods)
    return found


REFUSED = [pytest.param(method, path, taken, id=f"{method} {path}")
           for path, taken in paths().items() for method in METHODS if method not in taken]


@pytest.mark.parametrize("method, path, taken", REFUSED)
def test_a_method_a_path_does_not_take_is_405(client, method, path, taken):
    response = client.open(path, method=method, json={"input": {"id": 1}})
    assert_envelope_error(response, 405)
    assert set(response.headers["Allow"].split(", ")) == taken


def test_every_path_refuses_something():
    assert {path for _, path, _ in (p.values for p in REFUSED)} == set(paths())


def test_the_words_of_the_service_routes_are_not_table_or_row_names(client):
    assert_envelope_error(client.put("/api/tables", json={"input": {}, "where": {"id": 1}}),
                          405)
    assert_envelope_error(client.get("/api/batch/import"), 405)
    assert client.get("/api/tables").status_code == 200
