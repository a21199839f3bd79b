"""Rate limits on the views that send mail or check a password.

A view decorated with ``limiter.limit("5 per minute;20 per hour")`` counts
each of its requests (of the given methods) against every limit of the spec,
per client address or per ``key_func``; past a limit the request is refused
with 429 and ``Retry-After``. Counters are fixed windows that start with the
first request, kept in ``KONTOR_RATELIMIT_STORAGE_URL`` (``memory://`` per
process, ``redis://`` shared by every instance).

The check runs inside the decorated view only, after the login and role
checks, so requests to views without a limit do not pay for it. Behind a
proxy the client address comes from ``X-Forwarded-For`` only when
``KONTOR_PROXY_COUNT`` says how many proxies to trust (ProxyFix).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from functools import cache, wraps
from typing import Any, TypeVar

from flask import Flask, current_app, request
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

F = TypeVar("F", bound=Callable[..., Any])
LimitValue = str | Callable[[], str]


def client_address() -> str:
    """The client's address (as ProxyFix left it)."""
    return request.remote_addr or "127.0.0.1"


@cache
def _parse(spec: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(spec))


class Limiter:
    """The app's rate limiter; views declare their limits with :meth:`limit`."""

    def init_app(self, app: Flask) -> None:
        storage = storage_from_string(app.config["KONTOR_RATELIMIT_STORAGE_URL"])
        app.extensions["kontor_ratelimit"] = FixedWindowRateLimiter(storage)

    def limit(
        self,
        value: LimitValue,
        key_func: Callable[[], str] = client_address,
        methods: Iterable[str] | None = None,
    ) -> Callable[[F], F]:
        """Limit the view to ``value`` (``"10 per hour"``, ``;`` between several,
        or a callable returning such a spec) per ``key_func()``, counting only
        requests of ``methods`` (all when None)."""
        counted = None if methods is None else frozenset(m.upper() for m in methods)

        def decorate(view: F) -> F:
            @wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                if counted is None or request.method in counted:
                    spec = value() if callable(value) else value
                    _count(spec, key_func(), request.endpoint or view.__name__)
                return view(*args, **kwargs)

            return wrapper  # type: ignore[return-value]

        return decorate


def _count(spec: str, key: str, scope: str) -> None:
    """Count one request against every limit of ``spec``; 429 past the first one exhausted."""
    strategy: FixedWindowRateLimiter = current_app.extensions["kontor_ratelimit"]
    for item in _parse(spec):
        if not strategy.hit(item, key, scope):
            reset = strategy.get_window_stats(item, key, scope).reset_time
            raise TooManyRequests(retry_after=max(1, math.ceil(reset - time.time())))


limiter = Limiter()


def login_key() -> str:
    """Count login attempts per target address, whatever IP they come from."""
    return "login:" + request.form.get("email", "").strip().lower()[:254]
