"""The one rulebook for identifiers: which names MariaDB can take for a table or a column.

Quoted identifiers may hold any character but NUL and those beyond the Basic Multilingual
Plane, are at most 64 characters long, and may not end with a space (MariaDB, "Identifier
Names"). A name that breaks a rule cannot name an existing table, so a request naming one is
answered without asking the database, and a table made from a file refuses it with the reason.
Here rather than in ``db/``: the settings (``config``) check the ledger's name by it too.
"""
from __future__ import annotations

from tablegate.errors import BadRequest

#: The longest identifier MariaDB takes.
MAX_IDENTIFIER = 64


def problem(name: str) -> str | None:
    """Why ``name`` cannot be a table's or a column's name, or None when it can."""
    if name == "":
        return "it is empty"
    if len(name) > MAX_IDENTIFIER:
        return f"it is longer than {MAX_IDENTIFIER} characters"
    if name.endswith(" "):
        return "it ends with a space"
    # A lone surrogate cannot be sent to the server at all; and INFORMATION_SCHEMA's utf8mb3
    # columns refuse to compare a character beyond the BMP (error 1267) rather than find nothing.
    if "\x00" in name or max(map(ord, name)) > 0xFFFF or any(
            "\ud800" <= c <= "\udfff" for c in name):
        return "it holds a character names cannot hold (NUL, a lone surrogate, or beyond U+FFFF)"
    return None


def quote_identifier(name: str) -> str:
    """A name as a quoted identifier: backticks, a backtick inside doubled. Only for names
    that reflection confirmed or that ``check`` passed."""
    return "`" + name.replace("`", "``") + "`"


def could_name_a_table(name: str) -> bool:
    return problem(name) is None


def check(name: str, what: str) -> None:
    """Raise BadRequest saying why ``name`` cannot be used as a ``what`` (table, column)."""
    reason = problem(name)
    if reason:
        shown = name if len(name) <= 80 else name[:80] + "..."
        raise BadRequest(f"{what.capitalize()} name {shown!r} cannot be used: {reason}",
                         {what: shown})
