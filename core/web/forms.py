"""The base of every form, and core's forms: entry pages, Nutzerdaten, Meine Firma, users."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TelField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from core.data.accounts import AccountError
from core.web.validation import EmailAddress, MobileNumber, PlainText, strip_filter

_NOT_TEXT = _l("Bitte geben Sie hier Text ein.")
_CONTROL = _l("Steuerzeichen sind in diesem Feld nicht erlaubt.")


class TextOnlyForm(FlaskForm):
    """A FlaskForm whose fields receive only text.

    A browser sends text; a crafted request can send a file part (multipart),
    a JSON number, list or object, or a NUL character (which PostgreSQL cannot
    store). Such values never reach a field, since WTForms' validators expect
    strings (``Length`` fails on anything else): the field they were sent for
    gets a German message instead, so the form does not validate and nothing
    is stored. A JSON body that is not an object is a 400.
    """

    class Meta:
        def wrap_formdata(self, form: FlaskForm, formdata: Any) -> Any:
            json_body = form.is_submitted() and request.is_json
            if json_body and not isinstance(request.get_json(), dict):
                abort(400)
            data = super().wrap_formdata(form, formdata)
            if data is None:
                return None
            self.refused = {
                name: _CONTROL if isinstance(value, str) else _NOT_TEXT
                for name, value in data.items(multi=True)
                if not isinstance(value, str) or "\x00" in value
            }
            if not self.refused:
                return data
            kept = [(k, v) for k, v in data.items(multi=True) if k not in self.refused]
            return MultiDict(kept)

    def validate(self, extra_validators: Any = None) -> bool:
        """Validate as WTForms does; a field that was sent something other than text fails."""
        valid = super().validate(extra_validators)
        refused = getattr(self.meta, "refused", {})
        for field in self:
            if field.name in refused:
                field.errors = [refused[field.name]]
                valid = False
        return valid


class Form(TextOnlyForm):
    """Base of every Kontor form: FlaskForm with CSRF, Flask-Babel's
    translations of WTForms' messages and text-only values; fields render
    with WTForms' widgets."""


