"""``/api/v1/openapi.json``: the service API described for its callers, and
the request-body schemas every API route is held to.

Core describes its own routes; every plugin adds its paths through the
``kontor_openapi_paths`` hook, so the document grows with the installed plugins.
The document is built once per app (:func:`init_app`); from it come the
validators that :func:`core.web.api.json_body` checks each request body with, so a
body is accepted exactly when the published schema says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pluggy
from flask import Blueprint, Flask, Response, current_app, jsonify
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from jsonschema.validators import extend
from werkzeug.routing import Rule

from core.delivery.customer_mail import MAX_RECIPIENTS, MAX_TEXT
from core.web.api import API_PREFIX
from core.web.validation import has_control_chars

bp = Blueprint("openapi", __name__)

PRINTABLE = "printable"
PRINTABLE_TEXT = (
    "no control, format, surrogate or private-use characters "
    "(Unicode categories Cc, Cf, Cs, Co: CR, LF, NUL, bidi overrides, ...)."
)

FORMATS = FormatChecker()


@FORMATS.checks(PRINTABLE)
def _printable(value: object) -> bool:
    return not isinstance(value, str) or not has_control_chars(value)


# Draft 2020-12 counts 1.0 as an integer; the API takes whole numbers only as
# written without a fraction, as it did before schemas were enforced.
Validator = extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
    ),
)

ACCOUNT_ID = {
    "name": "account_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}


def ref(status: int) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{status}"}


def request_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def ok(schema: dict[str, Any], status: str = "200", description: str = "OK") -> dict[str, Any]:
    return {
        status: {"description": description, "content": {"application/json": {"schema": schema}}}
    }


def errors(*statuses: int) -> dict[str, Any]:
    return {str(s): ref(s) for s in (401, *statuses)}


_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    },
}
_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing or wrong bearer token",
    404: "No such account or object",
    409: "Conflict",
    413: "Body too large",
    415: "Body is not JSON",
    422: "Invalid fields",
    429: "Too many requests",
}
_MAIL = {
    "type": "object",
    "required": ["id", "status", "transport", "subject", "recipients"],
    "properties": {
        "id": {"type": "integer"},
        "status": {"type": "string"},
        "transport": {"type": "string"},
        "subject": {"type": "string"},
        "customer_ref": {"type": ["string", "null"]},
        "customer_name": {"type": ["string", "null"]},
        "message_id": {"type": ["string", "null"]},
        "error": {"type": ["string", "null"]},
        "note": {"type": ["string", "null"]},
        "created_at": {"type": "string"},
        "sent_at": {"type": ["string", "null"]},
        "recipients": {"type": "array", "items": {"type": "object"}},
    },
}


_ADDRESS = {"type": "string", "minLength": 1, "maxLength": 254}
# Per user, what protects their login.
_SECURITY_USER = {
    "type": "object",
    "required": ["id", "email", "name", "role", "two_factor", "totp", "passkeys"],
    "properties": {
        "id": {"type": "integer"},
        "email": {"type": "string"},
        "name": {"type": "string"},
        "role": {"type": "string", "enum": ["owner", "admin", "member"]},
        "two_factor": {
            "type": "boolean",
            "description": "Two-factor login is on: TOTP, or at least one passkey",
        },
        "totp": {"type": "boolean", "description": "TOTP (an authenticator app) is on"},
        "passkeys": {"type": "integer", "minimum": 0, "description": "Passkeys registered"},
    },
}


def core_paths() -> dict[str, Any]:
    body_errors = errors(400, 404, 413, 415, 422)
    return {
        "/accounts": {
            "get": {
                "summary": "Accounts a user (by e-mail address) belongs to",
                "parameters": [
                    {
                        "name": "email",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "maxLength": 254},
                    }
                ],
                "responses": {
                    **ok(
                        {
                            "type": "object",
                            "required": ["accounts"],
                            "properties": {
                                "accounts": {
                                    "type": "array",
                                    "items": {"type": "object", "required": ["id", "company_name"]},
                                }
                            },
                        }
                    ),
                    **errors(422),
                },
            }
        },
        "/accounts/{account_id}/events": {
            "post": {
                "summary": "Report an event; notifications follow",
                "parameters": [ACCOUNT_ID],
                "requestBody": request_body(
                    {
                        "type": "object",
                        "required": ["type"],
                        "properties": {
                            "type": {"type": "string", "minLength": 1, "maxLength": 100},
                            "data": {"type": "object"},
                            "idempotency_key": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": 200,
                                "format": PRINTABLE,
                            },
                        },
                    }
                ),
                "responses": {
                    **ok(
                        {
                            "type": "object",
                            "required": ["id", "deliveries"],
                            "properties": {
                                "id": {"type": "integer"},
                                "deliveries": {"type": "array"},
                            },
                        },
                        "202",
                        "Accepted",
                    ),
                    **body_errors,
                },
            }
        },
        "/accounts/{account_id}/mails": {
            "post": {
                "summary": "Send a mail to customers through the account's mail transport",
                "parameters": [ACCOUNT_ID],
                "requestBody": request_body(
                    {
                        "type": "object",
                        "required": ["to", "subject", "text"],
                        "properties": {
                            "to": {
                                "oneOf": [
                                    _ADDRESS,
                                    {
                                        "type": "array",
                                        "items": _ADDRESS,
                                        "minItems": 1,
                                        "maxItems": MAX_RECIPIENTS,
                                    },
                                ]
                            },
                            "subject": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": 250,
                                "pattern": r"\S",
                                "format": PRINTABLE,
                            },
                            "text": {"type": "string", "maxLength": MAX_TEXT},
                            "customer_ref": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": 100,
                                "format": PRINTABLE,
                            },
                            "customer_name": {
                                "type": "string",
                                "description": "Shown next to customer_ref in the e-mail history",
                                "minLength": 1,
                                "maxLength": 200,
                                "pattern": r"\S",
                                "format": PRINTABLE,
                            },
                        },
                    }
                ),
                "responses": {
                    **ok({"type": "object", "required": ["id", "status"]}, "202", "Accepted"),
                    **body_errors,
                },
            }
        },
        "/accounts/{account_id}/security": {
            "get": {
                "summary": "Login security: whether two-factor login is required, and per user",
                "parameters": [ACCOUNT_ID],
                "responses": {
                    **ok(
                        {
                            "type": "object",
                            "required": ["account_id", "two_factor_required", "users"],
                            "properties": {
                                "account_id": {"type": "integer"},
                                "two_factor_required": {"type": "boolean"},
                                "users": {"type": "array", "items": _SECURITY_USER},
                            },
                        }
                    ),
                    **errors(404),
                },
            }
        },
        "/accounts/{account_id}/mails/{mail_id}": {
            "get": {
                "summary": "Status of one customer mail",
                "parameters": [
                    ACCOUNT_ID,
                    {
                        "name": "mail_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1},
                    },
                ],
                "responses": {**ok(_MAIL), **errors(404)},
            }
        },
        "/accounts/{account_id}/customers/{ref}/emails": {
            "get": {
                "summary": "E-mail history of one customer",
                "parameters": [
                    ACCOUNT_ID,
                    {
                        "name": "ref",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 100},
                    },
                ],
                "responses": {
                    **ok(
                        {
                            "type": "object",
                            "required": ["customer_ref", "emails"],
                            "properties": {"emails": {"type": "array", "items": _MAIL}},
                        }
                    ),
                    **errors(404),
                },
            }
        },
    }


def document(pm: pluggy.PluginManager) -> dict[str, Any]:
    """The OpenAPI document of core's routes and every plugin's."""
    paths = core_paths()
    for extra in pm.hook.kontor_openapi_paths():
        paths.update(extra or {})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Kontor service API",
            "version": "1",
            "description": f"String format `{PRINTABLE}`: {PRINTABLE_TEXT}",
        },
        "servers": [{"url": API_PREFIX}],
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": _ERROR},
            "responses": {
                str(status): {
                    "description": text,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
                for status, text in _DESCRIPTIONS.items()
            },
        },
    }


_ARGUMENT = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


def openapi_path(rule: str) -> str:
    """The document's path for a Flask URL rule: ``/api/v1/a/<int:id>`` is ``/a/{id}``."""
    return _ARGUMENT.sub(r"{\1}", rule.removeprefix(API_PREFIX))


