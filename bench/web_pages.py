"""HTTP throughput of every settings page against a bare Flask app.

    apt-get install wrk && python bench/web_pages.py [--seconds 10] [--connections 8]

Starts Kontor under gunicorn with 2 workers on SQLite and logs in; serves the
very same HTML from a bare Flask app (static templates, also gunicorn with 2
workers); warms both up for a second per page, then loads each settings page
with wrk, on Kontor and right after on the bare app.
Prints requests per second, p50 and p99 latency, and the ratio ours / bare.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bare_app import page_file  # noqa: E402
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
from tests.support.web import section_urls  # noqa: E402


def section_pages(instance: Path) -> list[str]:
    """The settings sections of the installed app, from its sections hook."""
    from core import create_app

    return section_urls(
        create_app({"KONTOR_INSTANCE_PATH": str(instance), "KONTOR_COOKIE_SECURE": "false"})
    )


def wrk(url: str, seconds: int, connections: int, cookie: str | None) -> tuple[float, float, float]:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if cookie:
        args[1:1] = ["-H", f"Cookie: kontor_session={cookie}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    if re.search(r"Non-2xx or 3xx responses", out):
        raise SystemExit(f"errors while loading {url}:\n{out}")
    return rps, pct("50"), pct("99")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kontor-http-"))
    pages_list = section_pages(tmp / "probe")
    port, bare_port = free_port(), free_port()
    env = instance_env(
        tmp / "instance",
        "bench-secret-key-0123456789abcdef",
        KONTOR_BASE_URL=f"http://127.0.0.1:{port}",  # the sign-up link in the mail
        KONTOR_LOGIN_LIMIT="1000 per minute",
    )
    kontor(env, "init")
    ours = start(gunicorn(port), env, ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base, bare_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}"
    pages = tmp / "pages"
    pages.mkdir()
    bare = None
    try:
        wait_for_http(f"{base}/healthz", ours)
        browser = requests.Session()
        # The queue worker delivers the sign-up mail; it is stopped before measuring.
        worker = start(queue_worker(1), env, ROOT, stdout=subprocess.DEVNULL)
        try:
            register(
                browser,
                base,
                "bench@example.com",
                "bench-passwort-1",
                "Bench GmbH",
                lambda: instance_mails(tmp / "instance"),
            )
        finally:
            stop(worker)
        for page in pages_list:
            html = browser.get(base + page, timeout=10).text
            (pages / page_file(page)).write_text(html)
        # The cookie a browser holds now (with its form token), sent unchanged by wrk.
        cookie = browser.cookies.get("kontor_session")
        bare = start(
            gunicorn(bare_port, "bench.bare_app:app"),
            {"BARE_PAGES": str(pages)},
            ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_http(f"{bare_base}/account/", bare)
        # Each page is loaded on both servers back to back, so a drift in the
        # machine's speed affects both sides of a ratio alike.
        results, baseline = {}, {}
        for page in pages_list:  # warm up both workers of both servers
            wrk(base + page, 1, args.connections, cookie)
            wrk(bare_base + page, 1, args.connections, None)
        for page in pages_list:
            results[page] = wrk(base + page, args.seconds, args.connections, cookie)
            baseline[page] = wrk(bare_base + page, args.seconds, args.connections, None)
    finally:
        stop(ours)
        if bare is not None:
            stop(bare)
    print(
        f"{'page':26} {'rps':>7} {'p50 ms':>7} {'p99 ms':>7} | {'bare rps':>8} "
        f"{'p50 ms':>7} {'p99 ms':>7} | {'ratio':>5}"
    )
    for page in pages_list:
        (r, p50, p99), (br, bp50, bp99) = results[page], baseline[page]
        print(
            f"{page:26} {r:7.0f} {p50:7.1f} {p99:7.1f} | {br:8.0f} {bp50:7.1f} {bp99:7.1f} "
            f"| {r / br:5.2f}"
        )


if __name__ == "__main__":
    main()
