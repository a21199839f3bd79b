"""``/api/v1/openapi.json``: the service API described for its callers.

Core describes its own routes; every plugin adds its paths through the
``kontor_openapi_paths`` hook, so the document grows with the installed plugins.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from core.api import API_PREFIX

bp = Blueprint("openapi", __name__)

ACCOUNT_ID = {
    "name": "account_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}


def ref(status: int) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{status}"}


def json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
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
        "message_id": {"type": ["string", "null"]},
        "error": {"type": ["string", "null"]},
        "note": {"type": ["string", "null"]},
        "created_at": {"type": "string"},
        "sent_at": {"type": ["string", "null"]},
        "recipients": {"type": "array", "items": {"type": "object"}},
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
                "requestBody": json_body(
                    {
                        "type": "object",
                        "required": ["type"],
                        "properties": {
                            "type": {"type": "string"},
                            "data": {"type": "object"},
                            "idempotency_key": {"type": "string", "minLength": 1, "maxLength": 200},
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
                "requestBody": json_body(
                    {
                        "type": "object",
                        "required": ["to", "subject", "text"],
                        "properties": {
                            "to": {
                                "oneOf": [
                                    {"type": "string"},
                                    {"type": "array", "items": {"type": "string"}},
                                ]
                            },
                            "subject": {"type": "string"},
                            "text": {"type": "string"},
                            "customer_ref": {"type": "string"},
                        },
                    }
                ),
                "responses": {
                    **ok({"type": "object", "required": ["id", "status"]}, "202", "Accepted"),
                    **body_errors,
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


def document() -> dict[str, Any]:
    paths = core_paths()
    for extra in current_app.extensions["kontor"].pm.hook.kontor_openapi_paths():
        paths.update(extra or {})
    return {
        "openapi": "3.1.0",
        "info": {"title": "Kontor service API", "version": "1"},
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


@bp.get(f"{API_PREFIX}/openapi.json")
def openapi_json() -> Response:
    return jsonify(document())
