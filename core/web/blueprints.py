"""Helpers for plugin pages under "Mein Konto"."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app
from flask_login import current_user, login_required

from core.data.models import Account


def account_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint whose every view requires a logged-in user.

    Templates come from the plugin's ``templates/<name>/`` folder.
    """
    bp = Blueprint(name, import_name, template_folder="templates")

    @bp.before_request
    @login_required
    def _require_login() -> None:
        return None

    return bp


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute link for mails, on ``KONTOR_BASE_URL``.

    Never built from the request's Host header (an attacker's host would put
    their server into the invitation link); works without a request, in the
    worker, too.
    """
    base = urlsplit(current_app.config["KONTOR_BASE_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme
    )
    return adapter.build(endpoint, values, force_external=True)


def current_account() -> Account:
    """The account of the logged-in user: the only account a page may touch."""
    return current_user.account
