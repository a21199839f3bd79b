"""Core pages: entry (register, login, logout), overview, Nutzerdaten,
Meine Firma and Benutzer. Views parse forms, call ``core.accounts`` and
redirect."""

from __future__ import annotations

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
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from core import accounts
from core.auth import end_session, managers_only, revoke_sessions, start_session
from core.db import database
from core.formatting import LANGUAGE_COOKIE, LANGUAGES
from core.forms import (
    AcceptInvitationForm,
    AddUserForm,
    ChangeEmailForm,
    ChangePasswordForm,
    CompanyForm,
    ConfirmForm,
    LoginForm,
    LogoutOthersForm,
    ProfileForm,
    RegisterForm,
)
from core.mail import build_message, system_sender
from core.outbox import queue_system_mail
from core.pagecache import cached_page
from core.ratelimit import limiter, login_key
from core.types import PermanentFailure

bp = Blueprint("core", __name__)


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
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = accounts.register(
                form.company_name.data,
                form.first_name.data,
                form.last_name.data,
                form.email.data,
                form.password.data,
            )
        except accounts.AccountError as exc:
            _field_error(form, exc)
        else:
            start_session(user)
            flash(_("Willkommen bei Kontor! Ihr Konto wurde angelegt."), "success")
            return redirect(url_for("core.overview"))
    return render_template("core/register.html", form=form), 200 if not form.errors else 422


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["KONTOR_LOGIN_LIMIT"], methods=["POST"])
@limiter.limit(
    lambda: current_app.config["KONTOR_LOGIN_LIMIT"], key_func=login_key, methods=["POST"]
)
def login() -> str | Response:
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
    return redirect(url_for("core.login"))


@bp.get("/account/")
@login_required
@cached_page
def overview() -> str:
    return render_template("core/overview.html")


@bp.route("/account/profile", methods=["GET", "POST"])
@login_required
@cached_page
def profile() -> str | Response:
    user = current_user.user
    profile_form = ProfileForm(prefix="profile", obj=user)
    email_form = ChangeEmailForm(prefix="email")
    password_form = ChangePasswordForm(prefix="password")
    others_form = LogoutOthersForm(prefix="others")
    status = 200
    if request.method == "POST":
        status = 422
        if profile_form.submit.data and profile_form.validate():
            accounts.update_profile(user, profile_form.first_name.data, profile_form.last_name.data)
            flash(_("Ihre Nutzerdaten wurden gespeichert."), "success")
            return redirect(url_for("core.profile"))
        if email_form.submit.data and email_form.validate():
            try:
                accounts.change_email(
                    user,
                    email_form.current_password.data,
                    email_form.new_email.data,
                    keep=current_user.session,
                )
            except accounts.AccountError as exc:
                _field_error(email_form, exc)
            else:
                flash(_("Ihre E-Mail-Adresse wurde geändert."), "success")
                return redirect(url_for("core.profile"))
        if password_form.submit.data and password_form.validate():
            try:
                accounts.change_password(
                    user,
                    password_form.current_password.data,
                    password_form.new_password.data,
                    keep=current_user.session,
                )
            except accounts.AccountError as exc:
                _field_error(password_form, exc)
            else:
                flash(
                    _("Ihr Passwort wurde geändert. Andere Sitzungen wurden abgemeldet."), "success"
                )
                return redirect(url_for("core.profile"))
        if others_form.submit.data and others_form.validate():
            count = revoke_sessions(user, keep=current_user.session)
            flash(_("%(count)d andere Sitzung(en) abgemeldet.", count=count), "success")
            return redirect(url_for("core.profile"))
        if not any(f.errors for f in (profile_form, email_form, password_form, others_form)):
            status = 400
    return render_template(
        "core/profile.html",
        profile_form=profile_form,
        email_form=email_form,
        password_form=password_form,
        others_form=others_form,
    ), status


@bp.route("/account/company", methods=["GET", "POST"])
@login_required
@cached_page
def company() -> str | Response:
    account = current_user.account
    form = CompanyForm(obj=account)
    if request.method == "POST":
        if not current_user.is_manager:
            abort(403)
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
@managers_only
@cached_page
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
                link = url_for("core.accept_invitation", token=token, _external=True)
                queue_system_mail(
                    account,
                    build_message(
                        sender=system_sender(),
                        to=user.email,
                        subject=_("Einladung zu %(company)s", company=account.company_name),
                        text=render_template(
                            "core/mail/invitation.txt",
                            user=user,
                            account=account,
                            link=link,
                            inviter=current_user.user,
                        ),
                    ),
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
    ), 200 if not form.errors else 422


@bp.post("/account/users/<int:user_id>/remove")
@login_required
@managers_only
def remove_user(user_id: int) -> Response:
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
