"""Plain data that hooks return and core registers.

Hooks return these values; core does the wiring. They are frozen so a plugin
cannot change what another plugin contributed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from markupsafe import Markup

    from core.data.models import Account, User


@dataclass(frozen=True)
class Section:
    """A settings section in the navigation of "Mein Konto".

    ``icon`` names a symbol in core's icon set (``core/static/icons.svg``);
    the navigation shows a neutral square for ``"section"`` or an unknown name.
    """

    key: str
    label: str
    endpoint: str
    order: int
    required_role: str = "member"
    icon: str = "section"


@dataclass(frozen=True)
class Card:
    """An overview card on ``/account/``: a title, a few lines and a link."""

    key: str
    title: str
    lines: Sequence[str]
    endpoint: str
    order: int
    state: str = "neutral"  # "ok", "warning" or "neutral"


@dataclass(frozen=True)
class SlotContent:
    """HTML that a plugin places into a named template slot."""

    html: Markup
    priority: int = 100


@dataclass(frozen=True)
class EventType:
    """A kind of event an account can be notified about."""

    key: str
    label: str
    order: int
    default_channels: frozenset[str] = frozenset({"email"})
    # Subjects for one such event, with %(key)s placeholders from its data:
    # the first whose placeholders the data fills is used, else the label
    # (the label names the kind in the plural, as in the preference matrix).
    subjects: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlannedDelivery:
    """What an event will cause, as reported back to the emitter."""

    channel: str
    target: str | None
    status: str


@dataclass(frozen=True)
class Notification:
    """A rendered notification, ready for any channel."""

    subject: str
    text: str
    html: str
    short_text: str


class Channel(Protocol):
    """A notification channel such as e-mail or SMS."""

    key: str
    label: str
    order: int
    missing_target: str  # shown in the log when ``target`` is None

    def target(self, account: Account) -> str | None:
        """The address this account's messages go to, or None if missing."""

    def send(self, account: Account, target: str, notification: Notification) -> None:
        """Deliver one message; raise TemporaryFailure or PermanentFailure."""


@dataclass(frozen=True)
class PlanResource:
    """A resource that plans limit, with its display unit."""

    key: str
    label: str
    unit: str = "count"  # "count" or "bytes"
    order: int = 100
    manage_endpoint: str | None = None  # the page where the usage can be lowered


@dataclass(frozen=True)
class PlanInfo:
    """The plan an account is on (``kontor_plan``): its name and its limits.

    A resource missing from ``limits`` is unlimited; a ``blocked`` plan (an
    expired subscription) allows nothing.
    """

    name: str
    limits: Mapping[str, int] = field(default_factory=dict)
    blocked: bool = False

    def limit(self, resource: str) -> int | None:
        """The most of ``resource`` the account may use; None for no limit."""
        return 0 if self.blocked else self.limits.get(resource)


class Actor(Protocol):
    """Who is logged in other than through a user's own login (``kontor_load_actor``):
    what Flask-Login and the pages ask of the current user."""

    is_authenticated: bool
    is_active: bool
    is_anonymous: bool
    is_manager: bool  # sees and changes account-wide settings
    is_support: bool  # staff acting for the account, not one of its users
    account: Account
    user: User  # the user whose view of the account is shown

    def get_id(self) -> str:
        """The session id, ``"<kind>:<token>"``, as the hook received it."""

    def sign_out(self) -> None:
        """End the server-side session(s) behind this login (on logout)."""


@dataclass(frozen=True)
class Job:
    """A background job the queue worker runs by name."""

    name: str
    func: Callable[..., Any]
    retries: int = 0
    retry_delay: int = 0


@dataclass(frozen=True)
class PeriodicJob:
    """A job the worker runs on a schedule (crontab fields as strings)."""

    name: str
    func: Callable[[], Any]
    minute: str = "*"
    hour: str = "*"


@dataclass(frozen=True)
class Migration:
    """One step of a schema's migration history, applied once."""

    id: str
    apply: Callable[[Any], None]


@dataclass(frozen=True)
class Schema:
    """The tables a plugin owns and its own migration history."""

    name: str
    models: Sequence[type] = ()
    migrations: Sequence[Migration] = ()


@dataclass(frozen=True)
class SensitiveAction:
    """An endpoint that support sessions may never write to, in any scope.

    Matched by endpoint and method only (every method but GET, HEAD and
    OPTIONS), whatever the body: an action that shares a page with harmless
    forms needs a route of its own.
    """

    endpoint: str


@dataclass(frozen=True)
class ExportPart:
    """One plugin's share of an account data export.

    ``data`` becomes ``<key>.json`` in the ZIP; ``files`` (name -> content,
    e.g. invoice PDFs) are stored as ``<key>/<name>``.
    """

    key: str
    data: Mapping[str, Any] | Sequence[Any] = field(default_factory=dict)
    files: Mapping[str, bytes] = field(default_factory=dict)


class DeliveryError(Exception):
    """Base for failures when talking to another server."""


class TemporaryFailure(DeliveryError):
    """Worth retrying later: timeouts, SMTP 4xx, gateway 5xx."""


class PermanentFailure(DeliveryError):
    """Retrying will not help: SMTP 5xx, gateway 4xx, bad address."""
