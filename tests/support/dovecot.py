"""A real Dovecot IMAP server with its own config, started for one test."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import trustme

from tests.support.smtp import free_port

DOVECOT = "/usr/sbin/dovecot"


@dataclass
class Dovecot:
    base: Path
    imap_port: int  # plain IMAP with STARTTLS
    imaps_port: int  # implicit TLS
    user: str
    password: str

    @property
    def config(self) -> Path:
        return self.base / "dovecot.conf"

    def stop(self) -> None:
        subprocess.run(["doveadm", "-c", str(self.config), "stop"], capture_output=True, timeout=30)
        pid_file = self.base / "run" / "master.pid"
        deadline = time.monotonic() + 10
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)

    def maildir(self) -> Path:
        return self.base / "home" / self.user / "Maildir"


def start_dovecot(
    base: Path, ca: trustme.CA, user: str, password: str, with_sent: bool = True
) -> Dovecot:
    """Write a config into ``base`` and start Dovecot as a daemon on free ports."""
    base.mkdir(parents=True, exist_ok=True)
    for path in (base, *base.parents):
        if path == Path("/"):
            break
        os.chmod(path, os.stat(path).st_mode | 0o055)  # traversable for the dovecot user
    cert = ca.issue_cert("localhost")
    cert.private_key_pem.write_to_path(str(base / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(base / "cert.pem"))
    os.chmod(base / "key.pem", 0o640)
    hashed = subprocess.run(
        ["doveadm", "pw", "-s", "SHA512-CRYPT", "-p", password],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (base / "passwd").write_text(f"{user}:{hashed}::::::\n")
    (base / "home").mkdir(exist_ok=True)
    os.chmod(base / "home", 0o777)
    imap_port, imaps_port = free_port(), free_port()
    sent = (
        "  mailbox Sent {\n    special_use = \\Sent\n    auto = create\n  }\n" if with_sent else ""
    )
    (base / "dovecot.conf").write_text(f"""
protocols = imap
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
info_log_path = {base}/dovecot.log
first_valid_uid = 1
listen = 127.0.0.1
ssl = yes
ssl_cert = <{base}/cert.pem
ssl_key = <{base}/key.pem
disable_plaintext_auth = yes
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=SHA512-CRYPT {base}/passwd
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={base}/home/%u
}}
namespace inbox {{
  inbox = yes
{sent}}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
""")
    with (base / "start.log").open("w") as log:  # the daemon keeps its inherited fds open
        subprocess.run(
            [DOVECOT, "-c", str(base / "dovecot.conf")],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            timeout=30,
        )
    server = Dovecot(base, imap_port, imaps_port, user, password)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", imaps_port), 1).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError("Dovecot did not start: " + (base / "dovecot.log").read_text()[-2000:])
