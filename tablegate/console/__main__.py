"""``python -m tablegate.console``: ask the database in plain language (docs/console.md).

Interactive with line editing and a history file (readline), or one question with ``--ask``;
``--json`` prints the answer in the API's envelope instead of a table. Settings are the
service's ``TABLEGATE_*`` variables; the command needs a model, not ``TABLEGATE_CONSOLE``,
which switches the HTTP endpoint on.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys

from rich.console import Console as Screen
from rich.table import Table as Grid

from tablegate import gateway as gateways
from tablegate.config import Config, ConfigError
from tablegate.console import providers
from tablegate.console.runner import Answer, Console
from tablegate.errors import TablegateError
from tablegate.logs import utc_timestamp

HISTORY = pathlib.Path("~/.tablegate_console_history").expanduser()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tablegate.console",
                                     description="Ask the database a question in plain words.")
    parser.add_argument("--ask", metavar="QUESTION", help="ask one question and exit")
    parser.add_argument("--json", action="store_true",
                        help="print the answer as the API's JSON envelope")
    args = parser.parse_args(argv)
    try:
        config = Config.from_env()
    except ConfigError as exc:
        print(f"tablegate: configuration error: {exc}", file=sys.stderr)
        return 2
    provider = providers.from_config(config)
    if provider is None:
        print(f"tablegate console: {providers.problem(config)}", file=sys.stderr)
        return 2
    gateway = gateways.build(config)
    console = Console(gateway, provider)
    screen = Screen()
    try:
        if args.ask is not None:
            return answer(console, screen, args.ask, args.json)
        return interactive(console, screen, args.json)
    finally:
        console.close()
        gateway.executor.close()
        gateway.pool.close()


def answer(console: Console, screen: Screen, question: str, as_json: bool) -> int:
    """One question: 0 when it was answered, 1 when it was refused or failed."""
    try:
        result = console.ask(question)
    except TablegateError as exc:
        if as_json:
            print(json.dumps({"timestamp": utc_timestamp(), "error_code": str(exc.status),
                              "message": exc.message, "retry_count": 0,
                              "details": exc.details}, default=str))
        else:
            sql = (exc.details or {}).get("sql")
            if sql:
                screen.print(sql, markup=False, highlight=False)
            screen.print(exc.message, markup=False, highlight=False, style="bold red")
        return 1
    if as_json:
        print(json.dumps({"timestamp": utc_timestamp(), "message": "Question answered",
                          "data": result.data(), "retry_count": 0}, default=str))
    else:
        show(screen, result)
    return 0


def show(screen: Screen, result: Answer) -> None:
    screen.print(result.sql, markup=False, highlight=False)
    grid = Grid(*result.columns)
    for row in result.rows:
        grid.add_row(*("NULL" if value is None else str(value) for value in row))
    screen.print(grid)
    cut = f", cut off at {len(result.rows)}" if result.truncated else ""
    plural = "" if len(result.rows) == 1 else "s"
    screen.print(f"{len(result.rows)} row{plural}{cut} in {result.seconds:.2f} s",
                 highlight=False)


def interactive(console: Console, screen: Screen, as_json: bool) -> int:
    try:
        import readline
    except ImportError:  # not on every platform; the console works without editing then
        readline = None
    if readline is not None:
        try:
            readline.read_history_file(HISTORY)
        except OSError:
            pass
    screen.print("Ask about the data in plain words; an empty line or Ctrl-D ends.")
    try:
        while True:
            try:
                question = input("? ").strip()
            except EOFError:
                print()
                break
            if not question:
                break
            answer(console, screen, question, as_json)
    except KeyboardInterrupt:
        print()
    finally:
        if readline is not None:
            try:
                readline.write_history_file(HISTORY)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
