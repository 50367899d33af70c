"""Hostile cell values go through the import's own INSERT text and come back verbatim."""
from __future__ import annotations

import csv
import io

from tests.api.test_import import upload
from tests.unit.test_bulk_escaping import HOSTILE


def test_hostile_values_are_stored_verbatim(client, sql):
    values = [v for v in HOSTILE if "\0" not in v]  # NUL cannot be in a CSV cell read as text
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["name", "email"])
    writer.writerows([value, f"e{i}@x"] for i, value in enumerate(values))
    response = upload(client, buffer.getvalue())
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["data"]["rows_inserted"] == len(values)
    stored = [row[0] for row in sql("SELECT name FROM users ORDER BY id")]
    assert stored == values
    assert sql("SHOW TABLES LIKE %s", ("users",)) == (("users",),)
