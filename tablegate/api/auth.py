"""API keys with per-table scopes, and read-only mode, decided in one ``before_request`` hook.

Keys are configured as SHA-256 hashes, never as the keys themselves, so that a leaked
environment or keys file does not leak access (docs/security.md)::

    sha256:<64 hex digits>=<table>:<r|w|rw>[,<table>:<r|w|rw>...]

entries separated by ``;`` in ``TABLEGATE_API_KEYS`` and by lines in ``TABLEGATE_API_KEYS_FILE``
(``#`` starts a comment). ``*`` as the table means every table. ``python -m tablegate hash
<key>`` prints an entry.

The hook fails closed: every method but GET, HEAD and OPTIONS is a write, unless its endpoint is
listed in ``READ_ENDPOINTS`` (``POST /api/{table}/query`` reads, with its filters in a body;
``POST /api/console/ask`` reads, and checks ``r`` on each table its SQL reads itself), so
a write route added later cannot be reached with a read-only key. The table comes from the URL,
or for an import from ``?table=`` or the file name as the import view reads it. Views carry no
decorators: one place decides, so a new route cannot forget it.
"""
from __future__ import annotations

import hashlib
import hmac
import pathlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from flask import Flask, current_app, g, request

from tablegate.api.params import import_table
from tablegate.config import Config, ConfigError
from tablegate.errors import BadRequest, Forbidden, Unauthorized

T = TypeVar("T")

READ, WRITE = "r", "w"
ALL_TABLES = "*"

#: Endpoints a client reaches without a key: probes, metrics and the documentation UI, which
#: carry no table data.
PUBLIC_ENDPOINTS = frozenset({"meta.health", "meta.ready", "metrics"})
PUBLIC_BLUEPRINTS = frozenset({"swagger_ui"})
#: Reached without a key too, but answered differently: ``/openapi.json`` is then the generic
#: document, which names no table, so that Swagger UI loads before Authorize. A request that
#: sends either header must send a valid key all the same.
KEY_OPTIONAL_ENDPOINTS = frozenset({"meta.openapi_document"})

#: Methods that read; any other is a write unless its endpoint is in ``READ_ENDPOINTS``.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READ_ENDPOINTS = frozenset({"crud.query_post", "console.ask"})
IMPORT_ENDPOINT = "batch.import_file"

_ENTRY = re.compile(r"sha256:(?P<hash>[0-9a-fA-F]{64})=(?P<scopes>.+)")
_RIGHTS = {"r": frozenset({READ}), "w": frozenset({WRITE}), "rw": frozenset({READ, WRITE}),
           "wr": frozenset({READ, WRITE})}


@dataclass(frozen=True)
class Key:
    digest: bytes
    #: table name (or ``*``) → rights (``r``, ``w``)
    scopes: Mapping[str, frozenset[str]]

    def sees(self, table: str) -> bool:
        """Any right on the table: discovery lists it for this key."""
        return bool(self.scopes.get(table) or self.scopes.get(ALL_TABLES))

    def allows(self, table: str | None, right: str) -> bool:
        """``table`` None is a read about no single table (discovery), which any key may do; a
        write must name its table."""
        if table is None:
            return right == READ
        return (right in self.scopes.get(table, frozenset())
                or right in self.scopes.get(ALL_TABLES, frozenset()))


