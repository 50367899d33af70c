"""tablegate: any MySQL/MariaDB table behind HTTP."""
from __future__ import annotations

from flask import Flask

from tablegate import cors, gateway, logs, metrics
from tablegate.api import auth, batch, console, crud, envelope, meta
from tablegate.batch.importer import Importer
from tablegate.batch.jobs import Jobs
from tablegate.config import Config
from tablegate.console import providers
from tablegate.console.runner import Console

__all__ = ["create_app"]


def create_app(config: Config | None = None) -> Flask:
    """Wire the app; nothing here opens a socket, so it starts while the database is down."""
    config = config or Config.from_env()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max(config.max_body_bytes, config.max_upload_bytes)
    envelope.init_app(app)  # first: every later hook and error has the request id
    logs.init_app(app, config.log_level)
    db = gateway.init_app(app, config)
    importer = app.extensions["tablegate.importer"] = Importer(db)
    app.extensions["tablegate.jobs"] = Jobs(importer, config)
    provider = providers.from_config(config) if config.console else None
    app.extensions["tablegate.console"] = Console(db, provider) if provider else None
    metrics.init_app(app, lambda: db.pool.in_use)
    auth.init_app(app, config)  # after the hooks that time and log: a 401 is logged too
    cors.init_app(app, config)
    app.register_blueprint(meta.bp)
    app.register_blueprint(meta.docs)
    app.register_blueprint(crud.bp)
    app.register_blueprint(batch.bp)
    app.register_blueprint(console.bp)
    return app
