"""Database access: one proxy, bound per app; a connection per thread.

SQLite gets WAL, foreign keys and a busy timeout, and write transactions
start IMMEDIATE so two writers queue instead of failing half-way. Each thread
keeps its connection between requests and jobs (SQLite and PostgreSQL alike)
and checks at the start of each unit of work that the server has not closed
it. Nothing here opens a connection at import time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import select
from urllib.parse import parse_qs, unquote, urlsplit

import peewee
from flask import Flask

database = peewee.DatabaseProxy()


class KontorSqliteDatabase(peewee.SqliteDatabase):
    """SQLite whose transactions take the write lock up front."""

    def begin(self, lock_type: str | None = None) -> None:
        # Every transaction (also through the proxy) takes the write lock at
        # BEGIN: a deferred one that reads, then writes, fails at once with
        # "database is locked" when another writer got in between.
        super().begin(lock_type or "IMMEDIATE")

    def for_update(self, query: peewee.Select) -> peewee.Select:
        """SQLite serialises writers already; no row lock is needed."""
        return query


class KontorPostgresDatabase(peewee.PostgresqlDatabase):
    """PostgreSQL with one connection per thread; ``for_update`` locks the selected rows.

    A thread keeps its connection between requests: a pool would check each
    connection out with a ``SELECT 1`` round trip, which costs about as much
    as a service-API request's own statements. A thread's connection closes
    when the thread ends.
    """

    def for_update(self, query: peewee.Select) -> peewee.Select:
        return query.for_update()

    def kept_connection_alive(self) -> bool:
        """False if the server closed this thread's idle connection.

        The server announces a terminated backend (restart, administrator,
        idle timeout) with an error message and closes the socket; an idle
        connection has nothing to read otherwise. So a readable socket, or
        one psycopg2 already saw closed, means the connection is gone. This
        costs one ``select`` call instead of a round trip.
        """
        conn = self.connection()
        if conn.closed:
            return False
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
        return not readable


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
    query.pop("max_connections", None)  # older URLs sized a pool; each thread keeps one now
    return KontorPostgresDatabase(
        unquote(parts.path.lstrip("/")),
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        host=parts.hostname or None,
        port=parts.port or 5432,
        **query,
    )


def bind(app: Flask) -> peewee.Database:
    """Point the shared proxy at this app's database."""
    db = app.extensions["kontor"].database
    if database.obj is not db:
        database.initialize(db)
    return db


def connect(db: peewee.Database) -> bool:
    """Start a request's or job's use of this thread's connection.

    Reuses the connection the thread kept, unless the server closed it
    meanwhile: then it is dropped and a new one opened, so a database
    restart costs no failed request. True if a connection was opened.
    """
    kept = isinstance(db, KontorPostgresDatabase) and not db.is_closed()
    if kept and not db.kept_connection_alive():
        with contextlib.suppress(peewee.DatabaseError, peewee.InterfaceError):
            db.close()
    return db.connect(reuse_if_open=True)


def release(db: peewee.Database) -> None:
    """End a request's or job's use of this thread's connection.

    The connection stays open for the thread's next request or job: opening
    one costs more than a page's queries (and for SQLite, the last connection
    to close checkpoints and deletes the WAL). Its queries' statements are
    reset when they are freed, so the next unit of work reads fresh data. A
    connection left inside a transaction is closed.
    """
    if db.is_closed() or not db.in_transaction():
        return
    db.close()


def init_app(app: Flask) -> None:
    """Connect at the start of each request; release the connection after it."""

    @app.before_request
    def _connect() -> None:
        connect(bind(app))

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