class RequestBodies:
    """A validator for each documented request body, by URL rule and method.

    Built once per app: checking a schema and setting up its validator costs far
    more than validating a body with it. Schemas may refer to the document's
    components (``#/components/schemas/...``).
    """

    def __init__(self, document: Mapping[str, Any], rules: Iterable[Rule]) -> None:
        # The document as root schema: each body's validator is derived from it
        # (``evolve``), so "#/components/..." refers into the document.
        root = Validator(document, format_checker=FORMATS)
        self.validators: dict[tuple[str, str], Draft202012Validator] = {}
        for rule in rules:
            item = document["paths"].get(openapi_path(rule.rule), {})
            for method in sorted(rule.methods or ()):
                body = item.get(method.lower(), {}).get("requestBody")
                if body is None:
                    continue
                schema = body["content"]["application/json"]["schema"]
                Validator.check_schema(schema)
                self.validators[(rule.rule, method)] = root.evolve(schema=schema)

    def problems(self, rule: str, method: str, body: Any) -> dict[str, str]:
        """What is wrong with ``body`` for this route: field name (``""`` for
        the body as a whole) to a short English message, first problem per field."""
        validator = self.validators.get((rule, method))
        if validator is None:
            raise LookupError(f"{method} {rule}: no requestBody in the OpenAPI document")
        found: dict[str, str] = {}
        for error in validator.iter_errors(body):
            for field, message in _located(error, body):
                found.setdefault(field, message)
        return found


