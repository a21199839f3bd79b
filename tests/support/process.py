"""Start real server processes (gunicorn, kontor demo) for end-to-end tests."""

from __future__ import annotations

import mailbox
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from email.message import Message
from pathlib import Path

import requests

from tests.support.web import TOKEN_RE


def wait_for_http(url: str, proc: subprocess.Popen, seconds: float = 30) -> None:
    """Poll ``url`` until it answers; fail early if the process died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode}")
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {seconds}s")


def start(args: list[str], env: Mapping[str, str], cwd: Path, **kwargs: object) -> subprocess.Popen:
    return subprocess.Popen(
        args,
        env={**os.environ, **env},
        cwd=cwd,
        start_new_session=True,
        **kwargs,  # type: ignore[arg-type]
    )


def stop(proc: subprocess.Popen) -> None:
    """Terminate the process group (server and any worker it started)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def form_post(session: requests.Session, url: str, data: dict[str, str]) -> requests.Response:
    """Fetch a form page, then POST it with its CSRF token, as a browser would."""
    page = session.get(url, timeout=10)
    token = TOKEN_RE.search(page.text).group(1)
    return session.post(url, data={"csrf_token": token, **data}, timeout=10, allow_redirects=False)


def register(
    session: requests.Session,
    base: str,
    email: str,
    password: str,
    company: str,
    mails: Callable[[], Iterable[Message]],
) -> requests.Response:
    """Register an account through the sign-up form of a running server and
    confirm it with the link from the mail (``mails`` lists what arrived);
    the session is then logged in. Returns the confirmation's answer."""
    fields = {"company_name": company, "first_name": "A", "last_name": "B"}
    answer = form_post(
        session, f"{base}/register", {**fields, "email": email, "password": password}
    )
    assert answer.status_code == 302, answer.text
    link = mailed_link(mails, email, "register/confirm")
    return form_post(session, link, {})


#: A one-time link in a mail body; the group is its kind (the path before the token).
LINK_RE = re.compile(
    r"https?://[^\s/]+/(register/confirm|email/confirm|password/reset|account/export)/[\w-]+"
)


def body_text(message: Message) -> str:
    """The plain-text body of a single-part mail, decoded."""
    return message.get_payload(decode=True).decode()


def mailed_link(mails: Callable[[], Iterable[Message]], to: str, kind: str) -> str:
    """Wait for a mail to ``to`` holding a link of ``kind`` and return the last such
    link listed (in arrival order for the SMTP server's inbox)."""
    found: list[str] = []

    def arrived() -> bool:
        links = [
            match.group(0)
            for message in mails()
            if message["To"] == to
            for match in LINK_RE.finditer(body_text(message))
            if match.group(1) == kind
        ]
        found[:] = links
        return bool(links)

    assert wait_until(arrived), f"no {kind} link mailed to {to}"
    return found[-1]


def instance_env(instance: Path, secret_key: str, **extra: str) -> dict[str, str]:
    """Settings for server processes on the fresh instance folder ``instance``:
    plain http on this machine and a fixed secret key (all workers share it)."""
    return {
        "KONTOR_INSTANCE_PATH": str(instance),
        "KONTOR_COOKIE_SECURE": "false",
        "KONTOR_SECRET_KEY": secret_key,
        **extra,
    }


def queue_worker(threads: int = 1, *options: str) -> list[str]:
    """The command line for ``kontor worker`` with ``threads`` threads (or processes)."""
    return [sys.executable, "-m", "core.cli", "worker", "--workers", str(threads), *options]


def app_env(app: object, **extra: str) -> dict[str, str]:
    """Environment for a child process that must use the same database and queue."""
    config = app.config  # type: ignore[attr-defined]
    env = {**os.environ, "KONTOR_SERVICE_TOKENS": "", **extra}
    for key in (
        "KONTOR_INSTANCE_PATH",
        "KONTOR_DATABASE_URL",
        "KONTOR_QUEUE_URL",
        "KONTOR_BASE_URL",
        "KONTOR_COOKIE_SECURE",
    ):
        env[key] = str(config[key])
    return env


def wait_until(check: Callable[[], object], seconds: float = 30, interval: float = 0.2) -> bool:
    """Poll ``check()`` until it is true or the time is up; return the last result."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return bool(check())


ROOT = Path(__file__).resolve().parents[2]
# The console script installed beside the interpreter running the tests, so the
# suite tries the entry point of its own environment, whatever PATH says.
KONTOR_SCRIPT = str(Path(sys.executable).parent / "kontor")


def run_worker_until(app: object, check: Callable[[], bool], threads: int = 1) -> bool:
    """Run a real ``kontor worker`` on the app's database and queue until ``check()``."""
    proc = subprocess.Popen(
        queue_worker(threads),
        env=app_env(app),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        return wait_until(check)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def maildir_messages(app: object) -> list[Message]:
    """The mails the app dropped into its instance Maildir (no mail server set)."""
    return instance_mails(Path(app.config["KONTOR_INSTANCE_PATH"]))  # type: ignore[attr-defined]


def instance_mails(instance: Path) -> list[Message]:
    """The mails in the Maildir of the instance folder ``instance``."""
    folder = instance / "mail"
    # The worker may be creating the folder right now: read it once it is whole.
    if not all((folder / sub).is_dir() for sub in ("cur", "new", "tmp")):
        return []
    return list(mailbox.Maildir(folder))


def kontor(env: Mapping[str, str], *args: str, stdin: str = "") -> str:
    """Run ``kontor ARGS`` with these settings (on top of the environment)."""
    result = subprocess.run(
        [sys.executable, "-m", "core.cli", *args],
        env={**os.environ, **env},
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def gunicorn(port: int, app: str = "wsgi:app", workers: int = 2) -> list[str]:
    """The command line for gunicorn serving ``app`` on 127.0.0.1:``port``."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "-w",
        str(workers),
        "--log-level",
        "warning",
        "-b",
        f"127.0.0.1:{port}",
        app,
    ]


def run_plugin_tests(folder: Path) -> subprocess.CompletedProcess[str]:
    """Run a plugin package's own test suite the way its author does: pytest in its
    folder (kontor.testing from the entry point), on this run's database server
    (``KONTOR_TEST_DATABASE_URL``)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=folder,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
