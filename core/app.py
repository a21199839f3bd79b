"""The application factory."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import peewee
from babel import Locale
from flask import Flask, current_app, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import Babel, get_locale
from flask_babel import gettext as _
from flask_limiter import RateLimitExceeded
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from markupsafe import Markup
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import BaseConverter, IntegerConverter, Map
from werkzeug.wrappers import Response

from core.config import load_config
from core.contract.manager import (
    KontorPluginManager,
    build_plugin_manager,
    check_endpoints,
    check_schema,
    check_unique,
    declared,
)
from core.contract.values import (
    Card,
    Channel,
    EventType,
    PlanResource,
    Schema,
    Section,
    SensitiveAction,
)
from core.data import db
from core.delivery import operator_server
from core.delivery.job_queue import Queue
from core.logs import init_app as init_logs
from core.security import auth
from core.web import formatting, openapi, permissions, ratelimit
from core.web.api import (
    API_PREFIX,
    MAX_JSON_DEPTH,
    error_headers,
    error_response,
    handle_http_error,
)
from core.web.formatting import LANGUAGE_COOKIE, LANGUAGES
from core.web.openapi import OpenApi
from core.web.validation import MAX_ROW_ID

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
log = logging.getLogger("kontor")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


@dataclass
class Kontor:
    """Per-app state, kept in ``app.extensions["kontor"]``.

    What the declaring hooks return cannot change while the app runs, so it
    is collected once here, in display order, when the app is created.
    """

    pm: KontorPluginManager
    database: peewee.Database
    queue: Queue | None = None
    sections: list[Section] = field(default_factory=list)
    event_types: list[EventType] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)
    plan_resources: list[PlanResource] = field(default_factory=list)
    sensitive_actions: list[SensitiveAction] = field(default_factory=list)
    #: Each section's URL path (its endpoint's rule without arguments), by endpoint.
    section_paths: dict[str, str] = field(default_factory=dict)
    #: The API document and its request-body validators, built once every route is registered.
    api: OpenApi | None = None
    #: How many plugins answer ``kontor_event_wanted``, or None when a plugin
    #: reacting to events does not answer it (every event then takes a transaction).
    event_askers: int | None = None
    cache: dict[str, Any] = field(default_factory=dict)  # per-app data plugins derive once

    def schemas(self) -> list[Schema]:
        return [s for s in self.pm.hook.kontor_schema() if s is not None]


def _collect(results: list[Any]) -> list[Any]:
    return [item for result in results if result for item in result]


def _in_order(items: list[tuple[str, Any]]) -> list[Any]:
    """Declared items sorted by their ``order``, then ``key``, once their keys are unique."""
    return sorted((item for _plugin, item in items), key=lambda item: (item.order, item.key))


def create_app(
    config: Mapping[str, Any] | None = None,
    plugins: Sequence[object] | Mapping[str, object] = (),
) -> Flask:
    """Build a Kontor app from the environment plus ``config`` overrides.

    ``plugins`` are extra plugin objects registered after the entry points
    (a mapping names them; else each is named by its ``__name__``). A
    declaration that does not fit (see :func:`_check_declarations`) ends the
    start with a :class:`~core.contract.manager.PluginError`.
    """
    cfg = load_config(overrides=config)
    app = Flask(
        "kontor",
        root_path=str(ROOT / "core"),
        instance_path=cfg["KONTOR_INSTANCE_PATH"],
        template_folder=str(TEMPLATES),
        static_folder=str(ROOT / "core" / "static"),
    )
    app.config.update(cfg)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if cfg["KONTOR_PROXY_COUNT"]:
        n = cfg["KONTOR_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    pm = build_plugin_manager(cfg["KONTOR_DISABLED_PLUGINS"], plugins)
    pm.hook.kontor_check_config(config=cfg)
    kontor = Kontor(pm=pm, database=db.open_database(cfg["KONTOR_DATABASE_URL"]))
    app.extensions["kontor"] = kontor
    app.plugin_manager = pm  # type: ignore[attr-defined]
    init_logs(app)
    db.init_app(app)
    db.bind(app)

    app.json = BoundedJSON(app)
    app.url_map.converters["int"] = RowId
    app.url_map.converters["default"] = app.url_map.converters["string"] = Segment
    csrf = CSRFProtect(app)
    blueprint_owners: dict[str, str] = {}
    for plugin, bp in declared(pm, "kontor_blueprints"):
        app.register_blueprint(bp)
        blueprint_owners[bp.name] = plugin
        if getattr(bp, "kontor_api", False):
            csrf.exempt(bp)
    openapi.init_app(app)  # after every API route is registered
    found = {hook: declared(pm, hook) for hook in DECLARING_HOOKS}
    _check_declarations(app, found, blueprint_owners)
    kontor.sections = _in_order(found["kontor_settings_sections"])
    kontor.section_paths = {s.endpoint: _plain_path(app, s.endpoint) for s in kontor.sections}
    kontor.event_types = _in_order(found["kontor_event_types"])
    kontor.channels = _in_order(found["kontor_notification_channels"])
    kontor.plan_resources = _in_order(found["kontor_plan_resources"])
    kontor.sensitive_actions = [action for _plugin, action in found["kontor_sensitive_actions"]]
    reacting = {impl.plugin_name for impl in pm.hook.kontor_event_emitted.get_hookimpls()}
    asked = {impl.plugin_name for impl in pm.hook.kontor_event_wanted.get_hookimpls()}
    kontor.event_askers = len(asked) if reacting <= asked else None

    kontor.queue = Queue(app)
    for job in _collect(pm.hook.kontor_jobs()):
        kontor.queue.register(job)
    for job in _collect(pm.hook.kontor_periodic_jobs()):
        kontor.queue.register_periodic(job)
    for command in _collect(pm.hook.kontor_cli_commands()):
        app.cli.add_command(command)

    formatting.init_app(app)
    Babel(
        app,
        locale_selector=_select_locale,
        default_translation_directories=str(ROOT / "core" / "translations"),
    )
    auth.init_app(app)
    operator_server.init_app(app)
    ratelimit.limiter.init_app(app)
    _install_template_helpers(app)
    _install_error_handlers(app)
    _install_security_headers(app)
    _install_health(app)
    return app


#: Hooks whose answers cannot change while the app runs: collected once, checked at start.
DECLARING_HOOKS = (
    "kontor_schema",
    "kontor_settings_sections",
    "kontor_event_types",
    "kontor_notification_channels",
    "kontor_plan_resources",
    "kontor_sensitive_actions",
)


def _check_declarations(
    app: Flask, found: Mapping[str, list[tuple[str, Any]]], blueprint_owners: Mapping[str, str]
) -> None:
    """Refuse to start on a declaration that would fail later or silently.

    Like ``check_pending`` for hook names: a section, sensitive action or plan
    resource must name an existing endpoint (a misspelt sensitive action
    would silently drop a support guard), a schema carries its plugin's name
    and table prefix, and no two plugins claim the same key or URL.
    """
    rules = list(app.url_map.iter_rules())
    endpoints = {rule.endpoint for rule in rules}
    sections = [(p, s.endpoint) for p, s in found["kontor_settings_sections"]]
    check_endpoints("a section", sections, endpoints)
    plain = {rule.endpoint for rule in rules if not rule.arguments}
    check_endpoints("a section (a URL without arguments)", sections, plain)
    actions = [(p, a.endpoint) for p, a in found["kontor_sensitive_actions"]]
    check_endpoints("a sensitive action", actions, endpoints)
    resources = found["kontor_plan_resources"]
    managed = [(p, r.manage_endpoint) for p, r in resources if r.manage_endpoint]
    check_endpoints("a plan resource's page", managed, endpoints)
    for kind, hook in (
        ("section", "kontor_settings_sections"),
        ("event type", "kontor_event_types"),
        ("channel", "kontor_notification_channels"),
        ("plan resource", "kontor_plan_resources"),
    ):
        check_unique(kind, [(p, item.key) for p, item in found[hook]])
    urls = {(blueprint_owners.get(r.endpoint.split(".")[0], "core"), r.rule) for r in rules}
    check_unique("URL", sorted(urls))
    for plugin, schema in found["kontor_schema"]:
        # Model._meta is peewee's documented table metadata (ModelOptions).
        check_schema(plugin, schema.name, [model._meta.table_name for model in schema.models])


class RowId(IntegerConverter):
    """``<int:...>`` in every route: ids beyond a 64-bit row id are a 404, not a 500."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(map, *args, **kwargs)


