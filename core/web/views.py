"""Core pages: entry (register, login, logout), overview, Nutzerdaten,
Meine Firma and Benutzer. Views parse forms, call ``core.data.accounts`` and
redirect."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
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

from core.contract.values import PermanentFailure
from core.data import accounts, lifecycle
from core.data.db import database, utcnow
from core.data.models import Account, User
from core.delivery.job_queue import enqueue
from core.delivery.outbox import queue_template_mail
from core.security import passkeys, sign_ins, twofactor
from core.security.auth import complete_login, end_session, revoke_sessions
from core.security.sign_ins import security_notice
from core.security.twofactor_views import (
    IP_LIMIT,
    PENDING,
    USER_LIMIT,
    own_status,
    pending_key,
    pending_user,
    sign_in,
)
from core.web.api import error_response, json_errors
from core.web.blueprints import external_url
from core.web.formatting import LANGUAGE_COOKIE, LANGUAGES, format_when
from core.web.forms import (
    AcceptInvitationForm,
    AddPasskeyForm,
    AddUserForm,
    ChangeEmailForm,
    ChangePasswordForm,
    CloseAccountForm,
    CompanyForm,
    ConfirmForm,
    ExportForm,
    ForgotPasswordForm,
    Form,
    LoginForm,
    LogoutOthersForm,
    ProfileForm,
    RegisterForm,
    RenamePasskeyForm,
    ResendSignUpForm,
    ResetPasswordForm,
    UndoCloseForm,
    show_error,
)
from core.web.permissions import can, managers_only, managers_write, owner_write
from core.web.ratelimit import limiter, login_key, submitted_address

bp = Blueprint("core", __name__)
Page = tuple[str, int]
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
@limiter.limit("3 per hour", key_func=_address_key("sign-up"), methods=["POST"])
def register() -> str | Response:
    """Sign up. A new and a registered address get the same answer after the
    same work; only the mail that follows differs, so the page never tells
    whether an address is registered. Nothing is created before the link
    mailed to a new address is opened. A signed-in user is sent to the
    account, as ``/login`` does: a blank sign-up form is no use to them."""
    if current_user.is_authenticated:
        return redirect(url_for("core.overview"))
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


SIGN_UP_AGAIN_JOB = "core.sign_up_mail_again"


def mail_sign_up_again(email: str) -> None:
    """Worker job of "erneut senden": whether the address is registered,
    waiting for its link or unknown is looked up here, not while the
    visitor waits for the answer."""
    with database.atomic():
        existing, token = accounts.resend_sign_up(email)
        _sign_up_mail(email.lower(), existing, token)


@bp.post("/register/resend")
@limiter.limit("10 per hour", methods=["POST"])
@limiter.limit("3 per hour", key_func=_address_key("sign-up"), methods=["POST"])
def resend_sign_up() -> str | Response:
    form = ResendSignUpForm()
    if not form.validate_on_submit():
        return render_template("core/sign_up_sent.html", email="", form=form), 422
    with database.atomic():
        enqueue(SIGN_UP_AGAIN_JOB, email=form.email.data)
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


RESET_MAIL_JOB = "core.password_reset_mail"


def mail_password_reset(email: str) -> None:
    """Worker job of "Passwort vergessen?": the lookup, the link and the mail
    happen here, so the request does the same work for every address and
    takes as long for a registered one as for an unknown one."""
    with database.atomic():
        user, token = accounts.request_password_reset(email)
        if user is not None:
            _mail(
                user.account,
                user.email,
                _("Passwort zurücksetzen"),
                "password_reset",
                user=user,
                link=external_url("core.reset_password", token=token),
            )


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
@limiter.limit("3 per hour", key_func=_address_key("reset"), methods=["POST"])
def forgot_password() -> str | Response | tuple[str, int]:
    """ "Passwort vergessen?": the same answer, after the same work, for every address."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        with database.atomic():
            enqueue(RESET_MAIL_JOB, email=form.email.data)
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
    return render_template(
        "core/login.html", form=form, next=_safe_next(request.args.get("next"))
    ), 200 if not form.errors else 422


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
    """Nutzerdaten with its three forms; ``forms`` replaces the one that was sent."""
    factors = own_status()
    pages = {
        "profile_form": ProfileForm(prefix="profile", obj=current_user.user),
        "email_form": ChangeEmailForm(prefix="email"),
        "password_form": ChangePasswordForm(prefix="password"),
        "export_form": ExportForm(prefix="export"),
        "close_form": CloseAccountForm(prefix="close"),
        "undo_close_form": UndoCloseForm(prefix="undo"),
    }
    return render_template(
        "core/profile.html",
        pending=accounts.pending_email(current_user.user),
        pending_form=ConfirmForm(),
        is_owner=can("core.close_account"),
        two_factor=factors,
        passkey_count=factors.passkeys,
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


HISTORY_PER_PAGE = 20


def _sessions_page(status: int = 200) -> tuple[str, int]:
    user = current_user.user
    this_session = None if current_user.is_support else current_user.session.id
    entries, page, pages = sign_ins.history(
        user, request.args.get("page", 1, type=int), HISTORY_PER_PAGE
    )
    return render_template(
        "core/sessions.html",
        sessions=sorted(sign_ins.live_sessions(user), key=lambda s: s.id != this_session),
        this_session=this_session,
        entries=entries,
        page=page,
        pages=pages,
        reasons=sign_ins.REASONS,
        device_of=sign_ins.device_of,
        others_form=LogoutOthersForm(prefix="others"),
        end_form=ConfirmForm(),
    ), status


@bp.get("/account/profile/sessions")
@login_required
def sessions() -> tuple[str, int]:
    """ "Sitzungen und Anmeldeverlauf": where the user is signed in, and the
    last sign-ins and failed attempts, 20 to a page."""
    return _sessions_page()


@bp.post("/account/profile/sessions")
@login_required
def logout_others() -> tuple[str, int] | Response:
    form = LogoutOthersForm(prefix="others")
    if not form.validate_on_submit():
        return _sessions_page(422)
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
    return redirect(url_for("core.sessions"))


@bp.post("/account/profile/sessions/<int:session_id>/end")
@login_required
def end_user_session(session_id: int) -> Response:
    """ "Abmelden" for one session of the list; only the user's own (404 otherwise)."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        return redirect(url_for("core.sessions"))
    if not sign_ins.end_user_session(current_user.user, session_id):
        abort(404)
    if session_id == current_user.session.id:
        end_session()
        flash(_("Sie wurden abgemeldet."), "success")
        return redirect(url_for("core.login"))
    flash(_("Die Sitzung wurde abgemeldet."), "success")
    return redirect(url_for("core.sessions"))


# --- The account's data: export and closing (owner only) -------------------------

OWNER_ONLY = _l("Nur der Inhaber des Kontos kann das tun.")


@bp.post("/account/profile/export")
@login_required
@owner_write(OWNER_ONLY)
@limiter.limit("3 per hour", key_func=lambda: f"export:{current_user.account.id}")
def request_export() -> tuple[str, int] | Response:
    form = ExportForm(prefix="export")
    if not form.validate_on_submit():
        return _profile_page(422, export_form=form)
    lifecycle.request_export(current_user.user)
    flash(
        _(
            "Wir stellen Ihre Daten zusammen. Sie erhalten eine E-Mail mit dem Download-Link, "
            "sobald der Export bereit ist."
        ),
        "success",
    )
    return redirect(url_for("core.profile"))


@bp.get("/account/export/<token>")
@login_required
@limiter.limit("20 per hour")
def download_export(token: str) -> tuple[str, int] | Response:
    """The link works once, for the user who asked, while logged in; anyone
    else (another user, a support session) gets the page for a dead link and
    the link stays usable."""
    content = None
    if not current_user.is_support:
        content = lifecycle.take_export(current_user.user, token)
    if content is None:
        return render_template("core/export_invalid.html"), 404
    stamp = utcnow().strftime("%Y-%m-%d")
    return Response(
        content,
        mimetype="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="kontor-export-{stamp}.zip"',
            "Cache-Control": "no-store",
        },
    )


@bp.post("/account/profile/close")
@login_required
@owner_write(OWNER_ONLY)
def close_account() -> tuple[str, int] | Response:
    form = CloseAccountForm(prefix="close")
    if form.validate_on_submit():
        try:
            erase_at = _with_current_password(
                lifecycle.request_closing,
                current_user.user,
                form.current_password.data,
                form.when.data == "now",
            )
        except accounts.AccountError as exc:
            show_error(form, exc)
        else:
            flash(
                _(
                    "Ihr Konto wird geschlossen. Bis zum %(date)s können Sie das zurücknehmen; "
                    "danach werden Ihre Daten gelöscht.",
                    date=format_when(erase_at, with_time=False),
                ),
                "success",
            )
            return redirect(url_for("core.profile"))
    return _profile_page(422, close_form=form)


@bp.post("/account/profile/close/undo")
@login_required
@owner_write(OWNER_ONLY)
@limiter.limit("10 per hour", key_func=lambda: f"undo-close:{current_user.account.id}")
def undo_close_account() -> Response:
    form = UndoCloseForm(prefix="undo")
    if form.validate_on_submit() and lifecycle.undo_closing(current_user.user):
        flash(_("Die Schließung Ihres Kontos wurde zurückgenommen."), "success")
    return redirect(url_for("core.profile"))


# --- Passkeys -------------------------------------------------------------------
# The ceremony steps are JSON routes for core/static/passkeys.js: the CSRF token
# comes in the X-CSRFToken header, errors go back as JSON (``json_errors``).
# The challenge a browser was given sits in its session and, hashed, in the
# database; both are used up by the first answer.

_REGISTER_CHALLENGE = "passkey_register"
_LOGIN_CHALLENGE = "passkey_login"
_SECOND_FACTOR_CHALLENGE = "passkey_second_factor"


def _signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """``login_required`` for a route called by script: a 401 in JSON, not a
    redirect to the login page that the script would take for an answer."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            abort(401, _("Bitte melden Sie sich an."))
        return view(*args, **kwargs)

    return wrapper


def _issued(key: str, options: str, challenge: bytes) -> Response:
    session[key] = challenge.hex()
    return current_app.response_class(options, mimetype="application/json")


def _issued_challenge(key: str) -> bytes:
    """The challenge this browser was given, taken out of its session."""
    value = session.pop(key, "")
    try:
        return bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        return b""


def _sent_credential() -> dict[str, Any]:
    """The credential object of the JSON body ``{"credential": {...}}``, or a 400."""
    body = request.get_json(silent=True)
    credential = body.get("credential") if isinstance(body, dict) else None
    if not isinstance(credential, dict):
        abort(400, _("Die Anfrage war ungültig. Bitte laden Sie die Seite neu."))
    return credential


def _form_errors(form: Form) -> Response:
    """A form sent as JSON that did not validate: 422 naming its fields."""
    fields = {name: " ".join(str(e) for e in errors) for name, errors in form.errors.items()}
    return error_response(422, _("Bitte prüfen Sie die Eingaben."), fields)


def _rename_form(passkey_id: int, name: str | None = None) -> RenamePasskeyForm:
    data = {"name": name} if name is not None else None
    return RenamePasskeyForm(prefix=f"passkey-{passkey_id}", data=data)


def _passkeys_page(status: int = 200, sent: dict[int, RenamePasskeyForm] | None = None) -> Page:
    """Passkeys, each with its rename form (``sent`` replaces the one that was sent)."""
    items = passkeys.passkeys_of(current_user.user)
    forms = {p.id: _rename_form(p.id, p.name) for p in items} | (sent or {})
    add_form = AddPasskeyForm(
        data={"name": str(sign_ins.device_of(request.user_agent.string or ""))}
    )
    return render_template(
        "core/passkeys.html",
        passkeys=items,
        rename_forms=forms,
        add_form=add_form,
        remove_form=ConfirmForm(),
    ), status


@bp.get("/account/profile/passkeys", endpoint="passkeys")
@login_required
def passkeys_page() -> Page:
    return _passkeys_page()


@bp.post("/account/profile/passkeys/options")
@json_errors
@_signed_in
@limiter.limit("30 per hour", key_func=lambda: f"passkey-add:{current_user.user.id}")
def passkey_options() -> Response:
    """Step one of adding a passkey: the name and the current password (a
    stolen session must not plant a passkey of its own), then the options
    for ``navigator.credentials.create``."""
    form = AddPasskeyForm()
    if not form.validate_on_submit():
        return _form_errors(form)
    user = current_user.user
    try:
        _with_current_password(accounts.confirm_password, user, form.current_password.data)
        options, challenge = passkeys.registration_options(user, form.name.data)
    except accounts.AccountError as exc:
        return error_response(422, str(exc), {exc.field or "": str(exc)})
    except passkeys.PasskeyError as exc:
        return error_response(422, str(exc))
    return _issued(_REGISTER_CHALLENGE, options, challenge)


@bp.post("/account/profile/passkeys/add")
@json_errors
@_signed_in
@limiter.limit("30 per hour", key_func=lambda: f"passkey-add:{current_user.user.id}")
def add_passkey() -> Response:
    """Step two: the browser's new credential, checked and stored."""
    user = current_user.user
    try:
        passkey = passkeys.register(
            user, _sent_credential(), _issued_challenge(_REGISTER_CHALLENGE)
        )
    except passkeys.PasskeyError as exc:
        return error_response(422, str(exc))
    security_notice(user, user.email, _("Passkey hinzugefügt"), "passkey_added", passkey=passkey)
    flash(_("Der Passkey „%(name)s“ wurde hinzugefügt.", name=passkey.name), "success")
    return jsonify(redirect=url_for("core.passkeys"))


@bp.post("/account/profile/passkeys/<int:passkey_id>/rename")
@login_required
def rename_passkey(passkey_id: int) -> Page | Response:
    form = _rename_form(passkey_id)
    if not form.validate_on_submit():
        return _passkeys_page(422, {passkey_id: form})
    if passkeys.rename(current_user.user, passkey_id, form.name.data) is None:
        abort(404)
    flash(_("Der Passkey wurde umbenannt."), "success")
    return redirect(url_for("core.passkeys"))


@bp.post("/account/profile/passkeys/<int:passkey_id>/remove")
@login_required
def remove_passkey(passkey_id: int) -> Page | Response:
    """Remove a passkey; the password stays. The last one is kept while it is
    the second factor the account requires."""
    form = ConfirmForm()
    if form.validate_on_submit():
        user = current_user.user
        if passkey_id not in {p.id for p in passkeys.passkeys_of(user)}:
            abort(404)
        try:
            twofactor.check_passkey_removal(user)
        except accounts.AccountError as exc:
            flash(str(exc), "error")
            return _passkeys_page(422)
        passkey = passkeys.remove(user, passkey_id)
        if passkey is None:
            abort(404)
        security_notice(user, user.email, _("Passkey entfernt"), "passkey_removed", passkey=passkey)
        flash(_("Der Passkey „%(name)s“ wurde entfernt.", name=passkey.name), "success")
    return redirect(url_for("core.passkeys"))


@bp.post("/login/passkey/options")
@json_errors
@limiter.limit("30 per minute")
def passkey_login_options() -> Response:
    """Step one of "Mit Passkey anmelden": a challenge for any passkey of this site."""
    return _issued(_LOGIN_CHALLENGE, *passkeys.authentication_options())


@bp.post("/login/passkey")
@json_errors
@limiter.limit(lambda: current_app.config["KONTOR_LOGIN_LIMIT"])
def passkey_login() -> Response:
    """Step two: the signed challenge. A passkey counts as two factors, so the
    login is complete at once."""
    try:
        user = passkeys.authenticate(_sent_credential(), _issued_challenge(_LOGIN_CHALLENGE))
    except passkeys.PasskeyError as exc:
        return error_response(422, str(exc))
    complete_login(user)
    body = request.get_json(silent=True)
    target = body.get("next") if isinstance(body, dict) else None
    return jsonify(redirect=_safe_next(target if isinstance(target, str) else None))


@bp.post("/login/two-factor/passkey/options")
@json_errors
@limiter.limit("30 per minute")
def two_factor_passkey_options() -> Response:
    """The second step with a passkey instead of a code: a challenge that only
    the passkeys of the user whose password was right can answer."""
    user = pending_user()
    if user is None:
        abort(401, _("Bitte melden Sie sich erneut an."))
    return _issued(_SECOND_FACTOR_CHALLENGE, *passkeys.second_factor_options(user))


@bp.post("/login/two-factor/passkey")
@json_errors
@limiter.limit(IP_LIMIT)
@limiter.limit(USER_LIMIT, key_func=pending_key)
def two_factor_passkey() -> Response:
    """The signed challenge; a passkey of another user is refused."""
    user = pending_user()
    if user is None:
        abort(401, _("Bitte melden Sie sich erneut an."))
    try:
        passkeys.confirm(user, _sent_credential(), _issued_challenge(_SECOND_FACTOR_CHALLENGE))
    except passkeys.PasskeyError as exc:
        return error_response(422, str(exc))
    target = session[PENDING]["next"]
    complete_login(user)
    return jsonify(redirect=target)


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
        removable=[m.id for m in members if accounts.removable(m, current_user.user)],
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
        if member is None or not accounts.removable(member, current_user.user):
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
