"""Database access: one proxy, bound per app; a connection per thread.

SQLite gets WAL, foreign keys and a busy timeout, and write transactions
start IMMEDIATE so two writers queue instead of failing half-way. Each thread
keeps its SQLite connection between requests and jobs; PostgreSQL connections
go back to a pool. Nothing here opens a connection at import time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import inspect
import itertools
import os
import sqlite3
import threading
from collections.abc import Callable, Hashable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import peewee
from flask import Flask
from playhouse.pool import PooledPostgresqlDatabase

database = peewee.DatabaseProxy()


_serials = itertools.count(1)


class _Connection(sqlite3.Connection):
    """A SQLite connection with a serial number, so a :meth:`version` read on
    it is never mistaken for one read on an earlier connection."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.serial = next(_serials)


class KontorSqliteDatabase(peewee.SqliteDatabase):
    """SQLite whose transactions take the write lock up front."""

    def __init__(self, database: str, **kwargs: Any) -> None:
        kwargs.setdefault("factory", _Connection)
        super().__init__(database, **kwargs)

    def begin(self, lock_type: str | None = None) -> None:
        # Every transaction (also through the proxy) takes the write lock at
        # BEGIN: a deferred one that reads, then writes, fails at once with
        # "database is locked" when another writer got in between.
        super().begin(lock_type or "IMMEDIATE")

    def for_update(self, query: peewee.Select) -> peewee.Select:
        """SQLite serialises writers already; no row lock is needed."""
        return query

    def version(self) -> Hashable:
        """A value that differs whenever the database may have changed since
        it was last read on this thread's connection.

        ``data_version`` changes when another connection (any thread or
        process) commits; ``total_changes`` counts this connection's own rows.
        """
        conn = self.connection()
        (data_version,) = conn.execute("PRAGMA data_version").fetchone()
        return (conn.serial, data_version, conn.total_changes)


class KontorPostgresDatabase(PooledPostgresqlDatabase):
    """Pooled PostgreSQL; ``for_update`` locks the selected rows."""

    def for_update(self, query: peewee.Select) -> peewee.Select:
        return query.for_update()

    def version(self) -> Hashable:
        """A value that differs whenever the database may have changed.

        The current snapshot changes when any transaction that writes starts
        or ends, anywhere in the cluster (more changes than needed, never fewer).
        """
        return self.execute_sql("SELECT pg_current_snapshot()::text").fetchone()[0]


def create_private_file(path: str) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (or is ``:memory:``).

    SQLite opens an empty file as a new database and gives its ``-wal`` and
    ``-shm`` files the database file's mode, so the database, its journal
    and the queue are readable by the owner only, like the instance keys.
    """
    if path == ":memory:" or not os.path.isdir(os.path.dirname(path) or "."):
        return  # SQLite reports a missing folder itself when it connects
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def open_database(url: str) -> peewee.Database:
    """Create (but do not connect) the database object for ``url``."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path) or ":memory:"
        if parts.netloc:  # sqlite://relative/path
            path = parts.netloc + path
        create_private_file(path)
        return KontorSqliteDatabase(
            path,
            pragmas={
                "journal_mode": "wal",
                "foreign_keys": 1,
                "busy_timeout": 10000,
                "synchronous": "normal",
            },
            timeout=10,
        )
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return KontorPostgresDatabase(
        unquote(parts.path.lstrip("/")),
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        host=parts.hostname or None,
        port=parts.port or 5432,
        max_connections=int(query.pop("max_connections", 20)),
        stale_timeout=300,
        timeout=10,
        **query,
    )


def bind(app: Flask) -> peewee.Database:
    """Point the shared proxy at this app's database."""
    db = app.extensions["kontor"].database
    if database.obj is not db:
        database.initialize(db)
    return db


def release(db: peewee.Database) -> None:
    """End a request's or job's use of this thread's connection.

    A SQLite connection stays open for the thread's next request or job:
    opening one costs more than a page's queries, and the last connection to
    close checkpoints and deletes the WAL. Its queries' statements are reset
    when they are freed, so the next unit of work reads fresh data. A pooled
    PostgreSQL connection goes back to the pool.
    """
    if db.is_closed():
        return
    if isinstance(db, KontorSqliteDatabase) and not db.in_transaction():
        return
    db.close()


