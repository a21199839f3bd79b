"""Security notices: mails about a user's login (password, e-mail address,
two-factor login) that say what happened, when, from where and what to do.

They go through the system outbox to the user whatever the notification
settings say: they are about the login itself, not business events.
"""

from __future__ import annotations

from typing import Any

from flask import request

from core.db import utcnow
from core.models import User
from core.outbox import queue_template_mail
from core.pages import external_url


def security_notice(user: User, to: str, subject: str, template: str, **context: Any) -> None:
    """Queue the notice ``core/mail/<template>.txt`` to ``to`` about ``user``'s
    login, with the time, IP address and browser of the current request."""
    queue_template_mail(
        user.account,
        to,
        subject,
        f"core/mail/{template}.txt",
        user=user,
        when=utcnow(),
        ip=request.remote_addr or "",
        agent=(request.user_agent.string or "")[:200],
        forgot_link=external_url("core.forgot_password"),
        **context,
    )
