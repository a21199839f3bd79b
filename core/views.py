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
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from core import accounts
from core.auth import complete_login, end_session, revoke_sessions
from core.db import database
from core.formatting import LANGUAGE_COOKIE, LANGUAGES
from core.forms import (
    AcceptInvitationForm,
    AddUserForm,
    ChangeEmailForm,
    ChangePasswordForm,
    CompanyForm,
    ConfirmForm,
    ForgotPasswordForm,
    Form,
    LoginForm,
    LogoutOthersForm,
    ProfileForm,
    RegisterForm,
    ResendSignUpForm,
    ResetPasswordForm,
    show_error,
)
from core.models import Account, User
from core.notices import security_notice
from core.outbox import queue_template_mail
from core.pages import external_url
from core.permissions import managers_only, managers_write
from core.ratelimit import limiter, login_key, submitted_address
from core.twofactor import enabled as two_factor_enabled
from core.twofactor_views import sign_in
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


@bp.get("/")
def index() -> Response:
    return redirect(url_for("core.overview" if current_user.is_authenticated else "core.login"))


def _mail(account: Account | None, to: str, subject: str, template: str, **context: Any) -> None:
    """Queue a system mail rendered from ``core/mail/<template>.txt``; the
    outbox keeps its body encrypted and drops it once the mail is settled."""
    queue_template_mail(account, to, subject, f"core/mail/{template}.txt", **context)


def _sign_up_mail(email: str, existing: User | None, token: str | None) -> None:
    """The mail after a registration: the link for a new address, a warning
    with a way to reset the password for a registered one."""
    if existing is not None:
        _mail(
            existing.account,
            existing.email,
            _("Ihre Registrierung bei Kontor"),
            "registration_attempt",
            user=existing,
            link=external_url("core.login"),
            forgot_link=external_url("core.forgot_password"),
        )
    elif token is not None:
        _mail(
            None,
            email,
            _("Bitte bestätigen Sie Ihre E-Mail-Adresse"),
            "confirm_sign_up",
            link=external_url("core.confirm_sign_up", token=token),
        )


def _address_key(prefix: str) -> Callable[[], str]:
    return lambda: f"{prefix}:{submitted_address()}"


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def register() -> str | Response:
    """Sign up. A new and a registered address get the same answer after the
    same work; only the mail that follows differs, so the page never tells
    whether an address is registered. Nothing is created before the link
    mailed to a new address is opened."""
    form = RegisterForm()
    if form.validate_on_submit():
        existing, token = accounts.start_sign_up(
            form.company_name.data,
            form.first_name.data,
            form.last_name.data,
            form.email.data,
            form.password.data,
        )
        _sign_up_mail(form.email.data.lower(), existing, token)
        session["sign_up_email"] = form.email.data.lower()
        return redirect(url_for("core.sign_up_sent"))
    return render_template("core/register.html", form=form), 200 if not form.errors else 422


@bp.get("/register/sent")
def sign_up_sent() -> str:
    """ "Bitte bestätigen Sie Ihre E-Mail-Adresse", with a way to send it again."""
    email = session.get("sign_up_email", "")
    return render_template(
        "core/sign_up_sent.html", email=email, form=ResendSignUpForm(data={"email": email})
    )


@bp.post("/register/resend")
@limiter.limit("10 per hour", methods=["POST"])
@limiter.limit("3 per hour", key_func=_address_key("sign-up"), methods=["POST"])
def resend_sign_up() -> str | Response:
    form = ResendSignUpForm()
    if not form.validate_on_submit():
        return render_template("core/sign_up_sent.html", email="", form=form), 422
    existing, token = accounts.resend_sign_up(form.email.data)
    _sign_up_mail(form.email.data.lower(), existing, token)
    session["sign_up_email"] = form.email.data.lower()
    flash(_("Wir haben die E-Mail erneut gesendet."), "success")
    return redirect(url_for("core.sign_up_sent"))


def _invalid_link() -> tuple[str, int]:
    """Expired, used and mangled links all get this page and change nothing."""
    return render_template("core/invalid_link.html"), 400


