"""Per-request memo for lookups several hooks of one page need.

Only GET requests are cached: a request that writes reads fresh rows.
Outside a request (worker, CLI) nothing is cached.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from flask import g, has_request_context, request

T = TypeVar("T")


def per_request(key: Hashable, load: Callable[[], T]) -> T:
    if not has_request_context() or request.method != "GET":
        return load()
    cache = g.setdefault("_kontor_cache", {})
    if key not in cache:
        cache[key] = load()
    return cache[key]
