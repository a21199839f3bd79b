"""Thin views: the section page, which leads to core's data export."""

from __future__ import annotations

from flask import render_template

from core import account_blueprint

bp = account_blueprint("datenexport", __name__)


@bp.get("/account/export")
def index() -> str:
    return render_template("datenexport/index.html")
