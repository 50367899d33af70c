"""Responses and log lines are written by orjson; what orjson refuses still comes out."""
from __future__ import annotations

import datetime
import decimal
import json
import logging

from flask import Flask

from tablegate.api.jsonprovider import JSONProvider
from tablegate.logs import JsonFormatter


def test_values_read_as_the_contract_spells_them():
    provider = JSONProvider(Flask(__name__))
    value = {"d": decimal.Decimal("5.050"), "at": datetime.datetime(2026, 1, 1, 0, 0, 5, 7),
             "day": datetime.date(2026, 1, 2), "t": datetime.timedelta(hours=-1, seconds=1),
             "b": b"\x00\xff", "s": {"b", "a"}, "u": "ünï 🦄"}
    assert json.loads(provider.dumps(value)) == {
        "d": "5.050", "at": "2026-01-01T00:00:05.000007", "day": "2026-01-02",
        "t": "-00:59:59", "b": "AP8=", "s": ["a", "b"], "u": "ünï 🦄"}


def test_an_integer_beyond_64_bits_falls_back_to_the_json_module():
    app = Flask(__name__)  # the provider holds it weakly
    provider = JSONProvider(app)
    assert provider.dumps({"n": 2**70}) == '{"n":1180591620717411303424}'
    response = provider.response({"n": -(2**70)})
    assert response.get_data() == b'{"n":-1180591620717411303424}\n'
    assert response.mimetype == "application/json"


def test_a_log_line_with_a_lone_surrogate_is_escaped_not_lost():
    record = logging.LogRecord("tablegate", logging.INFO, __file__, 1, "bad \udc80 byte", (),
                               None)
    line = JsonFormatter().format(record)
    assert json.loads(line)["message"] == "bad \udc80 byte"