class Segment(BaseConverter):
    """``<name>`` in every route: a segment with control characters (NUL cannot
    be stored in PostgreSQL text) names nothing, so it is a 404, not a 500."""

    regex = r"[^/\x00-\x1f\x7f]+"
    part_isolating = True


def _too_deep(value: Any) -> bool:
    """True if ``value`` nests lists and objects deeper than MAX_JSON_DEPTH
    (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            if depth > MAX_JSON_DEPTH:
                return True
            stack.extend((child, depth + 1) for child in item)
    return False


class BoundedJSON(DefaultJSONProvider):
    """Flask's JSON provider, refusing bodies nested deeper than
    :data:`MAX_JSON_DEPTH`: the parser runs out of stack on very deep ones
    (``RecursionError``, which Flask does not turn into a 400) and every
    recursive check of a parsed body would too. Refused bodies are a 400 like
    malformed JSON (``request.get_json(silent=True)`` gives None)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = super().loads(s, **kwargs)
            deep = _too_deep(value)
        except RecursionError:
            deep = True
        if deep:
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        return value


_LOCALES = {code: Locale.parse(code) for code in LANGUAGES}


def _select_locale() -> Locale:
    """German unless the language cookie asks for English.

    A parsed Locale is used by Flask-Babel as it is; parsing the code again on
    every request would cost more than the rest of choosing the language.
    """
    lang = request.cookies.get(LANGUAGE_COOKIE) if request else None
    return _LOCALES.get(lang or LANGUAGES[0], _LOCALES[LANGUAGES[0]])


