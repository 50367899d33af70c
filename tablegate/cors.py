"""CORS for browser clients on other origins (``TABLEGATE_CORS_ORIGINS``), off unless set: a
gateway in front of a database should not invite every web page to call it."""
from __future__ import annotations

from flask import Flask
from flask_cors import CORS

from tablegate.config import Config


def init_app(app: Flask, config: Config) -> None:
    if not config.cors_origins:
        return
    CORS(app, origins=list(config.cors_origins),
         allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Request-ID"],
         expose_headers=["X-Request-ID", "Location", "Content-Disposition"],
         methods=["GET", "POST", "PUT", "PATCH", "DELETE"], max_age=600)
