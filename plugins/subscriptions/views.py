"""Abonnement: overview, plan change with preview, cancellation, billing data."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response

from core import (
    account_blueprint,
    current_account,
    database,
    limiter,
    managers_write_blueprint,
    owner_write,
    utcnow,
)
from plugins.subscriptions import cancellation, contract_mail, invoices, services
from plugins.subscriptions.catalog import catalog
from plugins.subscriptions.forms import BillingForm, ButtonForm, CancelForm, ConfirmChangeForm
from plugins.subscriptions.models import BillingInfo

bp = account_blueprint("subscriptions", __name__)


managers_write_blueprint(bp, _l("Nur Inhaber und Administratoren können das Abonnement ändern."))


@bp.get("/account/subscription")
def index() -> str:
    account = current_account()
    sub = services.subscription(account)
    pm = current_app.extensions["kontor"].pm
    return render_template(
        "subscriptions/index.html",
        sub=sub,
        plan=services.plan_of(sub),
        scheduled=catalog().get(sub.scheduled_plan) if sub.scheduled_plan else None,
        rows=services.usage_overview(account),
        own_mail=pm.hook.kontor_mail_transport(account=account).own_account,
        records=[
            (r, invoices.last_day(r.period_start, r.period_end))
            for r in services.billing_records(account)
        ],
        plan_names={p.key: p.name for p in catalog().plans},
        form=ButtonForm(),
        vat_note=vat_note(),
    )


def vat_note() -> str:
    """Plan prices are net, as a business customer expects; the note names the
    rate the invoices add (no-break space: "19 %" stays on one line)."""
    return _("zzgl. %(rate)s USt.", rate=f"{invoices.VAT_RATE}\u00a0%")


@bp.get("/account/subscription/change")
def change() -> str:
    account = current_account()
    target = request.args.get("plan", "")[:50]
    result = None
    if target:
        try:
            result = services.preview(account, target)
        except services.SubscriptionError as exc:
            flash(str(exc), "error")
    return _change_page(account, result, ConfirmChangeForm(data={"plan": target}))


def _change_page(account, preview, form, **extra) -> str:
    """The plan table with the preview of the chosen plan (if any)."""
    return render_template(
        "subscriptions/change.html",
        plans=catalog().plans,
        resources=services.resources(),
        sub=services.subscription(account),
        preview=preview,
        form=form,
        vat_note=vat_note(),
        **extra,
    )


@bp.post("/account/subscription/change")
def confirm_change() -> Response | tuple[str, int]:
    form = ConfirmChangeForm()
    account = current_account()
    if not form.validate_on_submit():
        flash(_("Bitte wählen Sie einen Tarif aus der Tabelle."), "error")
        return _change_page(account, None, form), 422
    try:
        with database.atomic():  # the confirmation is queued with the change
            result = services.change_plan(account, form.plan.data)
            contract_mail.plan_changed(account, result)
    except services.SubscriptionError as exc:
        return _change_page(
            account, services.preview(account, form.plan.data), form, error=str(exc)
        ), 409
    if result.kind == "downgrade":
        flash(
            _(
                "Der Wechsel zu %(plan)s ist zur nächsten Erneuerung vorgemerkt.",
                plan=result.target.name,
            ),
            "success",
        )
    elif result.kind != "same":
        flash(_("Sie nutzen jetzt den Tarif %(plan)s.", plan=result.target.name), "success")
    return redirect(url_for("subscriptions.index"))


@bp.post("/account/subscription/change/withdraw")
def withdraw() -> Response:
    if ButtonForm().validate_on_submit() and services.withdraw_change(current_account()):
        flash(_("Der vorgemerkte Tarifwechsel wurde zurückgenommen."), "success")
    return redirect(url_for("subscriptions.index"))


_OWNER_ONLY = _l("Nur der Inhaber des Kontos kann den Vertrag kündigen.")


def _account_key() -> str:
    """Cancelling and its undo mail an address the owner types in: counted
    per account too, so new IP addresses do not make a mail flood."""
    return f"cancellation:{current_account().id}"


@bp.route("/account/subscription/cancel", methods=["GET", "POST"])
@owner_write(_OWNER_ONLY)
@limiter.limit("10 per hour", methods=["POST"])
@limiter.limit("10 per hour", key_func=_account_key, methods=["POST"])
def cancel() -> Response | tuple[str, int]:
    """Kündigen (§ 312k BGB): the form, and once cancelled the confirmation."""
    account, now = current_account(), utcnow()
    sub = services.subscription(account)
    earliest = {
        kind: cancellation.local_day(cancellation.earliest_end(sub, kind, now))
        for kind in (cancellation.ORDINARY, cancellation.EXTRAORDINARY)
    }
    form = CancelForm(
        data={
            "name": current_user.full_name,
            "email": current_user.email,
            "confirm_to": contract_mail.recipient(account),
        },
        earliest=earliest,
    )
    if not sub.cancel_at_period_end and form.validate_on_submit():
        cancellation.cancel(
            account,
            cancellation.Declaration(
                kind=form.kind.data,
                name=form.name.data,
                email=form.email.data,
                confirm_to=form.confirm_to.data,
                end_day=form.end_date.data if form.end.data == "date" else None,
                reason=form.reason.data or "",
            ),
            now,
        )
        return redirect(url_for("subscriptions.cancel"))
    return render_template(
        "subscriptions/cancel.html",
        form=form,
        sub=sub,
        plan=services.plan_of(sub),
        earliest=earliest,
        undoable=cancellation.undoable(sub, now),
        button=ButtonForm(),
        owner=contract_mail.owner(account),
    ), (422 if form.errors else 200)


@bp.post("/account/subscription/cancel/undo")
@owner_write(_OWNER_ONLY)
@limiter.limit("10 per hour", methods=["POST"])
@limiter.limit("10 per hour", key_func=_account_key, methods=["POST"])
def undo_cancel() -> Response:
    if ButtonForm().validate_on_submit() and cancellation.undo(current_account()):
        flash(
            _("Die Kündigung wurde zurückgenommen. Die Bestätigung ist per E-Mail unterwegs."),
            "success",
        )
    return redirect(url_for("subscriptions.index"))


@bp.route("/account/subscription/billing", methods=["GET", "POST"])
def billing() -> Response | tuple[str, int]:
    account = current_account()
    info = BillingInfo.get_or_none(BillingInfo.account == account)
    sub = services.subscription(account)
    defaults = {"name": account.company_name, "billing_email": _owner_email(account)}
    form = BillingForm(
        obj=info,
        data=None if info else defaults,
        has_iban=bool(info and info.iban_encrypted),
        mandated=bool(info and info.mandate_signed_at),
    )
    if request.method == "GET":
        form.interval.data = sub.scheduled_interval or sub.interval
    if form.validate_on_submit():
        try:
            services.save_billing(account, form.data)
        except ValueError as exc:
            form.iban.errors = [*form.iban.errors, str(exc)]
        else:
            services.schedule_interval(account, form.interval.data)
            flash(_("Die Abrechnungsinformationen wurden gespeichert."), "success")
            return redirect(url_for("subscriptions.billing"))
    return render_template(
        "subscriptions/billing.html",
        form=form,
        info=info,
        sub=sub,
        creditor_id=current_app.config["KONTOR_SUBSCRIPTIONS_CREDITOR_ID"],
        mandate_reference=(info and info.mandate_reference) or services.mandate_reference(account),
    ), (422 if form.errors else 200)


def _owner_email(account) -> str:
    """Where invoices go until the user names another address."""
    if account.notification_email:
        return account.notification_email
    owner = contract_mail.owner(account)
    return owner.email if owner else ""