def show_error(form: Form, error: AccountError) -> None:
    """Put a refused change's message next to the field it names, or flash it."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [*field.errors, str(error)]
    else:
        flash(str(error), "error")


_REQUIRED = _l("Dieses Feld ist erforderlich.")
_MAX = _l("Höchstens %(max)d Zeichen.")
PASSWORD_MIN = 10


def _name(label: str) -> StringField:
    return StringField(
        label,
        filters=[strip_filter],
        validators=[DataRequired(_REQUIRED), Length(max=100, message=_MAX), PlainText()],
    )


def _email(label: str) -> EmailField:
    return EmailField(
        label,
        filters=[strip_filter],
        validators=[DataRequired(_REQUIRED), Length(max=254, message=_MAX), EmailAddress()],
    )


def _new_password(label: str) -> PasswordField:
    return PasswordField(
        label,
        validators=[
            DataRequired(_REQUIRED),
            Length(
                min=PASSWORD_MIN,
                max=200,
                message=_l("Das Passwort muss 10 bis 200 Zeichen lang sein."),
            ),
        ],
    )


def _password(label: str) -> PasswordField:
    """A password the user already has (checked against the stored hash, so
    only its presence and an upper bound are validated here)."""
    return PasswordField(label, validators=[DataRequired(_REQUIRED), Length(max=200, message=_MAX)])


def _company_name() -> StringField:
    return StringField(
        _l("Firmenname"),
        filters=[strip_filter],
        validators=[DataRequired(_REQUIRED), Length(max=200, message=_MAX), PlainText()],
    )


class RegisterForm(Form):
    company_name = _company_name()
    first_name = _name(_l("Vorname"))
    last_name = _name(_l("Nachname"))
    email = _email(_l("E-Mail-Adresse"))
    password = _new_password(_l("Passwort"))
    submit = SubmitField(_l("Registrieren"))


class LoginForm(Form):
    email = EmailField(
        _l("E-Mail-Adresse"),
        filters=[strip_filter],
        validators=[DataRequired(_REQUIRED), Length(max=254, message=_MAX)],
    )
    password = _password(_l("Passwort"))
    submit = SubmitField(_l("Anmelden"))


class ProfileForm(Form):
    first_name = _name(_l("Vorname"))
    last_name = _name(_l("Nachname"))
    submit = SubmitField(_l("Speichern"))


class ChangeEmailForm(Form):
    new_email = _email(_l("Neue E-Mail-Adresse"))
    current_password = _password(_l("Aktuelles Passwort"))
    submit = SubmitField(_l("E-Mail-Adresse ändern"))


class NewPasswordForm(Form):
    """A new password typed twice: the base of changing and of resetting it."""

    new_password = _new_password(_l("Neues Passwort"))
    confirm = PasswordField(
        _l("Neues Passwort wiederholen"),
        validators=[
            DataRequired(_REQUIRED),
            EqualTo("new_password", message=_l("Die Passwörter stimmen nicht überein.")),
        ],
    )


class ChangePasswordForm(NewPasswordForm):
    current_password = _password(_l("Aktuelles Passwort"))
    submit = SubmitField(_l("Passwort ändern"))


class ForgotPasswordForm(Form):
    email = _email(_l("E-Mail-Adresse"))
    submit = SubmitField(_l("Link zum Zurücksetzen senden"))


class ResetPasswordForm(NewPasswordForm):
    submit = SubmitField(_l("Passwort speichern"))


class ResendSignUpForm(Form):
    email = _email(_l("E-Mail-Adresse"))
    submit = SubmitField(_l("E-Mail erneut senden"))


class LogoutOthersForm(Form):
    submit = SubmitField(_l("Alle anderen Sitzungen abmelden"))


def _code(label: str) -> StringField:
    return StringField(
        label,
        filters=[strip_filter],
        validators=[DataRequired(_REQUIRED), Length(max=40, message=_MAX)],
    )


class EnableTwoFactorForm(Form):
    code = _code(_l("Code aus der App"))
    current_password = _password(_l("Aktuelles Passwort"))
    submit = SubmitField(_l("Zwei-Faktor-Anmeldung einschalten"))


class RecoveryCodesForm(Form):
    code = _code(_l("Code aus der App oder Wiederherstellungscode"))
    current_password = _password(_l("Aktuelles Passwort"))
    submit = SubmitField(_l("Neue Wiederherstellungscodes erstellen"))


class DisableTwoFactorForm(Form):
    code = _code(_l("Code aus der App oder Wiederherstellungscode"))
    current_password = _password(_l("Aktuelles Passwort"))
    submit = SubmitField(_l("Zwei-Faktor-Anmeldung ausschalten"))


class SecondFactorForm(Form):
    code = _code(_l("Code"))
    submit = SubmitField(_l("Bestätigen"))


class RequireTwoFactorForm(Form):
    """The account's rule. Turning it off asks for the password and a code
    (checked by ``twofactor.set_required``, which knows whether the rule is
    on and which second factors the user has), so both are optional here."""

    required = BooleanField(_l("Zwei-Faktor-Anmeldung für alle Benutzer verlangen"))
    code = StringField(
        _l("Code aus der App oder Wiederherstellungscode"),
        filters=[strip_filter],
        validators=[Optional(), Length(max=40, message=_MAX)],
    )
    current_password = PasswordField(
        _l("Aktuelles Passwort"), validators=[Optional(), Length(max=200, message=_MAX)]
    )
    submit = SubmitField(_l("Speichern"))


class CompanyForm(Form):
    company_name = _company_name()
    notification_email = EmailField(
        _l("E-Mail-Adresse für Benachrichtigungen"),
        filters=[strip_filter],
        validators=[
            DataRequired(_l("Bitte geben Sie eine E-Mail-Adresse für Benachrichtigungen ein.")),
            Length(max=254, message=_MAX),
            EmailAddress(),
        ],
    )
    mobile_number = TelField(
        _l("Mobilfunknummer"),
        filters=[strip_filter],
        validators=[Optional(), Length(max=40, message=_MAX), MobileNumber()],
    )
    submit = SubmitField(_l("Speichern"))


class AddUserForm(Form):
    first_name = _name(_l("Vorname"))
    last_name = _name(_l("Nachname"))
    email = _email(_l("E-Mail-Adresse"))
    role = SelectField(
        _l("Rolle"),
        choices=[
            SelectChoice("member", _l("Mitglied")),
            SelectChoice("admin", _l("Administrator")),
        ],
        validators=[DataRequired(_REQUIRED)],
    )
    submit = SubmitField(_l("Benutzer einladen"))


class AcceptInvitationForm(Form):
    password = _new_password(_l("Passwort"))
    submit = SubmitField(_l("Passwort festlegen"))


class ExportForm(Form):
    submit = SubmitField(_l("Daten exportieren"))


class CloseAccountForm(Form):
    when = RadioField(
        _l("Abonnement beenden"),
        choices=[
            SelectChoice("period_end", _l("zum Ende des bezahlten Zeitraums")),
            SelectChoice("now", _l("sofort, ohne Erstattung")),
        ],
        default="period_end",
        validators=[DataRequired(_l("Bitte wählen Sie, wann das Abonnement endet."))],
    )
    current_password = _password(_l("Aktuelles Passwort"))
    submit = SubmitField(_l("Konto schließen"))


class UndoCloseForm(Form):
    submit = SubmitField(_l("Kontoschließung zurücknehmen"))


class ConfirmForm(Form):
    """An empty form for POST buttons that need only the CSRF token."""

    submit = SubmitField(_l("Bestätigen"))


def _passkey_name() -> StringField:
    return StringField(
        _l("Name des Passkeys"),
        filters=[strip_filter],
        validators=[DataRequired(_REQUIRED), Length(max=100, message=_MAX), PlainText()],
    )


class AddPasskeyForm(Form):
    """Sent as JSON by passkeys.js before the browser creates the passkey."""

    name = _passkey_name()
    current_password = _password(_l("Aktuelles Passwort"))
    submit = SubmitField(_l("Passkey hinzufügen"))


class RenamePasskeyForm(Form):
    name = _passkey_name()
    submit = SubmitField(_l("Umbenennen"))
