"""Rate limits on the views that send mail or SMS or check a secret.

Views declare their limits with Flask-Limiter as its docs show::

    @limiter.limit("5 per minute;20 per hour", key_func=..., methods=["POST"])

There are no default or application-wide limits, so a view without a limit
is not counted. Past a limit Flask-Limiter raises ``RateLimitExceeded`` (a
429), which ``core.app`` answers with a German page or the API's JSON error,
with ``Retry-After`` from :func:`retry_after`.

Counters live in ``KONTOR_RATELIMIT_STORAGE_URL`` (Flask-Limiter's
``RATELIMIT_STORAGE_URI``): by default ``sqlite:///<instance>/ratelimit.db``
(:class:`SQLiteStorage`), shared by every worker process of the instance;
``redis://`` shared by every instance; ``memory://`` per process, so for a
single process only (``gunicorn.conf.py`` refuses more workers with it).

Flask-Limiter keeps the storage on the one ``limiter`` object, so in a
process that creates several apps (tests) the app initialised last decides
the storage for all of them.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits.storage import Storage

#: The app's limiter; behind a proxy the client address is the one ProxyFix
#: left (``KONTOR_PROXY_COUNT`` trusted hops).
limiter = Limiter(key_func=get_remote_address)


def submitted_address(field: str = "email") -> str:
    """The address a login form was sent for, read as Flask-WTF reads the body
    (form fields, or a JSON object), so that no body shape escapes the count."""
    value = request.form.get(field)
    if value is None and request.is_json:
        body = request.get_json(silent=True)
        value = body.get(field) if isinstance(body, dict) else None
    return str(value or "").strip().lower()[:254]


def login_key() -> str:
    """Count login attempts per target address, whatever IP they come from."""
    return "login:" + submitted_address()


def retry_after() -> int:
    """Whole seconds until the limit that refused this request lets one through."""
    refused = limiter.current_limit
    if refused is None:
        return 1
    # window.reset_time is exact; reset_at is rounded up by a second.
    return max(1, math.ceil(refused.window.reset_time - time.time()))


class SQLiteStorage(Storage):
    """Fixed-window counters in a SQLite file, shared by the processes that open it.

    ``limits`` ships storages for memory (one process), Redis, Memcached,
    MongoDB and etcd, none for a single machine without a server. This one
    registers the ``sqlite://`` scheme with ``limits`` (``sqlite:////abs/path``)
    and keeps one row per counter; one ``INSERT ... ON CONFLICT ... RETURNING``
    counts atomically across processes. Each process (and thread) opens its
    own connection on first use, so an app created before gunicorn forks its
    workers shares no connection with them. Expired rows are deleted as new
    counts are made.
    """

    STORAGE_SCHEME = ["sqlite"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: float | str | bool):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        parts = urlsplit(uri)
        self.path = unquote(parts.netloc + parts.path)
        if not self.path:
            raise ValueError(f"expected sqlite:///<file>, got {uri!r}")
        self.local = threading.local()
        file = Path(self.path)
        file.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(file, os.O_WRONLY | os.O_CREAT, 0o600))  # the counters name addresses
        with closing(self._open()) as conn:
            conn.execute("PRAGMA journal_mode=wal")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS ratelimit"
                " (key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires REAL NOT NULL)"
            )
            conn.execute("CREATE INDEX IF NOT EXISTS ratelimit_expires ON ratelimit (expires)")

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        conn.execute("PRAGMA synchronous=normal")
        return conn

    @property
    def connection(self) -> sqlite3.Connection:
        """This process's and thread's connection, opened on first use."""
        pid, conn = getattr(self.local, "opened", (None, None))
        if pid != os.getpid() or conn is None:
            conn = self._open()
            self.local.opened = (os.getpid(), conn)
        return conn

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add ``amount`` to the counter; one past its expiry is dropped first,
        so the window starts again with this request."""
        now = time.time()
        conn = self.connection
        conn.execute("DELETE FROM ratelimit WHERE expires <= ?", (now,))
        [(count,)] = conn.execute(
            "INSERT INTO ratelimit (key, count, expires) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET count = count + excluded.count RETURNING count",
            (key, amount, now + expiry),
        ).fetchall()  # stepped to the end: the statement commits
        return int(count)

    def get(self, key: str) -> int:
        row = self.connection.execute(
            "SELECT count FROM ratelimit WHERE key = ? AND expires > ?", (key, time.time())
        ).fetchone()
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        row = self.connection.execute(
            "SELECT expires FROM ratelimit WHERE key = ?", (key,)
        ).fetchone()
        return float(row[0]) if row else time.time()

    def check(self) -> bool:
        try:
            self.connection.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        return self.connection.execute("DELETE FROM ratelimit").rowcount

    def clear(self, key: str) -> None:
        self.connection.execute("DELETE FROM ratelimit WHERE key = ?", (key,))
