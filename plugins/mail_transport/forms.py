"""The E-Mail-Versand form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    EmailField,
    Field,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from core import EmailAddress, Form, PlainText, strip_filter

_MAX = _l("Höchstens %(max)d Zeichen.")
_PORT = _l("Bitte geben Sie einen Port zwischen 1 und 65535 ein.")
SECURITY = [SelectChoice("ssl", _l("SSL/TLS")), SelectChoice("starttls", _l("STARTTLS"))]


class NoAddress:
    """Refuse a display name that looks like an address ("PayPal <service@paypal.com>").

    The name is quoted and can never change the real sender, but a mail
    client shows it first, so a recipient would read it as the sender.
    """

    def __call__(self, form: Form, field: Field) -> None:
        if field.data and any(ch in field.data for ch in "@<>"):
            raise ValidationError(_l("Der Absendername darf keine E-Mail-Adresse enthalten."))


def _host(label: str) -> StringField:
    return StringField(
        label,
        filters=[strip_filter],
        validators=[Optional(), Length(max=253, message=_MAX), PlainText()],
    )


def _user(label: str) -> StringField:
    return StringField(
        label,
        filters=[strip_filter],
        validators=[Optional(), Length(max=254, message=_MAX), PlainText()],
    )


class MailSettingsForm(Form):
    mode = RadioField(
        _l("Versandweg"),
        choices=[
            SelectChoice("service", _l("Versand über den Kontor-Mailserver")),
            SelectChoice("own", _l("Versand über eigenes E-Mail-Konto")),
        ],
        default="service",
        validators=[InputRequired(_l("Bitte wählen Sie einen Versandweg."))],
    )
    keep_history = BooleanField(_l("E-Mail-Verlauf in den Kundenstammdaten ablegen"))
    sender_name = StringField(
        _l("Absendername"),
        filters=[strip_filter],
        validators=[Optional(), Length(max=100, message=_MAX), PlainText(), NoAddress()],
    )
    reply_to = EmailField(
        _l("Antwortadresse"),
        filters=[strip_filter],
        validators=[Optional(), Length(max=254, message=_MAX), EmailAddress()],
    )
    own_email = EmailField(
        _l("E-Mail-Adresse"),
        filters=[strip_filter],
        validators=[Optional(), Length(max=254, message=_MAX), EmailAddress()],
    )
    password = PasswordField(_l("Passwort"), validators=[Optional(), Length(max=200)])
    imap_user = _user(_l("IMAP-Benutzer"))
    imap_host = _host(_l("IMAP-Server"))
    imap_port = IntegerField(
        _l("IMAP-Port"), default=993, validators=[Optional(), NumberRange(1, 65535, _PORT)]
    )
    imap_security = SelectField(_l("IMAP-Verschlüsselung"), choices=SECURITY, default="ssl")
    smtp_user = _user(_l("SMTP-Benutzer"))
    smtp_host = _host(_l("SMTP-Server"))
    smtp_port = IntegerField(
        _l("SMTP-Port"), default=587, validators=[Optional(), NumberRange(1, 65535, _PORT)]
    )
    smtp_security = SelectField(_l("SMTP-Verschlüsselung"), choices=SECURITY, default="starttls")
    preset = SubmitField(_l("Servereinstellungen vorschlagen"))
    connect = SubmitField(_l("Verbinden"))  # saves, then starts the connection check
    submit = SubmitField(_l("Speichern"))

    def validate(self, extra_validators=None) -> bool:  # type: ignore[no-untyped-def]
        ok = super().validate(extra_validators)
        if self.mode.data == "own" and not self.preset.data:
            required = (
                self.own_email,
                self.imap_host,
                self.imap_port,
                self.smtp_host,
                self.smtp_port,
            )
            for field in required:
                if field.data in (None, ""):
                    field.errors = [*field.errors, _l("Dieses Feld ist erforderlich.")]
                    ok = False
        return ok


class ConnectForm(Form):
    submit = SubmitField(_l("Verbindung erneut prüfen"))


class TestMailForm(Form):
    submit = SubmitField(_l("Testmail senden"))
