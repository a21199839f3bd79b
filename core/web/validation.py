"""Field validators shared by core and plugins, with German messages."""

from __future__ import annotations

import unicodedata
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from wtforms import Field, Form
from wtforms.validators import ValidationError

#: The largest row id either database stores (a signed 64-bit integer); larger
#: ids in URLs and forms name nothing.
MAX_ROW_ID = 2**63 - 1

#: Control, format, surrogate and private-use characters, and the Unicode line
#: and paragraph separators (U+2028, U+2029): ``str.splitlines()`` and the
#: email package treat those as line breaks, like CR and LF.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def has_control_chars(value: str) -> bool:
    """True if ``value`` holds a character no single-line text may carry (CR, LF, U+2028, ...)."""
    return any(unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in value)


def strip_filter(value: Any) -> Any:
    """Trim surrounding white space of string input."""
    return value.strip() if isinstance(value, str) else value


def normalise_email(value: str) -> str:
    """Validate an address and return its normalised form, or raise ValueError."""
    try:
        info = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        raise ValueError(str(_l("Bitte geben Sie eine gültige E-Mail-Adresse ein."))) from None
    return info.normalized


def normalise_mobile(value: str) -> str:
    """Parse a German-default phone number to E.164, or raise ValueError.

    phonenumbers (about 1 MiB before any region's metadata) is imported here,
    the one place that reads a phone number, so web workers that never see
    one do not carry it.
    """
    import phonenumbers

    try:
        number = phonenumbers.parse(value, "DE")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValueError(str(_l("Bitte geben Sie eine gültige Mobilfunknummer ein.")))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class PlainText:
    """Refuse control characters (CR, LF, NUL, ...) in a single-line field."""

    def __call__(self, form: Form, field: Field) -> None:
        if field.data and has_control_chars(field.data):
            raise ValidationError(_l("Steuerzeichen sind in diesem Feld nicht erlaubt."))


class EmailAddress:
    """Validate with email-validator and store the normalised address."""

    def __call__(self, form: Form, field: Field) -> None:
        if not field.data:
            return
        try:
            field.data = normalise_email(field.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class MobileNumber:
    """Validate with phonenumbers (region DE) and store E.164."""

    def __call__(self, form: Form, field: Field) -> None:
        if not field.data:
            return
        try:
            field.data = normalise_mobile(field.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
