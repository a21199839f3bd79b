"""Configuration from ``KONTOR_*`` environment variables.

Every setting is parsed and validated here, once, at start. A missing or
malformed value raises :class:`ConfigError` whose message is one line naming
the variable, so an operator sees at once what to fix.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from collections.abc import Mapping
from email.headerregistry import Address
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from limits import parse_many

from core.delivery.operator_server import flask_mail_config


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the variable."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")


def _int(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}: must be between {low} and {high}, got {value}")
    return value


def _list(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _bare_address(name: str, raw: str) -> str:
    """An address without a display name, as the mail parser reads it (no "<", ",", ...)."""
    value = raw.strip()
    try:
        parsed = Address(addr_spec=value)
    except ValueError:  # the email package's parse errors and defects are ValueErrors
        parsed = None
    if parsed is None or not parsed.username or not parsed.domain or not value.isprintable():
        raise ConfigError(f"{name}: expected a bare e-mail address, got {raw!r}")
    return value


def _url(name: str, raw: str, schemes: set[str]) -> str:
    scheme = urlsplit(raw).scheme
    if scheme not in schemes:
        allowed = ", ".join(sorted(f"{s}://" for s in schemes))
        raise ConfigError(f"{name}: expected a URL starting with {allowed}, got {raw!r}")
    return raw


def _base_url(name: str, raw: str, secure: bool) -> str:
    """The public address links in mails start with: ``scheme://host[:port][/path]``."""
    value = raw.strip().rstrip("/")
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if (
        parts is None
        or not port_ok
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.query
        or parts.fragment
        or not value.isprintable()
        or " " in value
    ):
        raise ConfigError(f"{name}: expected http(s)://host[:port][/path], got {raw!r}")
    if secure and parts.scheme != "https":
        raise ConfigError(f"{name}: must start with https:// when KONTOR_COOKIE_SECURE is true")
    return value


def _page_link(name: str, raw: str) -> str | None:
    """A footer link: empty hides it; a path on this site or an http(s) URL."""
    value = raw.strip()
    if not value:
        return None
    if value.startswith("/") and not value.startswith("//"):
        return value
    if not urlsplit(_url(name, value, {"http", "https"})).netloc:
        raise ConfigError(f"{name}: expected a URL with a host, got {raw!r}")
    return value


def _rate_limit(name: str, raw: str) -> str:
    """A Flask-Limiter limit string (``10 per minute;50 per hour``), checked
    here so that a typo stops the start instead of failing the first request."""
    try:
        items = parse_many(raw)
    except ValueError:
        raise ConfigError(
            f"{name}: expected limits like '10 per minute;50 per hour', got {raw!r}"
        ) from None
    if any(item.amount < 1 for item in items):
        raise ConfigError(f"{name}: every limit must allow at least 1 request, got {raw!r}")
    return raw.strip()


