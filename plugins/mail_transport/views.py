"""E-Mail-Versand: settings, "Verbinden", test mail and the e-mail history."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response

from core import (
    CustomerMail,
    account_blueprint,
    current_account,
    delivery_state,
    limiter,
    mails_to_customer,
    managers_write_blueprint,
    queue_customer_mail,
)
from plugins.mail_transport import presets, services
from plugins.mail_transport.forms import ConnectForm, MailSettingsForm, TestMailForm

bp = account_blueprint("mail_transport", __name__)
# "Verbinden" starts a check in the worker: both routes that can start one share the limit.
connect_limit = limiter.shared_limit(
    "10 per hour",
    scope="mail-connect",
    key_func=lambda: f"mail-connect:{current_account().id}",
    exempt_when=lambda: request.endpoint == "mail_transport.save" and "connect" not in request.form,
)


managers_write_blueprint(
    bp, _l("Nur Inhaber und Administratoren können den E-Mail-Versand ändern.")
)


def _render(form: MailSettingsForm, status: int = 200) -> tuple[str, int]:
    account = current_account()
    row = services.settings(account)
    check = services.latest_check(account)
    return render_template(
        "mail_transport/index.html",
        form=form,
        row=row,
        check=check,
        steps=services.steps_of(check) if check else [],
        connect_form=ConnectForm(),
        test_form=TestMailForm(),
        active=services.transport(account).name,
        refs=_history_refs(account) if row.keep_history else [],
    ), status


def _history_refs(account) -> list[tuple[str, str]]:
    """Customers with recorded mails: number and the latest name given for it."""
    rows = (
        CustomerMail.select(CustomerMail.customer_ref, CustomerMail.customer_name)
        .where(CustomerMail.account == account, CustomerMail.customer_ref.is_null(False))
        .order_by(CustomerMail.id.desc())
        .limit(1000)
    )
    names: dict[str, str] = {}
    for row in rows:
        if not names.get(row.customer_ref):
            names[row.customer_ref] = row.customer_name
    return sorted(names.items())[:200]


@bp.get("/account/mail")
def index() -> tuple[str, int]:
    row = services.settings(current_account())
    form = MailSettingsForm(obj=row)
    form.password.data = ""
    return _render(form)


@bp.post("/account/mail")
@connect_limit
def save() -> Response | tuple[str, int]:
    form = MailSettingsForm()
    if form.preset.data:
        preset = presets.for_address(form.own_email.data or "")
        if preset is None:
            form.own_email.errors = [
                _(
                    "Für diese Adresse kennen wir keine Voreinstellung. "
                    "Bitte tragen Sie die Server selbst ein."
                )
            ]
            return _render(form, 422)
        for name in (
            "imap_host",
            "imap_port",
            "imap_security",
            "smtp_host",
            "smtp_port",
            "smtp_security",
        ):
            getattr(form, name).data = getattr(preset, name)
        form.imap_user.data = form.imap_user.data or form.own_email.data
        form.smtp_user.data = form.smtp_user.data or form.own_email.data
        form.mode.data = "own"
        flash(
            _(
                "Servereinstellungen für %(provider)s eingetragen. Bitte prüfen und speichern.",
                provider=preset.name,
            ),
            "success",
        )
        return _render(form)
    if not form.validate_on_submit():
        return _render(form, 422)
    values = {**form.data, "own_email": (form.own_email.data or "").lower()}
    try:
        services.save(current_account(), values, form.password.data or "")
    except services.SettingsError as exc:
        getattr(form, exc.field).errors = [str(exc)]
        return _render(form, 422)
    flash(_("Die Einstellungen wurden gespeichert."), "success")
    if form.connect.data and form.mode.data == "own":
        services.start_check(current_account())
        return redirect(url_for("mail_transport.index") + "#verbinden")
    return redirect(url_for("mail_transport.index"))


@bp.post("/account/mail/connect")
@connect_limit
def connect() -> Response:
    row = services.settings(current_account())
    if not ConnectForm().validate_on_submit():
        abort(400)
    if row.id is None or row.mode != "own" or not row.password_encrypted:
        flash(_("Speichern Sie zuerst die Zugangsdaten Ihres E-Mail-Kontos."), "error")
    else:
        services.start_check(current_account())
    return redirect(url_for("mail_transport.index") + "#verbinden")


@bp.post("/account/mail/test")
@limiter.limit("5 per hour", key_func=lambda: f"mail-test:{current_account().id}")
def test_mail() -> Response:
    if TestMailForm().validate_on_submit():
        queue_customer_mail(
            current_account(),
            [current_user.email],
            _("Kontor: Testmail"),
            _("Diese Testmail zeigt, dass der E-Mail-Versand funktioniert."),
            None,
        )
        flash(
            _("Die Testmail an %(email)s wurde in den Versand gegeben.", email=current_user.email),
            "success",
        )
    return redirect(url_for("mail_transport.index"))


@bp.get("/account/mail/history/<ref>")
def customer_history(ref: str) -> str:
    mails = mails_to_customer(current_account(), ref[:100])
    return render_template(
        "mail_transport/history.html",
        ref=ref[:100],
        name=next((m.customer_name for m in mails if m.customer_name), ""),
        mails=[(m, delivery_state(m), list(m.recipients)) for m in mails],
    )
