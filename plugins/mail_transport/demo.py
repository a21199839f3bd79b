"""Demo data: e-mails to customers in the e-mail history."""

from __future__ import annotations

from core import Account, queue_customer_mail
from plugins.mail_transport import services

SCHMIDT = ("K-1001", "Bäckerei Schmidt", "einkauf@baeckerei-schmidt.example")
MAILS = (
    (*SCHMIDT, "Ihre Rechnung RE-2026-0112"),
    (*SCHMIDT, "Zahlungserinnerung RE-2026-0112"),
    ("K-1002", "Praxis Dr. Weber", "praxis@dr-weber.example", "Ihr Angebot AN-2026-0042"),
    ("K-1003", "Autohaus Krüger", "buchhaltung@autohaus-krueger.example", "Mahnung MA-2026-0008"),
)


def fill(account: Account) -> None:
    """Keep the history, then queue the mails; the worker sends them."""
    row = services.settings(account)
    row.keep_history = True
    row.save()
    for ref, name, to, subject in MAILS:
        text = f"Guten Tag,\n\nanbei erhalten Sie: {subject}.\n\nMit freundlichen Grüßen\n"
        queue_customer_mail(account, [to], subject, text, ref, name)