def _visible_sections() -> list[Section]:
    sections = current_app.extensions["kontor"].sections
    if not current_user.is_authenticated:
        return []
    manager = current_user.is_manager
    return [s for s in sections if s.required_role == "member" or manager]


def _plain_path(app: Flask, endpoint: str) -> str:
    """The path ``url_for(endpoint)`` builds without arguments or script root."""
    return next(r.rule for r in app.url_map.iter_rules(endpoint) if not r.arguments)


def _current_section(sections: Sequence[Section]) -> Section | None:
    """The section this page belongs to: the longest section URL the path lies under.

    Sub-pages (``/account/subscription/change`` under ``/account/subscription``)
    mark their section; a path no route matched (a 404) marks none. The
    sections' paths were looked up when the app was created.
    """
    if request.url_rule is None:
        return None
    path = request.path
    paths = current_app.extensions["kontor"].section_paths
    best: Section | None = None
    best_length = -1
    for section in sections:
        url = paths[section.endpoint]
        base = url.rstrip("/")
        if (path == url or path.startswith(base + "/")) and len(base) > best_length:
            best, best_length = section, len(base)
    return best


def _install_template_helpers(app: Flask) -> None:
    pm = app.extensions["kontor"].pm

    def slot(name: str) -> Markup:
        account = current_user.account if current_user.is_authenticated else None
        contents = _collect(pm.hook.kontor_template_slot(slot=name, account=account))
        return Markup("").join(c.html for c in sorted(contents, key=lambda c: c.priority))

    def overview_cards() -> list[Card]:
        """The cards of the sections this user sees; a card for no section is a plugin bug."""
        cards = declared(
            pm, "kontor_overview_cards", account=current_user.account, user=current_user.user
        )
        paths = app.extensions["kontor"].section_paths
        claims = [(p, c.endpoint) for p, c in cards]
        check_endpoints("an overview card", claims, set(paths), "which is no section's page")
        visible = {s.endpoint for s in _visible_sections()}
        return sorted(
            (c for _plugin, c in cards if c.endpoint in visible), key=lambda c: (c.order, c.key)
        )

    app.jinja_env.globals.update(
        slot=slot,
        nav_sections=_visible_sections,
        current_section=_current_section,
        overview_cards=overview_cards,
        get_locale=get_locale,
        can=permissions.can,
        can_edit_page=permissions.can_edit_page,
        write_refusal=permissions.write_refusal,
    )


