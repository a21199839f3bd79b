"""Service API: an account's invoices and their PDFs."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from core import fail, get_account, openapi, service_blueprint
from plugins.subscriptions import invoices
from plugins.subscriptions.invoice_views import pdf_response

bp = service_blueprint("subscription_invoices", __name__)


def _listed(invoice: invoices.Invoice) -> dict[str, Any]:
    return {
        "number": invoice.number,
        "issued_on": invoice.issued_on.isoformat(),
        "period_start": invoice.period_start.isoformat(),
        "period_end": invoice.period_end.isoformat(),
        "currency": invoices.CURRENCY,
        "net_cents": invoice.net_cents,
        "vat_cents": invoice.vat_cents,
        "gross_cents": invoice.gross_cents,
        "pdf_ready": bool(invoice.ready),
    }


@bp.get("/accounts/<int:account_id>/invoices")
def list_invoices(account_id: int) -> Response:
    account = get_account(account_id)
    return jsonify(invoices=[_listed(i) for i in invoices.invoices(account)])


@bp.get("/accounts/<int:account_id>/invoices/<number>/pdf")
def invoice_pdf(account_id: int, number: str) -> Response:
    invoice = invoices.find(get_account(account_id), number)
    if invoice is None:
        fail(404, "No such invoice.")
    if invoice.pdf is None:
        fail(409, "The invoice PDF is still being rendered; try again in a minute.")
    return pdf_response(invoice)


_DATE = {"type": "string", "format": "date"}
_CENTS = {"type": "integer", "minimum": 0}
_INVOICE = {
    "type": "object",
    "required": [
        "number",
        "issued_on",
        "period_start",
        "period_end",
        "currency",
        "net_cents",
        "vat_cents",
        "gross_cents",
        "pdf_ready",
    ],
    "properties": {
        "number": {"type": "string"},
        "issued_on": _DATE,
        "period_start": _DATE,
        "period_end": _DATE,
        "currency": {"type": "string", "enum": [invoices.CURRENCY]},
        "net_cents": _CENTS,
        "vat_cents": _CENTS,
        "gross_cents": _CENTS,
        "pdf_ready": {
            "type": "boolean",
            "description": "False for a moment after issue, while the PDF is rendered",
        },
    },
}
_NUMBER = {
    "name": "number",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": invoices.NUMBER.pattern},
}


def openapi_paths() -> dict[str, Any]:
    return {
        "/accounts/{account_id}/invoices": {
            "get": {
                "summary": "The account's invoices, newest first",
                "parameters": [openapi.ACCOUNT_ID],
                "responses": {
                    **openapi.ok(
                        {
                            "type": "object",
                            "required": ["invoices"],
                            "properties": {"invoices": {"type": "array", "items": _INVOICE}},
                        }
                    ),
                    **openapi.errors(404),
                },
            }
        },
        "/accounts/{account_id}/invoices/{number}/pdf": {
            "get": {
                "summary": "An invoice as PDF/A-3 with embedded Factur-X XML (EN 16931)",
                "parameters": [openapi.ACCOUNT_ID, _NUMBER],
                "responses": {
                    "200": {
                        "description": "The invoice PDF",
                        "content": {
                            "application/pdf": {"schema": {"type": "string", "format": "binary"}}
                        },
                    },
                    **openapi.errors(404, 409),
                },
            }
        },
    }
