"""CPU per request in process: each settings page against the bare app.

    python bench/request_cost.py [--requests 20000]

Calls both WSGI apps directly (no server, no network, no load generator), as
a browser would after loading every page once: logged in, same cookie each
time, every load rendered. Counts the CPU time of this process, so other load
on the machine changes the figures less than wall-clock time would. The bare
app (``bench/bare_app.py``) serves the same HTML from static templates.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from werkzeug.test import EnvironBuilder  # noqa: E402

from bench.bare_app import make_app, page_file  # noqa: E402
from core import create_app  # noqa: E402
from tests.support.web import bench_owner, section_urls  # noqa: E402


def cost(app: Callable, page: str, cookie: str | None, requests: int) -> float:
    """CPU microseconds of this process per request of ``app`` for ``page``,
    after a tenth as many warm-up calls."""
    headers = {"Cookie": f"kontor_session={cookie}"} if cookie else {}
    environ = EnvironBuilder(path=page, headers=headers).get_environ()
    statuses: list[str] = []

    def start_response(status: str, _headers: list, _exc_info: object = None) -> None:
        statuses.append(status)

    def call() -> None:
        body = app(dict(environ), start_response)
        b"".join(body)
        body.close()

    for _ in range(requests // 10):
        call()
    started = time.process_time()
    for _ in range(requests):
        call()
    elapsed = time.process_time() - started
    if set(statuses) != {"200 OK"}:
        raise SystemExit(f"{page}: unexpected answers {set(statuses)}")
    return elapsed / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kontor-cost-"))
    app = create_app(
        {
            "KONTOR_INSTANCE_PATH": str(tmp / "instance"),
            "KONTOR_QUEUE_URL": "memory://",
            "KONTOR_COOKIE_SECURE": "false",
        }
    )
    client = bench_owner(app)
    pages = section_urls(app)
    html = tmp / "pages"
    html.mkdir()
    for page in pages:
        text = client.get(page).get_data(as_text=True)
        (html / page_file(page)).write_text(text)
    cookie = client.get_cookie("kontor_session").value
    bare = make_app(html)

    print(f"{'page':26} {'Kontor µs':>10} {'bare µs':>8} {'ratio':>6}")
    for page in pages:
        ours = cost(app, page, cookie, args.requests)
        baseline = cost(bare, page, None, args.requests)
        print(f"{page:26} {ours:10.1f} {baseline:8.1f} {baseline / ours:6.2f}")


if __name__ == "__main__":
    main()
