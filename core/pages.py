"""Helpers for plugin pages under "Mein Konto"."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user, login_required

from core.models import Account


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


def current_account() -> Account:
    """The account of the logged-in user: the only account a page may touch."""
    return current_user.account
