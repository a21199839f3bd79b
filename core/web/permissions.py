"""Who may write where: one answer for the page and for the request guard.

A page asks ``can(endpoint)`` before it shows a form that posts to
``endpoint``; the view (``managers_only``/``managers_write``) and the plugins'
guards (``kontor_write_refusal``, e.g. support sessions) ask the same
``write_refusal`` when the form arrives. So a page never shows a live form
that ends in a 403 and loses what was typed.

These decorators are the one role check of core and plugins: a view states
its rule once here and never compares ``role`` itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, abort, current_app, request
from flask_babel import gettext as _
from flask_login import current_user

F = TypeVar("F", bound=Callable[..., Any])
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Marks a view function whose writes only owners and admins may make; the
# value is the message that says so.
_MARK = "kontor_managers_refusal"
# Marks a view function whose writes only the account's owner may make
# (the contract itself: cancelling it).
_OWNER_MARK = "kontor_owner_refusal"
# The same for every view of a blueprint, by blueprint name.
_MANAGER_BLUEPRINTS: dict[str, str] = {}


def _managers(message: str, reads_too: bool, mark: str = _MARK) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if reads_too and not (current_user.is_authenticated and current_user.is_manager):
                abort(403, str(message))
            if request.method not in SAFE_METHODS:
                reason = write_refusal(request.endpoint or "")
                if reason:
                    abort(403, reason)
            return view(*args, **kwargs)

        setattr(wrapper, mark, message)
        return wrapper  # type: ignore[return-value]

    return decorate


def managers_only(message: str) -> Callable[[F], F]:
    """Only owners and admins may open the view at all (403 with ``message``)."""
    return _managers(message, reads_too=True)


def managers_write(message: str) -> Callable[[F], F]:
    """Everyone may read the view; only owners and admins may post to it."""
    return _managers(message, reads_too=False)


def owner_write(message: str) -> Callable[[F], F]:
    """Everyone may read the view; only the account's owner may post to it."""
    return _managers(message, reads_too=False, mark=_OWNER_MARK)


def managers_write_blueprint(bp: Blueprint, message: str) -> None:
    """Every view of ``bp`` may be read by all; only owners and admins may post."""
    _MANAGER_BLUEPRINTS[bp.name] = message

    @bp.before_request
    def _managers_for_writes() -> None:
        if request.method not in SAFE_METHODS:
            reason = write_refusal(request.endpoint or "")
            if reason:
                abort(403, reason)


def write_refusal(endpoint: str) -> str | None:
    """Why the current user may not post to ``endpoint``, or None if they may."""
    if not current_user.is_authenticated:
        return _("Bitte melden Sie sich an.")
    view = current_app.view_functions.get(endpoint)
    owner_message = getattr(view, _OWNER_MARK, None)
    if owner_message is not None and current_user.user.role != "owner":
        return str(owner_message)
    message = getattr(view, _MARK, None) or _MANAGER_BLUEPRINTS.get(endpoint.rpartition(".")[0])
    if message is not None and not current_user.is_manager:
        return str(message)
    pm = current_app.extensions["kontor"].pm
    reason = pm.hook.kontor_write_refusal(endpoint=endpoint)
    return str(reason) if reason else None


def can(endpoint: str) -> bool:
    """Whether the current user may post to ``endpoint``: what pages ask
    before they show a form or a button."""
    return write_refusal(endpoint) is None


def can_edit_page(endpoint: str) -> bool:
    """Whether the current user may change what the page at ``endpoint`` shows:
    what the overview's "Bearbeiten" (else "Ansehen") link asks.

    A settings page posts its own form to its own URL, often to another
    endpoint (``/account/support`` GET is ``remote_support.index``, POST
    ``remote_support.save``); that rule answers, so a test mail that may be
    sent does not make the page editable. A page without a form of its own
    (``/account/subscription``) is editable if any form below its URL is.
    """
    rules = list(current_app.url_map.iter_rules())
    path = next(r.rule for r in rules if r.endpoint == endpoint and not r.arguments)
    posts = [r for r in rules if "POST" in (r.methods or ())]
    own = [r.endpoint for r in posts if r.rule == path]
    below = [r.endpoint for r in posts if r.rule.startswith(path.rstrip("/") + "/")]
    return any(can(e) for e in own or below or [endpoint])
