"""Render time of the public website's pages with the demo content, on PostgreSQL.

    .venv/bin/python benchmarks/content.py                          # 200 renders per page
    .venv/bin/python benchmarks/content.py --requests 50            # smoke run
    CACHE_URL=redis://127.0.0.1:6379/14 .venv/bin/python benchmarks/content.py   # Redis cache

Creates a dedicated database (``--db``, default ``crm_bench_content``), migrates it, builds the
demo site with ``seed_content`` (a dozen stories, events, both language trees, generated
images), then renders each page through Django's full stack (middleware, URL routing, Wagtail's
serve view, templates) with the test client, in-process: no network, no web server, so the
figures are the application's own time. Before timing, every page is rendered once, which
creates the image renditions and fills the cache (the newsletter wording and the legal footers
are cached; the brand settings are read once per request). Then ``--requests`` renders per page,
interleaved, with their p50/p95 and the number of SQL queries of one render.

The database is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import Timings, database_create, database_drop, django_setup


def measure(requests: int) -> list[tuple[str, Timings, int]]:
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from wagtail.models import Locale

    from content.models import StoryPage

    started = time.perf_counter()
    call_command("seed_content", verbosity=0)
    print(f"seed_content: {time.perf_counter() - started:.1f} s")

    story_en = StoryPage.objects.live().filter(locale__language_code="en").order_by("-date")[0]
    story_fr = story_en.get_translation(Locale.objects.get(language_code="fr"))
    pages = {
        "home (en)": "/en/",
        "home (fr)": "/fr/",
        "story (en)": story_en.url,
        "story (fr)": story_fr.url,
        "story index (en)": "/en/stories/",
    }
    client = Client()
    queries: dict[str, int] = {}
    for label, url in pages.items():
        assert client.get(url).status_code == 200, url  # renditions, caches
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200
        queries[label] = len(captured)
    samples: dict[str, list[float]] = {label: [] for label in pages}
    for _round in range(requests):
        for label, url in pages.items():
            start = time.perf_counter()
            response = client.get(url)
            response.content  # noqa: B018 (rendered already; touch it like a server would)
            samples[label].append((time.perf_counter() - start) * 1000)
    return [(label, Timings(label, samples[label]), queries[label]) for label in pages]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="renders per page")
    parser.add_argument("--db", default="crm_bench_content")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    # The test settings: static files from the finders (no collectstatic), DEBUG off.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "destination.settings.test")
    url = database_create(args.db)
    try:
        started = time.perf_counter()
        django_setup(url)
        print(f"migrate: {time.perf_counter() - started:.1f} s")
        from django.conf import settings

        cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
        print(
            f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"load {os.getloadavg()[0]:.2f}, cache {cache}, {args.requests} renders per page"
        )
        for _label, timings, queries in measure(args.requests):
            print(f"{timings.line()} queries={queries}")
    finally:
        if not args.keep:
            database_drop(args.db)


if __name__ == "__main__":
    main()