def hash_line(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_keys(text: str, source: str, separator: str) -> list[Key]:
    """Entries of ``text``; a malformed one is a ConfigError naming ``source`` and its number,
    never its content (it may be a key pasted by mistake)."""
    keys = []
    for number, raw in enumerate(text.split(separator), 1):
        entry = raw.split("#", 1)[0].strip() if separator == "\n" else raw.strip()
        if not entry:
            continue
        match = _ENTRY.fullmatch(entry)
        scopes: dict[str, frozenset[str]] = {}
        for scope in (match["scopes"].split(",") if match else ()):
            table, _, rights = scope.strip().rpartition(":")
            if not table or rights not in _RIGHTS:
                match = None
                break
            scopes[table] = scopes.get(table, frozenset()) | _RIGHTS[rights]
        if match is None:
            raise ConfigError(f"{source} entry {number} must look like "
                              "sha256:<64 hex digits>=<table>:<r|w|rw>[,...]")
        keys.append(Key(bytes.fromhex(match["hash"]), scopes))
    return keys


def load_keys(config: Config) -> list[Key]:
    keys = parse_keys(config.api_keys, "TABLEGATE_API_KEYS", ";")
    if config.api_keys_file:
        path = pathlib.Path(config.api_keys_file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"TABLEGATE_API_KEYS_FILE cannot be read: "
                              f"{type(exc).__name__}") from None
        found = parse_keys(text, "TABLEGATE_API_KEYS_FILE", "\n")
        if not found:  # fail closed: a keys file with no key must not mean "no auth"
            raise ConfigError("TABLEGATE_API_KEYS_FILE holds no key")
        keys += found
    return keys


def init_app(app: Flask, config: Config) -> None:
    keys = load_keys(config)
    app.extensions["tablegate.api_keys"] = bool(keys)
    if keys or config.read_only:
        app.before_request(lambda: _check(keys, config.read_only))


def _check(keys: list[Key], read_only: bool) -> None:
    if request.method == "OPTIONS":  # CORS preflight: carries no credentials by design
        return
    endpoint = request.endpoint or ""
    if endpoint in PUBLIC_ENDPOINTS or request.blueprint in PUBLIC_BLUEPRINTS:
        return
    if keys and endpoint in KEY_OPTIONAL_ENDPOINTS and not (
            "Authorization" in request.headers or "X-API-Key" in request.headers):
        return
    key = _authenticate(keys) if keys else None
    g.api_key = key
    if request.url_rule is None:
        return  # no such route: routing answers 404/405 once the key has been checked
    right = READ if request.method in READ_METHODS or endpoint in READ_ENDPOINTS else WRITE
    if right == WRITE and read_only:
        raise Forbidden("The service is read-only")
    if key is not None and not _may(key, right):
        raise Forbidden("This key may not "
                        + ("write to" if right == WRITE else "read") + " this table")


def _authenticate(keys: list[Key]) -> Key:
    """Every configured hash is compared, in constant time each, so the time taken does not
    tell which entry came close."""
    sent = _sent_key()
    if sent is None:
        raise Unauthorized()
    digest = hashlib.sha256(sent.encode("utf-8")).digest()
    found = None
    for key in keys:
        if hmac.compare_digest(key.digest, digest):
            found = key
    if found is None:
        raise Unauthorized("The API key is not valid")
    return found


def _sent_key() -> str | None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get("X-API-Key", "").strip() or None


def _may(key: Key, right: str) -> bool:
    """A key with the right on every table needs no table name: an import is then not parsed
    here just to find one."""
    if key.allows(ALL_TABLES, right):
        return True
    return key.allows(requested_table(), right)


def keys_on() -> bool:
    return current_app.extensions.get("tablegate.api_keys", False)


def anonymous() -> bool:
    """Keys are on and this request has no valid key (only a key-optional endpoint gets this
    far without one); it must then see no table name."""
    return keys_on() and g.get("api_key") is None


def visible(tables: dict[str, T]) -> dict[str, T]:
    """The tables discovery shows to this request's key: those it has a right on, so that a
    key scoped to some tables does not learn the names of the others. All without keys."""
    key: Key | None = g.get("api_key")
    return tables if key is None else {name: t for name, t in tables.items() if key.sees(name)}


def requested_table() -> str | None:
    """The table a request is about: the URL's, or an import's ``?table=`` or file name (read
    as the import view reads it, which parses the upload)."""
    table = (request.view_args or {}).get("table")
    if table is not None or request.endpoint != IMPORT_ENDPOINT:
        return table
    upload = None if "table" in request.args else request.files.get("file")
    try:
        return import_table(request.args, upload)
    except BadRequest:
        return None