@bp.route("/register/confirm/<token>", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def confirm_sign_up(token: str) -> str | Response | tuple[str, int]:
    """Opening the link shows a button (a mail scanner fetching the link
    activates nothing); pressing it creates the account and logs in."""
    form = ConfirmForm()
    if accounts.find_link("signup", token) is None:
        return _invalid_link()
    if form.validate_on_submit():
        user = accounts.confirm_sign_up(token)
        if user is None:
            return _invalid_link()
        complete_login(user)
        flash(_("Ihre E-Mail-Adresse ist bestätigt. Willkommen bei Kontor!"), "success")
        return redirect(url_for("core.overview"))
    return render_template(
        "core/confirm_link.html",
        form=form,
        title=_("Konto aktivieren"),
        text=_("Bestätigen Sie Ihre E-Mail-Adresse, um Ihr Konto zu aktivieren."),
        button=_("Konto aktivieren"),
    )


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
@limiter.limit("3 per hour", key_func=_address_key("reset"), methods=["POST"])
def forgot_password() -> str | Response | tuple[str, int]:
    """ "Passwort vergessen?": the same answer for every address."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        user, token = accounts.request_password_reset(form.email.data)
        if user is not None:
            _mail(
                user.account,
                user.email,
                _("Passwort zurücksetzen"),
                "password_reset",
                user=user,
                link=external_url("core.reset_password", token=token),
            )
        flash(
            _(
                "Wenn zu %(email)s ein Konto besteht, haben wir einen Link zum Zurücksetzen "
                "geschickt. Er ist eine Stunde gültig.",
                email=form.email.data,
            ),
            "success",
        )
        return redirect(url_for("core.login"))
    return render_template("core/forgot_password.html", form=form), 200 if not form.errors else 422


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def reset_password(token: str) -> str | Response | tuple[str, int]:
    if accounts.find_link("reset", token) is None:
        return _invalid_link()
    form = ResetPasswordForm()
    if form.validate_on_submit():
        user = accounts.reset_password(token, form.new_password.data)
        if user is None:
            return _invalid_link()
        if current_user.is_authenticated:
            end_session()
        security_notice(user, user.email, _("Ihr Passwort wurde geändert"), "password_changed")
        flash(
            _(
                "Ihr Passwort wurde geändert. Alle Sitzungen wurden abgemeldet. "
                "Bitte melden Sie sich an."
            ),
            "success",
        )
        return redirect(url_for("core.login"))
    return render_template("core/reset_password.html", form=form), 200 if not form.errors else 422


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
            return sign_in(user, _safe_next(request.args.get("next")))
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
def _with_current_password(change: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run an account change that checks the current password, counted per
    user: a stolen session must not be able to guess the password here."""
    return change(*args, **kwargs)


def _profile_page(status: int = 200, **forms: Form) -> tuple[str, int]:
    """Nutzerdaten with its four forms; ``forms`` replaces the one that was sent."""
    pages = {
        "profile_form": ProfileForm(prefix="profile", obj=current_user.user),
        "email_form": ChangeEmailForm(prefix="email"),
        "password_form": ChangePasswordForm(prefix="password"),
        "others_form": LogoutOthersForm(prefix="others"),
    }
    return render_template(
        "core/profile.html",
        pending=accounts.pending_email(current_user.user),
        pending_form=ConfirmForm(),
        two_factor=two_factor_enabled(current_user.user) is not None,
        **{**pages, **forms},
    ), status


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


def _email_change_mails(user: User, new_email: str, token: str) -> None:
    """The link to the new address, and a notice with a way to react to the old one."""
    _mail(
        user.account,
        new_email,
        _("Bitte bestätigen Sie Ihre neue E-Mail-Adresse"),
        "confirm_email",
        user=user,
        link=external_url("core.confirm_email", token=token),
    )
    security_notice(
        user,
        user.email,
        _("Ihre E-Mail-Adresse soll geändert werden"),
        "email_change_requested",
        new_email=new_email,
        profile_link=external_url("core.profile"),
    )


@bp.post("/account/profile/email")
@login_required
def change_email() -> tuple[str, int] | Response:
    form = ChangeEmailForm(prefix="email")
    if form.validate_on_submit():
        try:
            token = _with_current_password(
                accounts.change_email,
                current_user.user,
                form.current_password.data,
                form.new_email.data,
            )
        except accounts.AccountError as exc:
            show_error(form, exc)
        else:
            _email_change_mails(current_user.user, form.new_email.data.lower(), token)
            flash(
                _(
                    "Wir haben einen Bestätigungslink an %(email)s geschickt. Die neue Adresse "
                    "gilt, sobald Sie ihn öffnen.",
                    email=form.new_email.data.lower(),
                ),
                "success",
            )
            return redirect(url_for("core.profile"))
    return _profile_page(422, email_form=form)


@bp.post("/account/profile/email/resend")
@login_required
@limiter.limit("5 per hour", key_func=lambda: f"email-change:{current_user.user.id}")
def resend_email_change() -> Response:
    form = ConfirmForm()
    if form.validate_on_submit():
        sent = accounts.resend_email_change(current_user.user)
        if sent is not None:
            _email_change_mails(current_user.user, *sent)
            flash(_("Wir haben den Bestätigungslink erneut gesendet."), "success")
    return redirect(url_for("core.profile"))


@bp.post("/account/profile/email/cancel")
@login_required
def cancel_email_change() -> Response:
    form = ConfirmForm()
    if form.validate_on_submit():
        accounts.cancel_email_change(current_user.user)
        flash(_("Die Änderung der E-Mail-Adresse wurde abgebrochen."), "success")
    return redirect(url_for("core.profile"))


@bp.route("/email/confirm/<token>", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def confirm_email(token: str) -> str | Response | tuple[str, int]:
    """Opening the link shows a button; pressing it makes the address the
    login address and ends the user's other sessions."""
    if accounts.find_link("email", token) is None:
        return _invalid_link()
    form = ConfirmForm()
    if form.validate_on_submit():
        keep = current_user.session if current_user.is_authenticated else None
        try:
            changed = accounts.confirm_email_change(token, keep)
        except accounts.AccountError as exc:
            flash(str(exc), "error")
            return _invalid_link()
        if changed is None:
            return _invalid_link()
        user, old = changed
        security_notice(user, old, _("Ihre E-Mail-Adresse wurde geändert"), "email_changed")
        flash(_("Ihre neue E-Mail-Adresse %(email)s ist bestätigt.", email=user.email), "success")
        return redirect(url_for("core.profile" if keep else "core.login"))
    return render_template(
        "core/confirm_link.html",
        form=form,
        title=_("Neue E-Mail-Adresse bestätigen"),
        text=_("Bestätigen Sie, dass Sie Ihre Anmeldung auf diese Adresse umstellen möchten."),
        button=_("E-Mail-Adresse bestätigen"),
    )


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
            show_error(form, exc)
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
            show_error(form, exc)
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
        complete_login(user)
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