def init_app(app: Flask) -> None:
    """Connect at the start of each request; release the connection after it."""

    @app.before_request
    def _connect() -> None:
        bind(app).connect(reuse_if_open=True)

    @app.teardown_request
    def _release(exc: BaseException | None) -> None:
        release(app.extensions["kontor"].database)


def utcnow() -> dt.datetime:
    """Naive UTC now, as stored in every timestamp column."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def for_update(query: peewee.Select) -> peewee.Select:
    """Lock the rows a read-then-write transaction depends on (PostgreSQL)."""
    return database.obj.for_update(query)


class BaseModel(peewee.Model):
    """Base for every table; bound to the shared proxy."""

    class Meta:
        database = database
        legacy_table_names = False


class _Slot:
    """Marks where parameter ``index`` lands while a :class:`Compiled` is built."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


class Compiled:
    """A query whose SQL peewee builds once per kind of database.

    For the statements every request or delivery runs (session lookup, the
    per-account lookups of the settings pages, outbox claims): composing the
    SQL costs peewee more than the database needs to run it. ``build`` gets
    one placeholder per parameter and returns the query; what varies between
    runs (ids, the current time, limits) must be a parameter, everything else
    is fixed at the first build. Parameters go to the driver as given (ints,
    strings, datetimes, None).
    """

    def __init__(self, build: Callable[..., peewee.Query]) -> None:
        self._build = build
        self._arity = len(inspect.signature(build).parameters)
        self._compiled: dict[type, tuple[peewee.Query, str, list[Any]]] = {}
        self._builders: dict[type, Any] = {}
        self._lock = threading.Lock()

    def _prepare(self, args: tuple[Any, ...]) -> tuple[peewee.Query, str, list[Any]]:
        if len(args) != self._arity:
            raise TypeError(f"expected {self._arity} parameters, got {len(args)}")
        kind = type(database.obj)
        found = self._compiled.get(kind)
        if found is None:
            with self._lock:
                slots = [peewee.Value(_Slot(i), converter=False) for i in range(self._arity)]
                query = self._build(*slots)
                sql, params = query.sql()
                used = {p.index for p in params if isinstance(p, _Slot)}
                if used != set(range(self._arity)):
                    raise TypeError("every parameter must appear in the query exactly as given")
                found = self._compiled[kind] = (query, sql, params)
        query, sql, template = found
        params = [args[p.index] if isinstance(p, _Slot) else p for p in template]
        return query, sql, params

    def execute(self, *args: Any) -> int:
        """Run a write statement; return the number of rows it changed."""
        _query, sql, params = self._prepare(args)
        return database.execute_sql(sql, params).rowcount

    def first(self, *args: Any) -> Any:
        """Run a select; return its first row as peewee would (models, joins), or None."""
        rows = self._rows(args, one=True)
        return rows[0] if rows else None

    def all(self, *args: Any) -> list[Any]:
        """Run a select; return every row as peewee would (models, joins)."""
        return self._rows(args, one=False)

    def _rows(self, args: tuple[Any, ...], one: bool) -> list[Any]:
        query, sql, params = self._prepare(args)
        cursor = database.execute_sql(sql, params)
        try:
            rows = cursor.fetchmany(1) if one else cursor.fetchall()
            if not rows:
                return []
            kind = type(database.obj)
            builder = self._builders.get(kind)
            if builder is None:
                # peewee's own row construction (private, pinned by setup.cfg's
                # range and tests/test_db.py), so joined models come back exactly
                # as from a peewee query. Its column plan depends only on the SQL,
                # so it is worked out once; building a row reads nothing else.
                builder = query._get_cursor_wrapper(cursor)
                builder.initialize()
                builder.cursor = None
                self._builders[kind] = builder
            return [builder.process_row(row) for row in rows]
        finally:
            cursor.close()
