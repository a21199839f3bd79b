"""The service API: bearer tokens, JSON errors, and core's own routes.

Plugins build their API blueprints with :func:`service_blueprint` and return
them from ``kontor_blueprints``; authentication and error format come along.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from core.data.db import database
from core.data.models import Account, User
from core.delivery.events import UnknownEventType, emit
from core.web.validation import has_control_chars

F = TypeVar("F", bound=Callable[..., Any])
API_PREFIX = "/api/v1"
#: How deeply a JSON body may nest (``core.app.BoundedJSON``); deeper bodies are a 400.
MAX_JSON_DEPTH = 32

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable_entity",
    429: "too_many_requests",
}


class ApiError(HTTPException):
    """An error with a JSON body ``{"error": {"code", "message", "fields"?}}``."""

    def __init__(
        self, status: int, message: str, fields: dict[str, str] | None = None, code: str = ""
    ) -> None:
        super().__init__(description=message)
        self.code = status
        self.error_code = code or _CODES.get(status, "error")
        self.fields = fields


def utc_iso(value: dt.datetime | None) -> str | None:
    """A stored (naive UTC) time as ISO 8601 with "Z", the API's time format."""
    return value.isoformat() + "Z" if value else None


def error_response(
    status: int, message: str, fields: dict[str, str] | None = None, code: str = ""
) -> Response:
    body: dict[str, Any] = {"code": code or _CODES.get(status, "error"), "message": message}
    if fields:
        body["fields"] = fields
    response = jsonify(error=body)
    response.status_code = status
    return response


def json_errors(view: F) -> F:
    """Mark a page route called by script (a WebAuthn step): its errors,
    CSRF and rate limits included, are answered with this module's JSON
    errors instead of a page."""
    view.kontor_json = True  # type: ignore[attr-defined]
    return view


def fail(status: int, message: str, fields: dict[str, str] | None = None) -> NoReturn:
    raise ApiError(status, message, fields)


def _authenticate() -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    tokens = current_app.config["KONTOR_SERVICE_TOKENS"]
    ok = False
    for candidate in tokens:  # compare with every token: timing reveals nothing
        ok |= hmac.compare_digest(token.strip().encode(), candidate.encode())
    if scheme.lower() != "bearer" or not ok:
        raise ApiError(401, "A valid bearer token is required.")
    bad = sorted(name for name, value in request.args.items(multi=True) if "\x00" in name + value)
    if bad:
        fail(422, "Query parameters must not contain NUL characters.", dict.fromkeys(bad, "NUL"))


def _has_nul(value: Any) -> bool:
    """NUL cannot be stored in PostgreSQL text; refuse it on every database alike."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def service_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint under ``/api/v1`` with bearer auth and no CSRF (token instead)."""
    bp = Blueprint(f"{name}_api", import_name, url_prefix=API_PREFIX)
    bp.before_request(_authenticate)
    bp.kontor_api = True  # type: ignore[attr-defined]
    return bp


def get_account(account_id: int) -> Account:
    """The account named in the URL, or a 404 JSON error.

    Every service-API request runs this select: it is written out because
    peewee takes several times longer to compose it than the database needs
    to run it (``Model.raw`` still builds the model as peewee would).
    """
    sql = f'SELECT * FROM "core_account" WHERE "id" = {database.param}'  # noqa: S608 - placeholder
    account = next(iter(Account.raw(sql, account_id)), None)
    if account is None:
        fail(404, "No such account.")
    return account


def json_body() -> dict[str, Any]:
    """The request's JSON object, valid against its operation's requestBody schema
    in ``/api/v1/openapi.json``; or a 400/415 error, or 422 naming the fields."""
    if not request.is_json:
        raise ApiError(415, "Send the body as application/json.")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        fail(400, f"The body must be a JSON object nested at most {MAX_JSON_DEPTH} levels deep.")
    if _has_nul(data):
        fail(422, "Strings must not contain NUL characters.")
    bodies = current_app.extensions["kontor"].api.bodies
    problems = bodies.problems(request.url_rule.rule, request.method, data)
    if problems:
        whole = problems.pop("", None)
        fail(422, f"Invalid request body: {whole}." if whole else "Invalid fields.", problems)
    return data


def error_headers(exc: HTTPException) -> list[tuple[str, str]]:
    """What an HTTP error says in its own headers (Allow, Retry-After, ...),
    to go out with whatever body the app renders for it."""
    return [(name, value) for name, value in exc.get_headers() if name.lower() != "content-type"]


def handle_http_error(exc: HTTPException) -> Response:
    if isinstance(exc, ApiError):
        return error_response(exc.code, exc.description or "", exc.fields, exc.error_code)
    response = error_response(exc.code or 500, exc.description or exc.name)
    response.headers.extend(error_headers(exc))
    return response


bp = service_blueprint("core", __name__)


@bp.get("/accounts")
def accounts_by_email() -> Response:
    email = request.args.get("email", "").strip().lower()
    if not email or len(email) > 254 or has_control_chars(email):
        fail(422, "Query parameter 'email' is required.", {"email": "required"})
    pm = current_app.extensions["kontor"].pm
    rows = User.select(User, Account).join(Account).where(User.email == email)
    found = []
    for user in rows:
        plan = pm.hook.kontor_plan(account=user.account)
        found.append(
            {
                "id": user.account.id,
                "company_name": user.account.company_name,
                "plan": plan.name if plan else None,
            }
        )
    return jsonify(accounts=found)


@bp.post("/accounts/<int:account_id>/events")
def post_event(account_id: int) -> tuple[Response, int]:
    account = get_account(account_id)
    body = json_body()
    event_type, key = body["type"], body.get("idempotency_key")
    try:
        result = emit(account, event_type, body.get("data"), idempotency_key=key)
    except UnknownEventType:
        fail(422, f"Unknown event type {event_type!r}.", {"type": "unknown"})
    except ValueError as exc:
        fail(413, str(exc))
    return jsonify(
        id=result.event.id,
        type=result.event.type,
        created=result.created,
        deliveries=[
            {"channel": d.channel, "target": d.target, "status": d.status}
            for d in result.deliveries
        ],
    ), 202