def _wants_json() -> bool:
    if request.path.startswith(API_PREFIX + "/") or request.path == API_PREFIX:
        return True
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "kontor_json", False)  # marked by core.web.api.json_errors


def _install_error_handlers(app: Flask) -> None:
    messages = {
        400: lambda: _("Die Anfrage war ungültig. Bitte laden Sie die Seite neu."),
        403: lambda: _("Dafür fehlt Ihnen die Berechtigung."),
        404: lambda: _("Diese Seite gibt es nicht."),
        405: lambda: _("Diese Aktion ist hier nicht möglich."),
        413: lambda: _("Die gesendeten Daten sind zu groß."),
        429: lambda: _("Zu viele Versuche. Bitte warten Sie einen Moment."),
        500: lambda: _("Ein interner Fehler ist aufgetreten. Bitte versuchen Sie es später."),
    }

    Page = tuple[str, int, list[tuple[str, str]]]

    def page(status: int, message: str, headers: list[tuple[str, str]] | None = None) -> Page:
        return render_template("error.html", status=status, message=message), status, headers or []

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Response | Page:
        if _wants_json():
            return handle_http_error(exc)
        return page(400, _("Das Formular ist abgelaufen. Bitte laden Sie die Seite neu."))

    @app.errorhandler(RateLimitExceeded)
    def too_many_requests(exc: RateLimitExceeded) -> Response | Page:
        """Flask-Limiter's refusal; its description names the limit, which stays internal."""
        retry = [("Retry-After", str(ratelimit.retry_after()))]
        if _wants_json():
            response = error_response(429, "Too many requests.")
            response.headers.extend(retry)
            return response
        return page(429, messages[429](), retry)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response | Page:
        if _wants_json():
            return handle_http_error(exc)
        status = exc.code or 500
        explicit = exc.description if exc.description != type(exc).description else None
        return page(status, explicit or messages.get(status, messages[400])(), error_headers(exc))

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> Response | Page:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_json():
            return error_response(500, "Internal error.")
        return page(500, messages[500]())


def _install_security_headers(app: Flask) -> None:
    defaults = [
        ("Content-Security-Policy", CSP),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
    ]
    if app.config["KONTOR_COOKIE_SECURE"]:
        defaults.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))

    @app.after_request
    def headers(response: Response) -> Response:
        h = response.headers
        present = {name.lower() for name, _value in h.items()}  # a view may set its own
        h.extend([(name, value) for name, value in defaults if name.lower() not in present])
        if not request.path.startswith("/static/"):
            h["Cache-Control"] = "no-store"
        return response


def _install_health(app: Flask) -> None:
    from core.delivery.job_queue import ping

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> tuple[dict[str, Any], int]:
        checks: dict[str, str] = {}
        try:
            app.extensions["kontor"].database.execute_sql("SELECT 1")
            checks["database"] = "ok"
        except peewee.PeeweeException:
            checks["database"] = "unreachable"
        try:
            ping(app)
            checks["queue"] = "ok"
        except Exception:  # any storage backend error means "not ready"
            checks["queue"] = "unreachable"
        ok = all(v == "ok" for v in checks.values())
        return {"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503
