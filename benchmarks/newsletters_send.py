"""Campaign emails sent end to end, in emails per second (issue 15, benchmark b).

    .venv/bin/python benchmarks/newsletters_send.py --guests 100000      # the figure
    .venv/bin/python benchmarks/newsletters_send.py --guests 10000       # quicker

Creates a dedicated database (``--db``, default ``crm_bench_newsletters_send``), migrates it and
loads ``--guests`` active guests with a primary email and a granted newsletter consent by email
(through the ledger's tables: one proof, one ``ConsentEvent`` per ``ConsentState``), half French
and half English, and a newsletter page (intro with the first name, three tracked links) with a
French translation. Then it measures:

- ``snapshot``: ``campaign_send_now``'s ``INSERT ... SELECT`` of the campaign's messages from the
  segment (everyone), in SQL;
- ``send``: the real campaign sender (``campaign_send_batch``: claim a batch in SQL with every
  send-time check, build each email from the MIME skeleton of its language with its own signed
  links and unsubscribe URL, SMTP, mark the batch SENT with its timeline entries) in
  ``--workers`` processes taking batches of ``--batch`` ids, each with one SMTP session, to
  Postfix's ``smtp-sink`` on 127.0.0.1:2525 (started here when it is not listening; Debian
  package ``postfix``). Emails per second = messages SENT / wall time from the first claim to
  the last mark;
- ``baseline``: a plain ``send_mail(subject, text, from, [to], html_message=html)`` loop, in one
  process, of ``--baseline`` already rendered emails to the same sink, in the same run.

The machine is shared: the load average is printed before and after. The database is dropped
unless ``--keep``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    consent_proof_create,
    consents_insert,
    database_create,
    database_drop,
    django_setup,
    guests_insert,
)

SINK = ("127.0.0.1", 2525)


def sink_listening() -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(SINK) == 0


def sink_start() -> subprocess.Popen | None:
    if sink_listening():
        return None
    binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not Path(binary).exists():
        sys.exit("smtp-sink not found: apt-get install -y postfix (only smtp-sink is used)")
    proc = subprocess.Popen(  # noqa: S603 - our own fixed command line
        [binary, "-u", os.environ.get("USER", "root"), f"{SINK[0]}:{SINK[1]}", "1000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(50):
        if sink_listening():
            return proc
        time.sleep(0.1)
    proc.kill()
    sys.exit("smtp-sink did not start")


def configure() -> None:
    from django.conf import settings

    settings.NEWSLETTER_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = SINK
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.NEWSLETTER_RATE_PER_SECOND = 0
    settings.NEWSLETTER_QUIET_HOURS = ""
    settings.NEWSLETTER_FREQUENCY_CAP = 1000
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.NEWSLETTER_SMTP_SESSIONS = int(os.environ.get("BENCH_SMTP_SESSIONS", "4"))


def build(n_guests: int) -> None:
    from django.db import connection
    from wagtail.models import Locale, Page

    from content.services import locales_ensure, page_translate
    from newsletters.models import NewsletterIndexPage, NewsletterPage

    with connection.cursor() as c:
        c.execute("SET synchronous_commit = off")
        guests_insert(c, n_guests, languages=("fr", "en"), first_name="Prénom")
        c.execute(
            "INSERT INTO destination_guestemail (guest_id, email, email_normalized, is_primary, "
            "created_at) SELECT i, 'guest' || i || '@bench.example', 'guest' || i || "
            "'@bench.example', true, now() FROM generate_series(1, %s) AS i",
            [n_guests],
        )
        consents_insert(
            c,
            n_guests=n_guests,
            proof_id=consent_proof_create(c),
            purpose="newsletter",
            channel="email",
        )
        c.execute("ANALYZE")
    locales = locales_ensure()
    root = Page.get_first_root_node()
    index = NewsletterIndexPage(
        title="Newsletters", slug="newsletters", locale=Locale.get_default()
    )
    root.add_child(instance=index)
    index.save_revision().publish()
    text = "Fresh snow on every slope, a new lift and the first night skiing of the season. " * 6
    page = NewsletterPage(
        title="Bench",
        slug="bench",
        subject="Winter is here",
        preheader="Our picks",
        body=[
            {"type": "intro", "value": {"heading": "Winter is here", "text": text, "greet": True}},
            {"type": "button", "value": {"label": "Plan", "url": "https://plan.example/a?b=1"}},
            {"type": "intro", "value": {"heading": "Events", "text": text, "greet": False}},
            {"type": "button", "value": {"label": "Events", "url": "https://events.example/"}},
            {"type": "button", "value": {"label": "Lifts", "url": "https://lifts.example/x"}},
        ],
    )
    index.add_child(instance=page)
    page.save_revision().publish()
    page_translate(page=index, locale=locales["fr"], strings={"Newsletters": "Lettres"})
    page_translate(page=page, locale=locales["fr"], strings={"Winter is here": "L'hiver est là"})


def _worker(campaign_id: int, queue: mp.Queue, results: mp.Queue) -> None:
    from django.db import connections

    connections.close_all()
    configure()
    from newsletters.campaign_services import campaign_send_batch

    counts: dict[str, int] = {}
    while True:
        ids = queue.get()
        if ids is None:
            break
        for status, n in campaign_send_batch(campaign_id=campaign_id, message_ids=ids).items():
            counts[status] = counts.get(status, 0) + n
    results.put(counts)


def send(campaign_id: int, *, workers: int, batch: int) -> tuple[float, dict[str, int]]:
    from django.db import connections

    from newsletters.models import Message

    ids = list(
        Message.objects.filter(dedupe_key__startswith=f"campaign:{campaign_id}:guest:")
        .filter(status="queued")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    connections.close_all()
    ctx = mp.get_context("fork")
    queue: mp.Queue = ctx.Queue()
    results: mp.Queue = ctx.Queue()
    for start in range(0, len(ids), batch):
        queue.put(ids[start : start + batch])
    for _ in range(workers):
        queue.put(None)
    procs = [
        ctx.Process(target=_worker, args=(campaign_id, queue, results)) for _ in range(workers)
    ]
    started = time.perf_counter()
    for p in procs:
        p.start()
    totals: dict[str, int] = {}
    for _ in procs:
        for status, n in results.get().items():
            totals[status] = totals.get(status, 0) + n
    for p in procs:
        p.join()
    return time.perf_counter() - started, totals


def baseline(n: int) -> float:
    """A plain send_mail loop of already rendered emails (one connection per call, as
    send_mail does)."""
    from django.core.mail import send_mail

    from newsletters.pages import NewsletterPage

    page = NewsletterPage.objects.get(slug="bench", locale__language_code="en")
    html = page.email_preview_html(language="en")
    text = "Winter is here\n\n" + "Fresh snow on every slope. " * 20
    started = time.perf_counter()
    for i in range(n):
        send_mail(
            "Winter is here",
            text,
            "news@bench.example",
            [f"baseline{i}@bench.example"],
            html_message=html,
        )
    return n / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--guests", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--baseline", type=int, default=2000)
    parser.add_argument("--db", default="crm_bench_newsletters_send")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--sessions", type=int, default=4, help="SMTP sessions per process")
    parser.add_argument("--profile", action="store_true", help="cProfile one batch in-process")
    args = parser.parse_args(argv)

    os.environ["BENCH_SMTP_SESSIONS"] = str(args.sessions)
    sink = sink_start()
    url = database_create(args.db)
    try:
        django_setup(url)
        configure()
        print(f"load average before: {os.getloadavg()}  cores: {os.cpu_count()}")
        t0 = time.perf_counter()
        build(args.guests)
        print(f"build: {time.perf_counter() - t0:.0f} s for {args.guests} guests")

        from django.db import connection

        from newsletters import campaign_services as cs
        from newsletters.models import Campaign, Message, NewsletterPage, Segment

        page = NewsletterPage.objects.get(slug="bench", locale__language_code="en")
        segment = Segment.objects.create(name="Everyone", rules={"all": []})
        campaign = Campaign.objects.create(name="Bench", page=page, segment=segment)
        cs.campaign_submit(campaign=campaign, actor=None)
        # The batches go to this script's processes, not to Celery: no task on commit.
        cs.campaign_dispatch = lambda *, campaign_id: 0
        t0 = time.perf_counter()
        cs.campaign_send_now(campaign=campaign, actor=None)
        snapshot_s = time.perf_counter() - t0
        with connection.cursor() as c:
            c.execute("ANALYZE newsletters_message")
        queued = Message.objects.filter(status="queued").count()
        print(f"snapshot: {queued} messages in {snapshot_s:.2f} s ({queued / snapshot_s:,.0f}/s)")

        if args.profile:
            import cProfile
            import pstats

            ids = list(
                Message.objects.filter(status="queued").order_by("pk").values_list("pk", flat=True)
            )[: 2 * args.batch]
            # The first batch warms the process up (URL resolver, compile); profile the second.
            cs.campaign_send_batch(campaign_id=campaign.pk, message_ids=ids[: args.batch])
            ids = ids[args.batch :]
            profiler = cProfile.Profile()
            profiler.enable()
            cs.campaign_send_batch(campaign_id=campaign.pk, message_ids=ids)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        elapsed, counts = send(campaign.pk, workers=args.workers, batch=args.batch)
        sent = Message.objects.filter(status="sent").count()
        rate = sent / elapsed
        print(
            f"send: {sent} sent in {elapsed:.1f} s = {rate:,.0f} emails/s "
            f"({args.workers} processes x {args.sessions} SMTP sessions, batches of {args.batch}); "
            f"statuses {counts}; "
            f"target >= 1,000/s: {'met' if rate >= 1000 else 'NOT met'}"
        )
        base = baseline(args.baseline)
        print(f"baseline send_mail loop: {base:,.0f} emails/s; ratio {rate / base:.1f}x")
        print(f"load average after: {os.getloadavg()}")
    finally:
        if not args.keep:
            database_drop(args.db)
        if sink is not None:
            sink.terminate()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
