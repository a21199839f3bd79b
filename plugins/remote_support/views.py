"""Support: the customer's consent page, the staff login and console, and the
guard that keeps support sessions within their scope."""

from __future__ import annotations

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
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from core import end_session, limiter, managers_write, submitted_address
from plugins.remote_support import services
from plugins.remote_support.forms import (
    EndSessionForm,
    GrantForm,
    RevokeForm,
    StaffLoginForm,
    StartSessionForm,
)
from plugins.remote_support.log_text import sentence
from plugins.remote_support.models import Staff

bp = Blueprint("remote_support", __name__, template_folder="templates")
STAFF_KEY = "_kontor_staff"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Ways out of a support session, open in every scope.
ALWAYS_ALLOWED = ("remote_support.end_support", "remote_support.staff_logout", "core.logout")
MANAGERS_ONLY = _l("Nur Inhaber und Administratoren können die Genehmigung ändern.")


def _is_support() -> bool:
    return current_user.is_authenticated and current_user.is_support


def staff_token() -> str | None:
    """The staff login token this browser's cookie carries, if any."""
    return session.get(STAFF_KEY)


def _sensitive(endpoint: str | None) -> bool:
    pm = current_app.extensions["kontor"].pm
    return any(
        action.endpoint == endpoint
        for result in pm.hook.kontor_sensitive_actions()
        for action in result or ()
    )


def write_refusal(endpoint: str | None) -> str | None:
    """Why the running support session may not write to ``endpoint``, or None.

    The guard below refuses with it, and pages ask it (``kontor_write_refusal``)
    before they show a form.
    """
    if not _is_support() or endpoint in ALWAYS_ALLOWED:
        return None
    if current_user.read_only:
        return _("Im Umfang „Nur lesen“ kann der Support nichts ändern.")
    if _sensitive(endpoint):
        return _("Diese Änderung ist in einer Support-Sitzung nicht erlaubt.")
    return None


@bp.before_app_request
def guard_support_sessions() -> None:
    """Refuse writes outside the scope of the running support session."""
    if request.method in SAFE_METHODS:
        return
    reason = write_refusal(request.endpoint)
    if reason:
        abort(403, reason)


@bp.after_app_request
def log_support_writes(response: Response) -> Response:
    """Every successful write in a support session goes into the access log."""
    if (
        request.method not in SAFE_METHODS
        and response.status_code < 400
        and _is_support()
        and request.endpoint not in ALWAYS_ALLOWED
        and request.endpoint != "remote_support.start_support"  # logged as session_start
    ):
        services.log(
            current_user.account,
            current_user.staff.name,
            "write",
            request.endpoint or f"{request.method} {request.path}",
        )
    return response


# --- customer side -------------------------------------------------------------


def _page(form: GrantForm | None = None, status: int = 200) -> tuple[str, int]:
    account = current_user.account
    return render_template(
        "remote_support/index.html",
        form=form or GrantForm(),
        revoke_form=RevokeForm(),
        grant=services.active_grant(account),
        log=[(entry.at, sentence(entry)) for entry in services.access_log(account)],
        scopes=services.SCOPE_LABELS,
    ), status


@bp.get("/account/support")
@login_required
def index() -> tuple[str, int]:
    return _page()


@bp.post("/account/support")
@login_required
@managers_write(MANAGERS_ONLY)
def save() -> Response | tuple[str, int]:
    form = GrantForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    services.grant(current_user.account, current_user.user, form.duration.data, form.scope.data)
    flash(_("Die Genehmigung zur Fernwartung wurde erteilt."), "success")
    return redirect(url_for("remote_support.index"))


@bp.post("/account/support/revoke")
@login_required
@managers_write(MANAGERS_ONLY)
def revoke() -> Response:
    if RevokeForm().validate_on_submit() and services.revoke(
        current_user.account, current_user.user
    ):
        flash(_("Die Genehmigung zur Fernwartung wurde widerrufen."), "success")
    return redirect(url_for("remote_support.index"))


# --- staff side ---------------------------------------------------------------


def _staff():
    return services.load_staff(staff_token())


def _staff_email() -> str:
    return "staff:" + submitted_address()


@bp.route("/staff/login", methods=["GET", "POST"])
@limiter.limit("10 per minute;30 per hour", methods=["POST"])
@limiter.limit("5 per minute;20 per hour", key_func=_staff_email, methods=["POST"])
def staff_login() -> Response | tuple[str, int]:
    form = StaffLoginForm()
    if form.validate_on_submit():
        token = services.staff_login(form.email.data, form.password.data, form.code.data)
        if token:
            session.clear()  # a fresh session and CSRF token, as for customer logins
            session[STAFF_KEY] = token
            return redirect(url_for("remote_support.console"))
        form.code.errors = [_("Anmeldung fehlgeschlagen. Prüfen Sie Passwort und Einmalcode.")]
    return render_template("remote_support/staff_login.html", form=form), (
        422 if form.errors else 200
    )


@bp.get("/staff/")
def console() -> Response | str:
    staff = _staff()
    if staff is None:
        return redirect(url_for("remote_support.staff_login"))
    return _console(staff, StartSessionForm())


def _console(staff: Staff, form: StartSessionForm) -> str:
    return render_template(
        "remote_support/console.html",
        staff=staff,
        grants=services.accounts_with_grant(),
        start_form=form,
        scopes=services.SCOPE_LABELS,
    )


@bp.post("/staff/logout")
def staff_logout() -> Response:
    if EndSessionForm().validate_on_submit():
        if _is_support():
            end_session()  # the support session and the staff login behind it
        elif staff_token():
            services.end_staff_session(session.pop(STAFF_KEY))
    return redirect(url_for("remote_support.staff_login"))


@bp.post("/staff/sessions")
def start_support() -> Response | tuple[str, int]:
    staff = _staff()
    if staff is None:
        abort(403)
    if _is_support():
        abort(403, _("Beenden Sie zuerst die laufende Support-Sitzung."))
    form = StartSessionForm()
    if not form.validate_on_submit():
        flash(_("Bitte geben Sie einen Grund oder eine Ticketnummer an."), "error")
        return _console(staff, form), 422
    try:
        token = services.start_support(staff, form.account_id.data, form.reason.data)
    except services.SupportError as exc:
        abort(403, str(exc))
    login_user(services.load_support(token, staff_token()))
    return redirect(url_for("core.overview"))


@bp.post("/support/end")
def end_support() -> Response:
    if EndSessionForm().validate_on_submit() and _is_support():
        current_user.end()
        logout_user()
    return redirect(url_for("remote_support.console"))
