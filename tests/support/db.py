"""Recording the SQL statements peewee runs, for tests and benchmarks."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


class _Statements(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.sql: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "peewee":  # not the pool's messages
            self.sql.append(str(record.msg))


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements peewee runs inside the block, as they run."""
    handler = _Statements()
    log = logging.getLogger("peewee")
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        yield handler.sql
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
