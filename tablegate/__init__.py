"""tablegate: any MySQL/MariaDB table behind HTTP."""
from __future__ import annotations

from flask import Flask

from tablegate import db, errors, logs
from tablegate.api import batch, crud, envelope, meta
from tablegate.config import Config

__all__ = ["create_app"]


def create_app(config: Config | None = None) -> Flask:
    """Wire the app; nothing here opens a socket, so it starts while the database is down."""
    config = config or Config.from_env()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max(config.max_body_bytes, config.max_upload_bytes)
    logs.init_app(config.log_level)
    envelope.init_app(app)
    errors.init_app(app)
    db.init_app(app, config)
    app.register_blueprint(meta.bp)
    app.register_blueprint(meta.docs)
    app.register_blueprint(crud.bp)
    app.register_blueprint(batch.bp)
    return app
