"""``python -m tablegate hash <key | -> [table:r|w|rw,...]``: print an API-key entry for
``TABLEGATE_API_KEYS`` (docs/security.md). Scopes default to ``*:r``; ``-`` as the key reads it
from standard input, keeping it out of the shell's history."""
from __future__ import annotations

import sys

from tablegate.api.auth import hash_line, parse_keys
from tablegate.config import ConfigError

USAGE = "usage: python -m tablegate hash <key | -> [table:r|w|rw,...]"


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or argv[0] != "hash":
        print(USAGE, file=sys.stderr)
        return 2
    key = sys.stdin.readline().strip() if argv[1] == "-" else argv[1]
    line = f"{hash_line(key)}={argv[2] if len(argv) == 3 else '*:r'}"
    try:
        # Never print an entry the service would refuse.
        parse_keys(line, "the scopes argument:", ";")
    except ConfigError as exc:
        print(f"tablegate: {exc}", file=sys.stderr)
        return 2
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
