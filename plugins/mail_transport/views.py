"""Pages of the ``mail_transport`` plugin."""

from __future__ import annotations

from flask import render_template

from core.pages import account_blueprint

bp = account_blueprint("mail_transport", __name__)


@bp.get("/account/mail")
def index() -> str:
    return render_template("mail_transport/index.html")
