"""Core pages: entry (register, login, logout), overview, Nutzerdaten,
Meine Firma and Benutzer. Views parse forms, call ``core.accounts`` and
redirect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from core import accounts
from core.auth import end_session, revoke_sessions, start_session
from core.db import database
from core.formatting import LANGUAGE_COOKIE, LANGUAGES
from core.forms import (
    AcceptInvitationForm,
    AddUserForm,
    ChangeEmailForm,
    ChangePasswordForm,
    CompanyForm,
    ConfirmForm,
    Form,
    LoginForm,
    LogoutOthersForm,
    ProfileForm,
    RegisterForm,
)
from core.mail import build_message, system_sender
from core.outbox import queue_system_mail, queue_template_mail
from core.pages import external_url
from core.permissions import managers_only, managers_write
from core.ratelimit import limiter, login_key
from core.types import PermanentFailure

bp = Blueprint("core", __name__)
USERS_MANAGERS = _l("Nur Inhaber und Administratoren können Benutzer verwalten.")


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after login."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and "\\" not in target:
            return target
    return url_for("core.overview")


def _field_error(form: ConfirmForm, error: accounts.AccountError) -> None:
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [*field.errors, str(error)]
    else:
        flash(str(error), "error")


@bp.get("/")
def index() -> Response:
    return redirect(url_for("core.overview" if current_user.is_authenticated else "core.login"))


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def register() -> str | Response:
    """Sign up. A new and a registered address get the same answer after the
    same work; only the mail that follows differs, so the page never tells
    whether an address is registered."""
    form = RegisterForm()
    if form.validate_on_submit():
        user, created = accounts.sign_up(
            form.company_name.data,
            form.first_name.data,
            form.last_name.data,
            form.email.data,
            form.password.data,
        )
        template = "core/mail/welcome.txt" if created else "core/mail/registration_attempt.txt"
        subject = _("Willkommen bei Kontor") if created else _("Ihre Registrierung bei Kontor")
        queue_system_mail(
            user.account,
            build_message(
                sender=system_sender(),
                to=user.email,
                subject=subject,
                text=render_template(
                    template,
                    user=user,
                    account=user.account,
                    link=url_for("core.login", _external=True),
                ),
            ),
        )
        flash(
            _(
                "Vielen Dank! Wir haben Ihnen eine E-Mail an %(email)s geschickt. "
                "Bitte prüfen Sie Ihr Postfach.",
                email=form.email.data,
            ),
            "success",
        )
        return redirect(url_for("core.login"))
    return render_template("core/register.html", form=form), 200 if not form.errors else 422


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["KONTOR_LOGIN_LIMIT"], methods=["POST"])
@limiter.limit(
    lambda: current_app.config["KONTOR_LOGIN_LIMIT"], key_func=login_key, methods=["POST"]
)
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is not None:
            start_session(user)
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors = [_("E-Mail-Adresse oder Passwort ist falsch.")]
    return render_template("core/login.html", form=form), 200 if not form.errors else 422


@bp.post("/logout")
def logout() -> Response:
    form = ConfirmForm()
    if form.validate_on_submit():
        end_session()
        flash(_("Sie wurden abgemeldet."), "success")
    return redirect(url_for("core.login"))


@bp.get("/account/")
@login_required
def overview() -> str:
    return render_template("core/overview.html")


def _user_key() -> str:
    return f"password-check:{current_user.user.id}"


@limiter.limit("5 per minute;20 per hour", key_func=_user_key)
def _with_current_password(change: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """Run an account change that checks the current password, counted per
    user: a stolen session must not be able to guess the password here."""
    change(*args, **kwargs)


def _profile_page(status: int = 200, **forms: Form) -> tuple[str, int]:
    """Nutzerdaten with its four forms; ``forms`` replaces the one that was sent."""
    pages = {
        "profile_form": ProfileForm(prefix="profile", obj=current_user.user),
        "email_form": ChangeEmailForm(prefix="email"),
        "password_form": ChangePasswordForm(prefix="password"),
        "others_form": LogoutOthersForm(prefix="others"),
    }
    return render_template("core/profile.html", **{**pages, **forms}), status


@bp.route("/account/profile", methods=["GET", "POST"])
@login_required
def profile() -> tuple[str, int] | Response:
    if request.method == "GET":
        return _profile_page()
    form = ProfileForm(prefix="profile")
    if not form.validate_on_submit():
        return _profile_page(422, profile_form=form)
    accounts.update_profile(current_user.user, form.first_name.data, form.last_name.data)
    flash(_("Ihre Nutzerdaten wurden gespeichert."), "success")
    return redirect(url_for("core.profile"))


# E-mail, password and sessions have routes of their own, so that support
# sessions are refused them by endpoint (``kontor_sensitive_actions``), not by
# what the body happens to contain.


@bp.post("/account/profile/email")
@login_required
def change_email() -> tuple[str, int] | Response:
    form = ChangeEmailForm(prefix="email")
    if form.validate_on_submit():
        try:
            _with_current_password(
                accounts.change_email,
                current_user.user,
                form.current_password.data,
                form.new_email.data,
                keep=current_user.session,
            )
        except accounts.AccountError as exc:
            _field_error(form, exc)
        else:
            flash(_("Ihre E-Mail-Adresse wurde geändert."), "success")
            return redirect(url_for("core.profile"))
    return _profile_page(422, email_form=form)


@bp.post("/account/profile/password")
@login_required
def change_password() -> tuple[str, int] | Response:
    form = ChangePasswordForm(prefix="password")
    if form.validate_on_submit():
        try:
            _with_current_password(
                accounts.change_password,
                current_user.user,
                form.current_password.data,
                form.new_password.data,
                keep=current_user.session,
            )
        except accounts.AccountError as exc:
            _field_error(form, exc)
        else:
            flash(_("Ihr Passwort wurde geändert. Andere Sitzungen wurden abgemeldet."), "success")
            return redirect(url_for("core.profile"))
    return _profile_page(422, password_form=form)


@bp.post("/account/profile/sessions")
@login_required
def logout_others() -> tuple[str, int] | Response:
    form = LogoutOthersForm(prefix="others")
    if not form.validate_on_submit():
        return _profile_page(422, others_form=form)
    count = revoke_sessions(current_user.user, keep=current_user.session)
    if count:
        flash(
            ngettext(
                "%(num)d andere Sitzung wurde abgemeldet.",
                "%(num)d andere Sitzungen wurden abgemeldet.",
                count,
            ),
            "success",
        )
    else:
        flash(_("Es gab keine anderen Sitzungen."), "success")
    return redirect(url_for("core.profile"))


@bp.route("/account/company", methods=["GET", "POST"])
@login_required
@managers_write(_l("Nur Inhaber und Administratoren können die Firmendaten ändern."))
def company() -> str | Response:
    account = current_user.account
    form = CompanyForm(obj=account)
    if request.method == "POST":
        if form.validate_on_submit():
            accounts.update_company(
                account,
                form.company_name.data,
                form.notification_email.data,
                form.mobile_number.data,
            )
            flash(_("Die Firmendaten wurden gespeichert."), "success")
            return redirect(url_for("core.company"))
        return render_template("core/company.html", form=form), 422
    return render_template("core/company.html", form=form)


@bp.route("/account/users", methods=["GET", "POST"])
@login_required
@managers_only(USERS_MANAGERS)
@limiter.limit(
    "20 per hour", key_func=lambda: f"invite:{current_user.account.id}", methods=["POST"]
)
def users() -> str | Response:
    account = current_user.account
    form = AddUserForm()
    if form.validate_on_submit():
        try:
            # The user and the invitation mail are committed together: no user
            # without a mail when the mail cannot be built.
            with database.atomic():
                user, token = accounts.invite_user(
                    account,
                    form.first_name.data,
                    form.last_name.data,
                    form.email.data,
                    form.role.data,
                )
                if token is None:  # the address belongs to another account: tell its user
                    template, link = "core/mail/invitation_elsewhere.txt", None
                else:
                    template = "core/mail/invitation.txt"
                    link = external_url("core.accept_invitation", token=token)
                queue_template_mail(
                    account,
                    user.email,
                    _("Einladung zu %(company)s", company=account.company_name),
                    template,
                    user=user,
                    account=account,
                    link=link,
                    inviter=current_user.user,
                )
        except accounts.AccountError as exc:
            _field_error(form, exc)
        except PermanentFailure:
            form.email.errors = [
                *form.email.errors,
                _("Die Einladung an diese Adresse konnte nicht erstellt werden."),
            ]
        else:
            flash(_("Die Einladung an %(email)s wurde verschickt.", email=user.email), "success")
            return redirect(url_for("core.users"))
    members = accounts.members(account)
    return render_template(
        "core/users.html",
        form=form,
        members=members,
        remove_form=ConfirmForm(),
        limit=accounts.seat_limit(account),
        plans_url=current_app.extensions["kontor"].pm.hook.kontor_plans_url(),
    ), 200 if not form.errors else 422


@bp.route("/account/users/<int:user_id>/remove", methods=["GET", "POST"])
@login_required
@managers_only(USERS_MANAGERS)
def remove_user(user_id: int) -> str | Response:
    """Removing a user cannot be undone: GET asks on a page of its own (no
    script needed), POST removes."""
    if request.method == "GET":
        members = accounts.members(current_user.account)
        member = next((m for m in members if m.id == user_id), None)
        if member is None or member.role == "owner" or member.id == current_user.id:
            abort(404)
        return render_template("core/remove_user.html", member=member, form=ConfirmForm())
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            accounts.remove_user(current_user.account, user_id, current_user.user)
        except accounts.AccountError as exc:
            flash(str(exc), "error")
        else:
            flash(_("Der Benutzer wurde entfernt."), "success")
    return redirect(url_for("core.users"))


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def accept_invitation(token: str) -> str | Response:
    form = AcceptInvitationForm()
    if form.validate_on_submit():
        user = accounts.accept_invitation(token[:100], form.password.data)
        if user is None:
            flash(_("Diese Einladung ist ungültig oder abgelaufen."), "error")
            return redirect(url_for("core.login"))
        start_session(user)
        flash(_("Willkommen! Ihr Passwort wurde festgelegt."), "success")
        return redirect(url_for("core.overview"))
    return render_template("core/invitation.html", form=form), 200 if not form.errors else 422


@bp.get("/language/<code>")
def set_language(code: str) -> Response:
    """Switch the interface language (a preference cookie; German by default)."""
    response = redirect(_safe_next(request.args.get("next")))
    if code in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE,
            code,
            max_age=365 * 86400,
            samesite="Lax",
            httponly=True,
            secure=current_app.config["KONTOR_COOKIE_SECURE"],
        )
    return response
