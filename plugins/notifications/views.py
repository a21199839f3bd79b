"""Pages of the ``notifications`` plugin."""

from __future__ import annotations

from flask import render_template

from core.pages import account_blueprint

bp = account_blueprint("notifications", __name__)


@bp.get("/account/notifications")
def index() -> str:
    return render_template("notifications/index.html")
