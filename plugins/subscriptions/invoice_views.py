"""Rechnungen: the account's invoices under Abonnement, with PDF downloads.

Every member may read them (they are the account's documents, nothing is
changed here). Support sessions see the list but not the files: support
needs to know that an invoice exists, not the customer's documents.
"""

from __future__ import annotations

from flask import Response, abort, render_template
from flask_babel import gettext as _
from flask_login import current_user

from core import account_blueprint, current_account
from plugins.subscriptions import invoices

bp = account_blueprint("subscription_invoices", __name__)


def pdf_response(invoice: invoices.Invoice) -> Response:
    """The stored PDF as a download named after its number."""
    response = Response(bytes(invoice.pdf), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{invoice.filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/account/subscription/invoices")
def index() -> str:
    return render_template(
        "subscriptions/invoices.html",
        invoices=invoices.invoices(current_account()),
        downloads=not current_user.is_support,
    )


@bp.get("/account/subscription/invoices/<number>.pdf")
def download(number: str) -> Response:
    if current_user.is_support:
        abort(403, _("Rechnungen können in einer Support-Sitzung nicht heruntergeladen werden."))
    invoice = invoices.find(current_account(), number)
    if invoice is None:
        abort(404)
    if invoice.pdf is None:
        abort(
            409,
            _(
                "Die Rechnung wird gerade erstellt. "
                "Bitte versuchen Sie es in einer Minute noch einmal."
            ),
        )
    return pdf_response(invoice)
