"""Resident memory of a gunicorn worker, and load integrity on SQLite.

    apt-get install wrk && python bench/memory_load.py [--seconds 30]

1. Memory: gunicorn with 2 workers; after 1,000 and after 10,000 logged-in
   requests, the RSS of each worker (from /proc), with its pid: the same pids
   show that no worker was recycled in between.
2. Load integrity: 2 web workers plus the queue worker on SQLite; for the given
   seconds, concurrent clients mix page loads, form posts (Meine Firma) and
   service-API events (which the queue worker delivers). Counts 5xx answers and
   "database is locked" lines in every log.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.process import (  # noqa: E402
    gunicorn,
    instance_env,
    instance_mails,
    kontor,
    queue_worker,
    register,
    start,
    stop,
    wait_for_http,
)
from tests.support.smtp import free_port  # noqa: E402
from tests.support.web import TOKEN_RE  # noqa: E402

TOKEN = "bench-service-token-0123456789"  # noqa: S105 - a local test server's token


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--clients", type=int, default=6)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kontor-load-"))
    port = free_port()
    env = instance_env(
        tmp / "instance",
        "bench-secret-key-0123456789abcdef",
        KONTOR_BASE_URL=f"http://127.0.0.1:{port}",  # the sign-up link in the mail
        KONTOR_SERVICE_TOKENS=TOKEN,
        KONTOR_LOGIN_LIMIT="10000 per minute",
    )
    kontor(env, "init")
    logs = [tmp / "web.log", tmp / "worker.log"]
    web = start(
        gunicorn(port),
        env,
        ROOT,
        stdout=logs[0].open("w"),
        stderr=subprocess.STDOUT,
    )
    worker = start(
        queue_worker(4),
        env,
        ROOT,
        stdout=logs[1].open("w"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/healthz", web)
        owner = requests.Session()
        register(
            owner,
            base,
            "last@example.com",
            "last-passwort-1",
            "Last GmbH",
            lambda: instance_mails(tmp / "instance"),
        )
        rss = {}
        for i in range(1, 10_001):
            owner.get(f"{base}/account/" if i % 2 else f"{base}/account/subscription", timeout=10)
            if i in (1_000, 10_000):
                rss[i] = {pid: rss_kib(pid) for pid in children(web.pid)}
        account_id = requests.get(
            f"{base}/api/v1/accounts",
            params={"email": "last@example.com"},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        ).json()["accounts"][0]["id"]

        counts = {"requests": 0, "5xx": 0, "events": 0, "posts": 0}
        lock = threading.Lock()
        deadline = time.monotonic() + args.seconds

        def client(n: int) -> None:
            session = requests.Session()
            session.cookies.update(owner.cookies)
            i = 0
            while time.monotonic() < deadline:
                i += 1
                kind = i % 4
                if kind == 0:
                    r = session.post(
                        f"{base}/api/v1/accounts/{account_id}/events",
                        headers={"Authorization": f"Bearer {TOKEN}"},
                        json={"type": "quote.accepted", "idempotency_key": f"{n}-{i}"},
                        timeout=30,
                    )
                    key = "events"
                elif kind == 1:
                    page = session.get(f"{base}/account/company", timeout=30)
                    token = TOKEN_RE.search(page.text).group(1)
                    r = session.post(
                        f"{base}/account/company",
                        timeout=30,
                        data={
                            "csrf_token": token,
                            "company_name": f"Last GmbH {n}",
                            "notification_email": "info@last.example",
                            "mobile_number": "",
                        },
                        allow_redirects=False,
                    )
                    key = "posts"
                else:
                    r = session.get(f"{base}/account/notifications", timeout=30)
                    key = "requests"
                with lock:
                    counts[key] += 1
                    counts["5xx"] += r.status_code >= 500

        threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(5)  # let the worker drain
    finally:
        stop(web)
        stop(worker)
    locked = sum(p.read_text().count("database is locked") for p in logs)
    for count, workers in rss.items():
        sizes = ", ".join(f"pid {pid}: {kib / 1024:.1f} MiB" for pid, kib in workers.items())
        print(f"worker RSS after {count:,} requests: {sizes}")
    print(
        f"load for {args.seconds}s with {args.clients} clients: {counts['requests']} page "
        f"loads, {counts['posts']} form posts, {counts['events']} events"
    )
    print(f"5xx responses: {counts['5xx']}, 'database is locked' in logs: {locked}")


if __name__ == "__main__":
    main()
