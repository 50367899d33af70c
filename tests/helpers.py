"""Helpers the test files share (LAYOUT.md: assertion helpers here, fixtures in conftest.py)."""
from __future__ import annotations

import io


def upload(client, data: bytes | str, table: str, query: str = "",
           filename: str = "rows.csv"):
    """POST the file to the import endpoint, into ``table``, forced past the import ledger: a
    test that sends the same bytes twice means it."""
    if isinstance(data, str):
        data = data.encode()
    return client.post(f"/api/batch/import?table={table}&force=true{query}",
                       data={"file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")
