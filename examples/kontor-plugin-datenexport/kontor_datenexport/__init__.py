"""Datenexport: download everything Kontor stores about your account as JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

from flask import Blueprint, Response, current_app, render_template
from flask_babel import lazy_gettext as _l

from core import hookimpl
from core.db import utcnow
from core.pages import account_blueprint, current_account
from core.types import Card, Section

bp = account_blueprint("datenexport", __name__)


@bp.get("/account/export")
def index() -> str:
    return render_template("datenexport/index.html")


@bp.get("/account/export/kontor-daten.json")
def download() -> Response:
    account = current_account()
    pm = current_app.extensions["kontor"].pm
    parts = [p for p in pm.hook.kontor_account_export(account=account) if p is not None]
    document = {
        "account_id": account.id,
        "exported_at": utcnow().isoformat() + "Z",
        "parts": {part.key: part.data for part in sorted(parts, key=lambda p: p.key)},
    }
    body = json.dumps(document, ensure_ascii=False, indent=2, default=str)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="kontor-daten.json"'},
    )


@hookimpl
def kontor_blueprints() -> Sequence[Blueprint]:
    return [bp]


@hookimpl
def kontor_settings_sections() -> Sequence[Section]:
    return [Section("datenexport", _l("Datenexport"), "datenexport.index", order=90, icon="export")]


@hookimpl
def kontor_overview_cards() -> Sequence[Card]:
    return [Card("datenexport", "Datenexport", ["Alle Daten als JSON"], "datenexport.index", 90)]
