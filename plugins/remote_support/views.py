"""Pages of the ``remote_support`` plugin."""

from __future__ import annotations

from flask import render_template

from core.pages import account_blueprint

bp = account_blueprint("remote_support", __name__)


@bp.get("/account/support")
def index() -> str:
    return render_template("remote_support/index.html")
