"""Database queries and latency per settings page, with 1 and with 100,000 accounts.

    python bench/queries.py [--accounts 100000] [--rounds 200]

Counts the SQL statements each page runs (peewee's query log) for a logged-in
owner, then seeds the other accounts with bulk inserts and measures again.
A page's work must not depend on how many other accounts exist.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from peewee import fn  # noqa: E402

from core import create_app  # noqa: E402
from core.data.db import bind, utcnow  # noqa: E402
from core.data.models import Account, User  # noqa: E402
from core.security.auth import hash_password  # noqa: E402
from tests.support.db import statements  # noqa: E402
from tests.support.web import bench_owner, section_urls  # noqa: E402


def measure(client, pages: list[str], rounds: int) -> dict[str, tuple[int, float]]:
    results = {}
    for page in pages:
        client.get(page)  # warm up (first use creates rows such as the subscription)
        with statements() as sql:
            assert client.get(page).status_code == 200, page
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            client.get(page)
            times.append(time.perf_counter() - start)
        results[page] = (len(sql), statistics.median(times) * 1000)
    return results


def seed(app, count: int) -> None:
    hashed = hash_password("x" * 12)
    now = utcnow()
    with app.app_context(), bind(app).connection_context():
        for start in range(0, count, 5000):
            db = bind(app)
            with db.atomic():
                before = Account.select(fn.MAX(Account.id)).scalar() or 0
                Account.insert_many(
                    [
                        {"company_name": f"Firma {i}", "created_at": now}
                        for i in range(start, min(count, start + 5000))
                    ]
                ).execute()
                ids = [a.id for a in Account.select(Account.id).where(Account.id > before)]
                User.insert_many(
                    [
                        {
                            "account": aid,
                            "email": f"u{aid}@bench.example",
                            "password_hash": hashed,
                            "first_name": "A",
                            "last_name": "B",
                            "role": "owner",
                            "created_at": now,
                        }
                        for aid in ids
                    ]
                ).execute()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kontor-bench-"))
    app = create_app(
        {
            "KONTOR_INSTANCE_PATH": str(tmp),
            "KONTOR_QUEUE_URL": "memory://",
            "KONTOR_COOKIE_SECURE": "false",
        }
    )
    client = bench_owner(app)
    pages = section_urls(app)
    small = measure(client, pages, args.rounds)
    started = time.perf_counter()
    seed(app, args.accounts - 1)
    seeded = time.perf_counter() - started
    large = measure(client, pages, args.rounds)
    print(f"seeded {args.accounts - 1} accounts in {seeded:.1f}s")
    print(
        f"{'page':28} {'queries 1':>9} {'queries N':>9} {'p50 1 ms':>9} {'p50 N ms':>9} "
        f"{'ratio':>6}"
    )
    for page in pages:
        (q1, t1), (qn, tn) = small[page], large[page]
        print(f"{page:28} {q1:9d} {qn:9d} {t1:9.2f} {tn:9.2f} {tn / t1:6.2f}")


if __name__ == "__main__":
    main()
