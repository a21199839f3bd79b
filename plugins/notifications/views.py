"""Benachrichtigungen: the matrix, the test message and the delivery log."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from core import account_blueprint, current_account, event_types, limiter
from plugins.notifications import services
from plugins.notifications.forms import form_classes

bp = account_blueprint("notifications", __name__)


def _account_key() -> str:
    return f"notifications-test:{current_account().id}"


def _page(preference_form=None, test_form=None, status: int = 200) -> tuple[str, int]:
    account = current_account()
    forms = form_classes()
    matrix = services.preferences(account)
    if preference_form is None:
        preference_form = forms["preference"](
            data={name: matrix[(e, c)] for name, e, c in forms["preference"].matrix}
        )
    try:
        page = max(1, min(int(request.args.get("page", "1")), 10_000))
    except ValueError:
        page = 1
    rows, more = services.log_page(account, page)
    kinds = event_types()
    return render_template(
        "notifications/index.html",
        form=preference_form,
        test_form=test_form or forms["test"](),
        kinds=kinds,
        channels=services.channels(),
        rows=rows,
        page=page,
        more=more,
        # While a message is on its way the page reloads itself (a meta refresh:
        # no script, CSP-safe) so the log shows the outcome without a manual reload.
        refresh=any(r.status in ("pending", "sending") for r in rows),
        describe=lambda row: services.describe(row, kinds),
        channel_labels={c.key: c.label for c in services.channels()},
        account=account,
    ), status


@bp.get("/account/notifications")
def index() -> tuple[str, int]:
    return _page()


@bp.post("/account/notifications")
def save() -> Response | tuple[str, int]:
    form = form_classes()["preference"]()
    if not form.validate_on_submit():
        return _page(preference_form=form, status=422)
    services.save_preferences(current_account(), form.chosen())
    flash(_("Ihre Benachrichtigungseinstellungen wurden gespeichert."), "success")
    return redirect(url_for("notifications.index"))


@bp.post("/account/notifications/test")
@limiter.limit("10 per hour", key_func=_account_key)
def send_test() -> Response | tuple[str, int]:
    form = form_classes()["test"]()
    if not form.validate_on_submit():
        return _page(test_form=form, status=422)
    row = services.send_test(current_account(), form.channel.data)
    if row.status == "skipped":
        flash(_("Nicht gesendet: %(reason)s", reason=row.error), "error")
    else:
        flash(_("Die Testbenachrichtigung wurde in den Versand gegeben."), "success")
    return redirect(url_for("notifications.index"))
