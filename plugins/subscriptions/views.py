"""Pages of the ``subscriptions`` plugin."""

from __future__ import annotations

from flask import render_template

from core.pages import account_blueprint

bp = account_blueprint("subscriptions", __name__)


@bp.get("/account/subscription")
def index() -> str:
    return render_template("subscriptions/index.html")
