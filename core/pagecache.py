"""Whole-page cache for account pages, valid only while the database is unchanged.

A view marked :func:`cached_page` has its GET page stored after rendering and
served again to the same login session, for the same URL and language, while

- the database's version (``Database.version()``) is the one read before the
  page was rendered: any commit anywhere (a form on another worker, the
  service API, the queue worker, a plugin's own tables) changes it, so no
  plugin has to invalidate anything; and
- the page is younger than ``KONTOR_PAGE_CACHE_SECONDS``, which bounds what
  only the clock changes (a support grant running out).

Pages that carry a flash message, set a cookie or change the session are not
stored. Each process keeps its own entries (least recently used go first).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from functools import wraps
from typing import Any, NamedTuple, TypeVar

from flask import current_app, request, session
from flask_babel import get_locale
from flask_login import current_user
from werkzeug.wrappers import Response

from core.db import database

F = TypeVar("F", bound=Callable[..., Any])
_PLAIN_HEADERS = frozenset({"content-type", "content-length"})


class _Entry(NamedTuple):
    version: Hashable
    stored_at: float
    body: bytes


class PageCache:
    """Rendered pages by key, each valid for one database version and ``seconds``."""

    def __init__(
        self, seconds: float, size: int = 512, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self.size = size
        self._clock = clock
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: Hashable) -> bytes | None:
        """The stored page, if it was rendered at ``version`` and is still fresh."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.version != version or self._clock() - entry.stored_at >= self.seconds:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry.body

    def put(self, key: Hashable, version: Hashable, body: bytes) -> None:
        with self._lock:
            self._entries[key] = _Entry(version, self._clock(), body)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def _storable(response: Response) -> bool:
    return (
        response.status_code == 200
        and response.mimetype == "text/html"
        and not response.is_streamed
        and {name.lower() for name, _value in response.headers.items()} <= _PLAIN_HEADERS
    )


def cached_page(view: F) -> F:
    """Serve the view's GET page from the page cache while nothing changed.

    For views whose page depends only on the database, the logged-in user,
    the URL and the clock (within the cache's seconds). Put it below
    ``login_required`` and any role check: those still run on every request.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        cache: PageCache | None = current_app.extensions["kontor"].page_cache
        if (
            cache is None
            or request.method != "GET"
            or not current_user.is_authenticated
            or "_flashes" in session
        ):
            return view(*args, **kwargs)
        key = (
            request.full_path,
            current_user.get_id(),
            session.get("csrf_token"),
            str(get_locale()),
        )
        version = database.obj.version()
        body = cache.get(key, version)
        if body is not None:
            return current_app.response_class(body, mimetype="text/html")
        response = current_app.make_response(view(*args, **kwargs))
        if _storable(response) and not session.modified and database.obj.version() == version:
            cache.put(key, version, response.get_data())
        return response

    return wrapper  # type: ignore[return-value]
