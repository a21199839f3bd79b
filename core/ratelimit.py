"""Rate limits (Flask-Limiter); storage from ``KONTOR_RATELIMIT_STORAGE_URL``.

Behind a proxy the client address comes from ``X-Forwarded-For`` only when
``KONTOR_PROXY_COUNT`` says how many proxies to trust (ProxyFix).
"""

from __future__ import annotations

from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from core.pagecache import reading_cached_page

limiter = Limiter(key_func=get_remote_address, default_limits=[])


@limiter.request_filter
def _reading_a_settings_page() -> bool:
    """Loading a settings page sends nothing and has no limit; skip the limit
    lookup, which costs as much as serving the page from the page cache."""
    return reading_cached_page()


def login_key() -> str:
    """Count login attempts per target address, whatever IP they come from."""
    return "login:" + request.form.get("email", "").strip().lower()[:254]
