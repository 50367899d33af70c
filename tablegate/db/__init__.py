"""Talking SQL to MariaDB: the pool, the reflected schema, pure statement building and the type
codecs. No Flask and no executor here: the gateway puts them together."""
