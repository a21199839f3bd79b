"""Thin views: the section page and the download."""

from __future__ import annotations

import json

from flask import Response, current_app, render_template

from core.pages import account_blueprint, current_account
from kontor_datenexport.services import export_document

bp = account_blueprint("datenexport", __name__)


@bp.get("/account/export")
def index() -> str:
    return render_template("datenexport/index.html")


@bp.get("/account/export/kontor-daten.json")
def download() -> Response:
    document = export_document(current_app.extensions["kontor"].pm, current_account())
    body = json.dumps(document, ensure_ascii=False, indent=2, default=str)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="kontor-daten.json"'},
    )