def _generated(path: Path, make: Any) -> str:
    """Read a dev default from the instance folder, creating it once."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(make())
    return path.read_text().strip()


def _encryption_keys(name: str, raw: str) -> list[str]:
    keys = _list(raw)
    if not keys:
        raise ConfigError(f"{name}: at least one key is required")
    for key in keys:
        try:
            decoded = base64.urlsafe_b64decode(key.encode())
        except (binascii.Error, ValueError):
            decoded = b""
        if len(decoded) != 32:
            raise ConfigError(f"{name}: every key must be 32 url-safe base64 bytes (Fernet key)")
    return keys


def _allowed_hosts(name: str, raw: str) -> frozenset[tuple[str, int]]:
    pairs = set()
    for item in _list(raw):
        host, sep, port = item.rpartition(":")
        if not sep or not host:
            raise ConfigError(f"{name}: expected host:port pairs, got {item!r}")
        pairs.add((host.strip("[]").lower(), _int(name, port, 1, 65535)))
    return frozenset(pairs)


def load_config(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Build the Flask config from the environment, then apply ``overrides``.

    ``overrides`` use the same ``KONTOR_*`` names (as strings or already typed
    values) and exist for tests and the CLI.
    """
    env: dict[str, Any] = dict(os.environ if environ is None else environ)
    env.update({k: v for k, v in (overrides or {}).items() if k.startswith("KONTOR_")})

    def raw(name: str, default: str = "") -> str:
        value = env.get(name, default)
        return value if isinstance(value, str) else str(value)

    instance = Path(raw("KONTOR_INSTANCE_PATH", "./instance")).expanduser().resolve()
    cfg: dict[str, Any] = {"KONTOR_INSTANCE_PATH": str(instance)}

    cfg["KONTOR_DATABASE_URL"] = _url(
        "KONTOR_DATABASE_URL",
        raw("KONTOR_DATABASE_URL") or f"sqlite:///{instance / 'kontor.db'}",
        {"sqlite", "postgresql", "postgres"},
    )
    cfg["KONTOR_QUEUE_URL"] = _url(
        "KONTOR_QUEUE_URL",
        raw("KONTOR_QUEUE_URL") or f"sqlite:///{instance / 'queue.db'}",
        {"sqlite", "redis", "rediss", "memory"},
    )
    secret = raw("KONTOR_SECRET_KEY") or _generated(
        instance / "secret_key", lambda: secrets.token_urlsafe(48)
    )
    if len(secret) < 16:
        raise ConfigError("KONTOR_SECRET_KEY: must be at least 16 characters long")
    cfg["SECRET_KEY"] = secret
    cfg["KONTOR_ENCRYPTION_KEYS"] = _encryption_keys(
        "KONTOR_ENCRYPTION_KEYS",
        raw("KONTOR_ENCRYPTION_KEYS")
        or _generated(instance / "encryption_keys", lambda: Fernet.generate_key().decode()),
    )
    tokens = _list(raw("KONTOR_SERVICE_TOKENS"))
    if any(len(t) < 16 for t in tokens):
        raise ConfigError("KONTOR_SERVICE_TOKENS: every token must be at least 16 characters")
    cfg["KONTOR_SERVICE_TOKENS"] = tokens

    cfg["KONTOR_MAIL_SERVER"] = raw("KONTOR_MAIL_SERVER").strip() or None
    cfg["KONTOR_MAIL_PORT"] = _int("KONTOR_MAIL_PORT", raw("KONTOR_MAIL_PORT", "25"), 1, 65535)
    cfg["KONTOR_MAIL_USE_TLS"] = _bool("KONTOR_MAIL_USE_TLS", raw("KONTOR_MAIL_USE_TLS"))
    cfg["KONTOR_MAIL_USE_SSL"] = _bool("KONTOR_MAIL_USE_SSL", raw("KONTOR_MAIL_USE_SSL"))
    if cfg["KONTOR_MAIL_USE_TLS"] and cfg["KONTOR_MAIL_USE_SSL"]:
        raise ConfigError("KONTOR_MAIL_USE_SSL: cannot be combined with KONTOR_MAIL_USE_TLS")
    cfg["KONTOR_MAIL_USERNAME"] = raw("KONTOR_MAIL_USERNAME") or None
    cfg["KONTOR_MAIL_PASSWORD"] = raw("KONTOR_MAIL_PASSWORD") or None
    cfg["KONTOR_MAIL_DEFAULT_SENDER"] = _bare_address(
        "KONTOR_MAIL_DEFAULT_SENDER", raw("KONTOR_MAIL_DEFAULT_SENDER", "noreply@kontor.invalid")
    )
    cfg["KONTOR_MAIL_CA_FILE"] = raw("KONTOR_MAIL_CA_FILE") or None
    cfg["KONTOR_MAIL_TIMEOUT"] = _int(
        "KONTOR_MAIL_TIMEOUT", raw("KONTOR_MAIL_TIMEOUT", "10"), 1, 60
    )
    cfg.update(flask_mail_config(cfg))

    sms_url = raw("KONTOR_SMS_GATEWAY_URL").strip()
    cfg["KONTOR_SMS_GATEWAY_URL"] = (
        _url("KONTOR_SMS_GATEWAY_URL", sms_url, {"http", "https"}) if sms_url else None
    )
    cfg["KONTOR_SMS_GATEWAY_TOKEN"] = raw("KONTOR_SMS_GATEWAY_TOKEN") or None

    cfg["KONTOR_RATELIMIT_STORAGE_URL"] = _url(
        "KONTOR_RATELIMIT_STORAGE_URL",
        raw("KONTOR_RATELIMIT_STORAGE_URL") or f"sqlite:///{instance / 'ratelimit.db'}",
        {"sqlite", "memory", "redis", "rediss"},
    )
    cfg["KONTOR_MAIL_ALLOWED_HOSTS"] = _allowed_hosts(
        "KONTOR_MAIL_ALLOWED_HOSTS", raw("KONTOR_MAIL_ALLOWED_HOSTS")
    )
    cfg["KONTOR_DISABLED_PLUGINS"] = frozenset(_list(raw("KONTOR_DISABLED_PLUGINS")))
    plans = raw("KONTOR_PLANS_FILE").strip()
    if plans and not Path(plans).is_file():
        raise ConfigError(f"KONTOR_PLANS_FILE: no such file {plans!r}")
    cfg["KONTOR_PLANS_FILE"] = plans or None
    # The SEPA creditor identifier printed on direct-debit mandates; the
    # subscriptions plugin checks it at start (empty: no direct debit offered).
    cfg["KONTOR_SUBSCRIPTIONS_CREDITOR_ID"] = (
        raw("KONTOR_SUBSCRIPTIONS_CREDITOR_ID").replace(" ", "").upper() or None
    )
    # The seller printed on subscription invoices; the subscriptions plugin
    # checks them at start (none given: no invoices are issued).
    for name in (
        "KONTOR_SELLER_NAME",
        "KONTOR_SELLER_STREET",
        "KONTOR_SELLER_POSTAL_CODE",
        "KONTOR_SELLER_CITY",
        "KONTOR_SELLER_COUNTRY",
        "KONTOR_SELLER_VAT_ID",
        "KONTOR_SELLER_TAX_NUMBER",
        "KONTOR_SELLER_EMAIL",
        "KONTOR_INVOICE_PREFIX",
    ):
        cfg[name] = " ".join(raw(name).split()) or None
    for name in ("KONTOR_SELLER_COUNTRY", "KONTOR_SELLER_VAT_ID", "KONTOR_INVOICE_PREFIX"):
        cfg[name] = cfg[name] and cfg[name].replace(" ", "").upper()
    cfg["KONTOR_COOKIE_SECURE"] = _bool("KONTOR_COOKIE_SECURE", raw("KONTOR_COOKIE_SECURE", "true"))
    # Links in mails never take their host from a request's Host header. In
    # production (secure cookies) the address must be given; dev gets localhost.
    base_url = raw("KONTOR_BASE_URL").strip()
    if not base_url and cfg["KONTOR_COOKIE_SECURE"]:
        raise ConfigError(
            "KONTOR_BASE_URL: required when KONTOR_COOKIE_SECURE is true "
            "(the public https:// address of this instance)"
        )
    cfg["KONTOR_BASE_URL"] = _base_url(
        "KONTOR_BASE_URL", base_url or "http://127.0.0.1:5000", cfg["KONTOR_COOKIE_SECURE"]
    )
    cfg["KONTOR_MAX_CONTENT_LENGTH"] = _int(
        "KONTOR_MAX_CONTENT_LENGTH", raw("KONTOR_MAX_CONTENT_LENGTH", "1048576"), 1024, 1 << 30
    )
    cfg["KONTOR_PROXY_COUNT"] = _int("KONTOR_PROXY_COUNT", raw("KONTOR_PROXY_COUNT", "0"), 0, 10)
    log_format = raw("KONTOR_LOG_FORMAT", "text").strip().lower()
    if log_format not in ("text", "json"):
        raise ConfigError(f"KONTOR_LOG_FORMAT: expected text or json, got {log_format!r}")
    cfg["KONTOR_LOG_FORMAT"] = log_format
    cfg["KONTOR_LOGIN_LIMIT"] = _rate_limit(
        "KONTOR_LOGIN_LIMIT", raw("KONTOR_LOGIN_LIMIT", "10 per minute;50 per hour")
    )
    cfg["KONTOR_SESSION_LIFETIME_HOURS"] = _int(
        "KONTOR_SESSION_LIFETIME_HOURS", raw("KONTOR_SESSION_LIFETIME_HOURS", "336"), 1, 8760
    )
    for name in ("KONTOR_IMPRINT_URL", "KONTOR_PRIVACY_URL", "KONTOR_TERMS_URL"):
        cfg[name] = _page_link(name, raw(name))

    # Flask's own names, derived from ours.
    cfg["MAX_CONTENT_LENGTH"] = cfg["KONTOR_MAX_CONTENT_LENGTH"]
    cfg["SESSION_COOKIE_SECURE"] = cfg["KONTOR_COOKIE_SECURE"]
    cfg["SESSION_COOKIE_HTTPONLY"] = True
    cfg["SESSION_COOKIE_SAMESITE"] = "Lax"
    cfg["SESSION_COOKIE_NAME"] = "kontor_session"
    # The cookie lives as long as the server-side session it names (set at
    # login); re-signing it on every request would not extend that session.
    cfg["SESSION_REFRESH_EACH_REQUEST"] = False
    # A form's token is good for as long as a login lasts, not for ever; logging
    # in or out starts a new session and with it a new token.
    cfg["WTF_CSRF_TIME_LIMIT"] = cfg["KONTOR_SESSION_LIFETIME_HOURS"] * 3600
    cfg["WTF_CSRF_SSL_STRICT"] = cfg["KONTOR_COOKIE_SECURE"]
    cfg["BABEL_DEFAULT_LOCALE"] = "de"
    cfg["BABEL_DEFAULT_TIMEZONE"] = "Europe/Berlin"
    cfg["RATELIMIT_STORAGE_URI"] = cfg["KONTOR_RATELIMIT_STORAGE_URL"]

    # Non-KONTOR overrides (e.g. TESTING, WTF_CSRF_ENABLED) pass through as given.
    cfg.update({k: v for k, v in (overrides or {}).items() if not k.startswith("KONTOR_")})
    return cfg
