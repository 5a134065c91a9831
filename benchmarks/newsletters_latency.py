"""Commit-to-SMTP latency of a booking confirmation (issue 15, figure (d)).

A real Celery worker (Redis broker, prefork pool of 2) and an aiosmtpd sink in this process;
N pay-on-site bookings committed one after another (``booking_create``: the CONFIRMED outbox
event in the booking's transaction). On the commit a ``post_save`` receiver sends the outbox
consumer's task; the worker enqueues the confirmation message (consumer "booking_emails") and,
on that commit, sends it (``message_send``: claim, SMTP outside any transaction, mark). The
figure is the time from ``booking_create`` returning (committed) to the sink receiving the
DATA of that booker's email, p50 / p95 / max, measured in rounds, with the load average.

    DATABASE_NAME=bench_newsletters_latency CELERY_BROKER_URL=redis://127.0.0.1:6379/14 \\
      .venv/bin/python benchmarks/newsletters_latency.py --bookings 40 --rounds 2

The database is dropped and re-created (migrations take a minute). The beat tick (the safety
net for a lost task) is not running: every email here comes through the on-commit path.
"""

from __future__ import annotations

import argparse
import email
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import ROOT, Timings, database_create, database_drop, django_setup


class Sink:
    """Records when each recipient's email arrived (DATA accepted)."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        at = time.time()
        message = email.message_from_bytes(envelope.original_content)
        with self.lock:
            self.arrived.setdefault(str(message["To"]).lower(), at)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    out = log.open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own celery binary, fixed arguments
        [
            str(ROOT / ".venv" / "bin" / "celery"), "-A", "destination", "worker",
            "--pool=prefork", "-c", "2", "--loglevel=WARNING", "-Q", "celery",
            "-n", f"latency-{os.getpid()}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ],
        cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip
    return process


def _wait_ready(process: subprocess.Popen, log: Path) -> None:
    """Ready when a ping task comes back (the log says "ready." only at INFO level)."""
    from destination.celery import app

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the worker died:\n{log.read_text()}")
        replies = app.control.ping(timeout=1.0)
        if replies:
            return
    raise SystemExit(f"the worker did not start:\n{log.read_text()}")


def _round(n_bookings: int, gap: float, round_no: int, sink: Sink) -> Timings:
    from tests.factories import PartnerFactory, book, offer_make, person, session_make

    partner = PartnerFactory(name=f"Bench School {round_no}")
    session = session_make(offer_make(partner), capacity=n_bookings * 2)
    committed: dict[str, float] = {}
    for n in range(n_bookings):
        booker = person(round_no * 10_000 + n, language="en")
        book(session, booker=booker, adults=1, language="en")  # pay on site: confirmed
        committed[booker.email.lower()] = time.time()  # booking_create's transaction committed
        time.sleep(gap)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with sink.lock:
            if all(address in sink.arrived for address in committed):
                break
        time.sleep(0.05)
    with sink.lock:
        samples = [
            (sink.arrived[address] - at) * 1000
            for address, at in committed.items()
            if address in sink.arrived
        ]
    missing = n_bookings - len(samples)
    if missing:
        print(f"  round {round_no}: {missing} confirmations did not arrive within 60 s")
    return Timings(f"round {round_no}: commit -> SMTP DATA", samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bookings", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between two bookings")
    parser.add_argument(
        "--database", default=os.environ.get("DATABASE_NAME", "bench_newsletters_latency")
    )
    args = parser.parse_args()
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker.startswith("redis://"):
        raise SystemExit("Set CELERY_BROKER_URL=redis://... (a real broker).")

    from aiosmtpd.controller import Controller

    sink = Sink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "destination.settings.base",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "CELERY_RESULT_BACKEND": broker,
            "NEWSLETTER_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(port),
            "NEWSLETTER_RATE_PER_SECOND": "0",
            "NEWSLETTER_QUIET_HOURS": "",
            "STRIPE_SECRET_KEY": "",
            "LOG_LEVEL": "WARNING",
        }
    )
    url = database_create(args.database)
    started = time.perf_counter()
    django_setup(url)
    print(f"database {args.database} migrated in {time.perf_counter() - started:.0f} s")

    from destination.celery import app

    app.control.purge()  # nothing left from an earlier run on this broker database
    log = Path(tempfile.mkdtemp()) / "worker.log"
    worker = _worker({**os.environ, "DATABASE_URL": url}, log)
    try:
        _wait_ready(worker, log)
        print(
            f"{args.bookings} bookings per round, one every {args.gap:g} s; worker: prefork x2, "
            f"Redis broker {broker}; sink: aiosmtpd"
        )
        for round_no in range(1, args.rounds + 1):
            timings = _round(args.bookings, args.gap, round_no, sink)
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"{timings.line()} max={max(timings.samples_ms, default=0):.0f} ms")
            print(f"  load average (1, 5, 15 min): {load} on {os.cpu_count()} cores")
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        controller.stop()
        database_drop(args.database)


if __name__ == "__main__":
    main()
