"""CPU per notification mail: the standard header registry against Kontor's.

    python bench/mail_build.py [--mails 1000] [--rounds 3]

Builds a notification with ``core.delivery.messages.build_message``, stores it
as text, reads it back and flattens it for SMTP (what the API process and the
queue worker do for each mail), once with the email package's ``policy.SMTP``
and once with ``core.delivery.messages.SMTP`` (its header registry makes each
header's class once), in alternating rounds. Prints milliseconds per mail.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from email import message_from_string, policy
from email.generator import BytesGenerator
from email.policy import Policy
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.delivery import messages  # noqa: E402

TEXT = "Guten Tag,\n\nein Angebot wurde angenommen: AN-7.\n\nViele Grüße\nIhr Kontor\n" * 3


def one_mail(mail_policy: Policy) -> bytes:
    with mock.patch.object(messages, "SMTP", mail_policy):
        built = messages.build_message(
            sender=messages.address("Muster GmbH", "noreply@kontor.example"),
            to="kunde@example.com",
            subject="Angebot angenommen: AN-7",
            text=TEXT,
            reply_to=messages.address("", "info@muster.example"),
        )
    stored = built.as_string()
    read_back = message_from_string(stored, policy=mail_policy)
    buffer = io.BytesIO()
    BytesGenerator(buffer).flatten(read_back, linesep="\r\n")
    return buffer.getvalue()


def ms_per_mail(mail_policy: Policy, mails: int) -> float:
    started = time.perf_counter()
    for _ in range(mails):
        one_mail(mail_policy)
    return (time.perf_counter() - started) / mails * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sides = {"policy.SMTP": policy.SMTP, "messages.SMTP": messages.SMTP}
    times: dict[str, list[float]] = {name: [] for name in sides}
    for mail_policy in sides.values():
        ms_per_mail(mail_policy, args.mails // 10)  # warm-up
    for _ in range(args.rounds):
        for name, mail_policy in sides.items():
            times[name].append(ms_per_mail(mail_policy, args.mails))
    for name, values in times.items():
        rounds = ", ".join(f"{v:.2f}" for v in values)
        print(f"{name:14} {statistics.median(values):.2f} ms per mail (rounds: {rounds})")


if __name__ == "__main__":
    main()
