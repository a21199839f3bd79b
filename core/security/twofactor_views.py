"""Pages of the two-factor login: its set-up under Nutzerdaten, the second
step of signing in, the account's rule under Benutzer, and the service API's
``/accounts/<id>/security``. The logic is in ``core.security.twofactor``."""

from __future__ import annotations

import hashlib
import time

from flask import (
    Blueprint,
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
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from core.data.accounts import AccountError
from core.data.models import Account, User
from core.security import passkeys, twofactor
from core.security.auth import complete_login
from core.security.sign_ins import record_failure, security_notice
from core.web.api import API_PREFIX, get_account, service_blueprint
from core.web.blueprints import external_url
from core.web.forms import (
    DisableTwoFactorForm,
    EnableTwoFactorForm,
    Form,
    RecoveryCodesForm,
    RequireTwoFactorForm,
    SecondFactorForm,
    show_error,
)
from core.web.permissions import can, managers_only
from core.web.ratelimit import limiter

bp = Blueprint("two_factor", __name__)
api = service_blueprint("security", __name__)

#: The Flask session key of a login waiting for its second factor.
PENDING = "two_factor_login"
PENDING_SECONDS = 300
#: Code and password checks per user (and, for the second step, per IP address).
USER_LIMIT = "5 per minute;20 per hour"
IP_LIMIT = "10 per minute;60 per hour"
#: What a user whose account requires two-factor login may open before setting it up.
OPEN_DURING_SET_UP = frozenset(
    {
        "two_factor.settings",
        "two_factor.enable",
        "core.passkeys",
        "core.passkey_options",
        "core.add_passkey",
        "core.logout",
        "core.set_language",
        "static",
    }
)
MANAGERS = _l("Nur Inhaber und Administratoren können das festlegen.")


def own_status() -> twofactor.Status:
    """The signed-in user's second factors as loaded with their session (no
    query of its own); read anew for actors without them (support sessions)."""
    loaded = getattr(current_user, "second_factors", None)
    return loaded if loaded is not None else twofactor.status(current_user.user)


# --- signing in ----------------------------------------------------------------


def sign_in(user: User, target: str) -> Response:
    """After a correct password: log in, or first ask for the second factor.

    The waiting login lives in the (signed) session cookie for five minutes
    and names only the user and a mark of the password it was proven with
    (a new password ends it); nothing about it is logged in yet.
    """
    if not twofactor.status(user).on:
        complete_login(user)
        return redirect(target)
    session.clear()
    session[PENDING] = {
        "user": user.id,
        "password": _password_mark(user),
        "until": int(time.time()) + PENDING_SECONDS,
        "next": target,
    }
    return redirect(url_for("two_factor.login"))


def _password_mark(user: User) -> str:
    """A short digest of the stored password hash (itself salted), so a
    waiting login ends when the password changes, e.g. by a reset."""
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def pending_user() -> User | None:
    """The user whose password was right and whose second factor is awaited."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or pending.get("until", 0) < time.time():
        return None
    user = User.select(User, Account).join(Account).where(User.id == pending["user"]).first()
    if user is None or pending.get("password") != _password_mark(user):
        return None
    return user


def pending_key() -> str:
    """The rate-limit key of the second step: the waiting user (else the IP address)."""
    pending = session.get(PENDING)
    user = pending.get("user") if isinstance(pending, dict) else None
    return f"two-factor-login:{user or request.remote_addr}"


@bp.route("/login/two-factor", methods=["GET", "POST"])
@limiter.limit(IP_LIMIT, methods=["POST"])
@limiter.limit(USER_LIMIT, key_func=pending_key, methods=["POST"])
def login() -> str | Response | tuple[str, int]:
    """The second step: a code from the app, a recovery code or a passkey."""
    user = pending_user()
    if user is None:
        session.pop(PENDING, None)
        flash(_("Bitte melden Sie sich erneut an."), "error")
        return redirect(url_for("core.login"))
    factors = twofactor.status(user)
    form = SecondFactorForm()
    if form.validate_on_submit():
        method = twofactor.check_code(user, form.code.data)
        if method is not None:
            target = session[PENDING]["next"]
            complete_login(user)
            if method == "recovery_code":
                left = twofactor.remaining_codes(user)
                flash(
                    _(
                        "Sie haben einen Wiederherstellungscode verwendet; %(left)d sind übrig.",
                        left=left,
                    ),
                    "warning",
                )
            return redirect(target)
        record_failure(user, "code")  # whoever tried knows the password
        form.code.errors = [_("Der Code stimmt nicht oder wurde schon verwendet.")]
    return render_template(
        "core/two_factor/login.html", form=form, factors=factors
    ), 422 if form.errors else 200


# --- Nutzerdaten: Zwei-Faktor-Anmeldung --------------------------------------------------


def _settings_page(status: int = 200, **forms: Form) -> tuple[str, int]:
    """The set-up (QR code and secret) while off; recovery codes and turning off while on.

    The secret is made and shown only to whoever may turn it on: never to a
    support session.
    """
    user = current_user.user
    row = twofactor.enabled(user)
    context: dict[str, object] = {
        "row": row,
        "required": bool(user.account.two_factor_required),
        "passkey_count": passkeys.count(user),
        "enable_form": EnableTwoFactorForm(prefix="enable"),
        "codes_form": RecoveryCodesForm(prefix="codes"),
        "disable_form": DisableTwoFactorForm(prefix="disable"),
        **forms,
    }
    if row is None and can("two_factor.enable"):
        secret = twofactor.pending_secret(user)
        uri = twofactor.provisioning_uri(user, secret)
        context["secret"] = twofactor.grouped(secret)
        context["qr"] = twofactor.qr_svg(uri, _("QR-Code für Ihre Authenticator-App"))
    if row is not None:
        context["remaining"] = twofactor.remaining_codes(user)
    return render_template("core/two_factor/settings.html", **context), status


def _user_key() -> str:
    return f"two-factor:{current_user.user.id}"


def _requiring() -> bool:
    """Requiring the account's rule checks no password or code: it is not counted."""
    return request.endpoint == "two_factor.policy" and bool(request.form.get("required"))


#: Turning on, new recovery codes, turning off and lifting the account's rule
#: check the password and a code: one count per user for all four, so a
#: stolen session cannot guess.
settings_limit = limiter.shared_limit(
    USER_LIMIT,
    scope="two-factor-settings",
    key_func=_user_key,
    methods=["POST"],
    exempt_when=_requiring,
)


@bp.get("/account/profile/two-factor")
@login_required
def settings() -> tuple[str, int]:
    return _settings_page()


def _codes_page(codes: list[str]) -> str:
    """Recovery codes are shown in this answer only; they are stored as hashes."""
    return render_template("core/two_factor/codes.html", codes=codes)


def _notice(user: User, subject: str, template: str) -> None:
    """A security notice about two-factor login, linking to its settings."""
    security_notice(
        user, user.email, subject, template, settings_link=external_url("two_factor.settings")
    )


@bp.post("/account/profile/two-factor/enable")
@login_required
@settings_limit
def enable() -> str | tuple[str, int]:
    form = EnableTwoFactorForm(prefix="enable")
    if form.validate_on_submit():
        user = current_user.user
        try:
            codes = twofactor.enable(user, form.code.data, form.current_password.data)
        except AccountError as exc:
            show_error(form, exc)
        else:
            _notice(user, _("Zwei-Faktor-Anmeldung eingeschaltet"), "two_factor_enabled")
            flash(_("Die Zwei-Faktor-Anmeldung ist eingeschaltet."), "success")
            return _codes_page(codes)
    return _settings_page(422, enable_form=form)


@bp.post("/account/profile/two-factor/recovery-codes")
@login_required
@settings_limit
def regenerate() -> str | tuple[str, int]:
    form = RecoveryCodesForm(prefix="codes")
    if form.validate_on_submit():
        user = current_user.user
        try:
            codes = twofactor.regenerate_codes(user, form.current_password.data, form.code.data)
        except AccountError as exc:
            show_error(form, exc)
        else:
            _notice(user, _("Neue Wiederherstellungscodes erstellt"), "recovery_codes_regenerated")
            flash(_("Ihre alten Wiederherstellungscodes gelten nicht mehr."), "success")
            return _codes_page(codes)
    return _settings_page(422, codes_form=form)


@bp.post("/account/profile/two-factor/disable")
@login_required
@settings_limit
def disable() -> Response | tuple[str, int]:
    form = DisableTwoFactorForm(prefix="disable")
    if form.validate_on_submit():
        user = current_user.user
        try:
            twofactor.disable(user, form.current_password.data, form.code.data)
        except AccountError as exc:
            show_error(form, exc)
        else:
            _notice(user, _("Zwei-Faktor-Anmeldung ausgeschaltet"), "two_factor_disabled")
            flash(_("Die Zwei-Faktor-Anmeldung ist ausgeschaltet."), "success")
            return redirect(url_for("two_factor.settings"))
    return _settings_page(422, disable_form=form)


@bp.before_app_request
def lead_to_set_up() -> Response | None:
    """In an account that requires two-factor login, a user without it gets
    only the set-up page (and can log out) until it is on."""
    if request.endpoint in OPEN_DURING_SET_UP or request.path.startswith(API_PREFIX + "/"):
        return None
    if not current_user.is_authenticated or current_user.is_support:
        return None
    if not twofactor.setup_required(current_user.user):
        return None
    flash(
        _("Ihr Konto verlangt die Zwei-Faktor-Anmeldung. Bitte richten Sie sie jetzt ein."),
        "warning",
    )
    return redirect(url_for("two_factor.settings"))


# --- Benutzer: the account's rule ------------------------------------------------------


@bp.route("/account/users/two-factor", methods=["GET", "POST"])
@login_required
@managers_only(MANAGERS)
@settings_limit
def policy() -> str | Response | tuple[str, int]:
    account = current_user.account
    form = RequireTwoFactorForm(data={"required": bool(account.two_factor_required)})
    if form.validate_on_submit():
        try:
            twofactor.set_required(
                account,
                current_user.user,
                form.required.data,
                form.current_password.data or "",
                form.code.data or "",
            )
        except AccountError as exc:
            show_error(form, exc)
        else:
            flash(
                _("Alle Benutzer müssen sich jetzt mit zweitem Faktor anmelden.")
                if form.required.data
                else _("Die Zwei-Faktor-Anmeldung ist für Benutzer jetzt freiwillig."),
                "success",
            )
            return redirect(url_for("two_factor.policy"))
    members = twofactor.members_with_status(account)
    own = next((f for member, f in members if member.id == current_user.user.id), None)
    return render_template(
        "core/two_factor/policy.html",
        form=form,
        members=members,
        required=bool(account.two_factor_required),
        asks_code=own is not None and own.totp,
    ), 422 if form.errors else 200


# --- service API ---------------------------------------------------------------------


@api.get("/accounts/<int:account_id>/security")
def security(account_id: int) -> Response:
    return jsonify(twofactor.security_report(get_account(account_id)))