def _located(error: ValidationError, body: Any) -> list[tuple[str, str]]:
    """The fields an error is about, with what to tell the caller."""
    if error.path:
        return [(str(error.path[0])[:50], _describe(error.validator, error.validator_value))]
    if error.validator == "required" and isinstance(body, dict):
        return [(name, "required") for name in error.validator_value if name not in body]
    if error.validator == "additionalProperties" and isinstance(body, dict):
        known = error.schema.get("properties", {})
        allowed = f"unknown field; one of {', '.join(known)}"
        return [(str(name)[:50], allowed) for name in body if name not in known]
    return [("", _describe(error.validator, error.validator_value))]


def _describe(keyword: Any, value: Any) -> str:
    """A message for a failed schema keyword that never repeats the value sent."""
    match keyword:
        case "type":
            return "expected " + (" or ".join(value) if isinstance(value, list) else str(value))
        case "minLength":
            return "must not be empty" if value == 1 else f"at least {value} characters"
        case "maxLength":
            return f"at most {value} characters"
        case "minimum" | "maximum":
            return f"{'at least' if keyword == 'minimum' else 'at most'} {value}"
        case "minItems" | "maxItems":
            return f"{'at least' if keyword == 'minItems' else 'at most'} {value} items"
        case "minProperties":
            return f"send at least {value} field(s)"
        case "pattern":
            return f"must match the pattern {value}"
        case "format":
            return f"{PRINTABLE} characters only" if value == PRINTABLE else f"must be a {value}"
        case "enum":
            return "one of " + ", ".join(map(str, value))
        case "oneOf" | "anyOf":
            return "expected " + " or ".join(str(s.get("type", "value")) for s in value)
    return "invalid"


@dataclass(frozen=True)
class OpenApi:
    """The app's document and its request-body validators."""

    document: dict[str, Any]
    bodies: RequestBodies


def init_app(app: Flask) -> None:
    """Build the document and the body validators, once all routes are registered."""
    doc = document(app.extensions["kontor"].pm)
    api_rules = [r for r in app.url_map.iter_rules() if r.rule.startswith(API_PREFIX + "/")]
    app.extensions["kontor"].api = OpenApi(doc, RequestBodies(doc, api_rules))


@bp.get(f"{API_PREFIX}/openapi.json")
def openapi_json() -> Response:
    return jsonify(current_app.extensions["kontor"].api.document)
