"""Talking SQL to MariaDB: the pool, the reflected schema, pure statement building, the type
codecs and the deadlines the server enforces by itself. No Flask and no executor here: the
gateway puts them together."""
