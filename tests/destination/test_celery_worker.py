"""The retention sweep through a real Celery worker process, Redis broker and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from celery.result import allow_join_result
from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu import pools as kombu_pools

from destination.celery import app as celery_app
from destination.models import AuditEntry, Guest
from destination.tasks import guest_retention_sweep_task
from tests.factories import GuestFactory

BASE_DIR = Path(settings.BASE_DIR)
READY_TIMEOUT = 60
RESULT_TIMEOUT = 60


def _database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or "5432"
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def _broker_env(kind: str, tmp_path: Path) -> dict[str, str]:
    """Environment of the worker (and configuration of this process) for a broker kind."""
    if kind == "redis":
        url = settings.CELERY_BROKER_URL
        return {"CELERY_BROKER_URL": url, "CELERY_RESULT_BACKEND": url}
    # The filesystem broker of base.py lives under APP_VAR_DIR: give the worker its own.
    for folder in ("queue", "processed", "control", "results"):
        (tmp_path / "celery" / folder).mkdir(parents=True, exist_ok=True)
    return {
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_RESULT_BACKEND": f"file://{tmp_path / 'celery' / 'results'}",
        "APP_VAR_DIR": str(tmp_path),
    }


def _reset_connections() -> None:
    # The app's pool is kombu's global pool for the broker URL: closing it without clearing
    # kombu's registry would hand the closed pool to every later task sent to that URL (even
    # eager ones acquire a producer), so the whole registry is reset.
    kombu_pools.reset()
    celery_app._pool = None
    amqp = celery_app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
    celery_app._local.__dict__.pop("backend", None)


@pytest.fixture
def broker(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """This process sends to the same broker as the worker, for real (the test settings run
    tasks eagerly); the app's configuration is put back afterwards."""
    kind: str = request.param
    env = _broker_env(kind, tmp_path)
    conf = celery_app.conf
    keys = ("task_always_eager", "broker_url", "result_backend", "broker_transport_options")
    saved = {key: conf[key] for key in keys}
    conf.task_always_eager = False
    # Celery reads these two from the environment before its configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", env["CELERY_BROKER_URL"])
    monkeypatch.setenv("CELERY_RESULT_BACKEND", env["CELERY_RESULT_BACKEND"])
    conf.broker_url = env["CELERY_BROKER_URL"]
    conf.result_backend = env["CELERY_RESULT_BACKEND"]
    if kind == "filesystem":
        folder = tmp_path / "celery"
        conf.broker_transport_options = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "polling_interval": 0.1,
        }
    _reset_connections()
    try:
        yield env
    finally:
        for key, value in saved.items():
            conf[key] = value
        _reset_connections()


@pytest.fixture
def worker(broker: dict[str, str], tmp_path: Path):
    """A worker on a queue of its own, connected to this test's database; always stopped."""
    queue = f"test-retention-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        **broker,
        "DJANGO_SETTINGS_MODULE": "destination.settings.test",
        "DATABASE_URL": _database_url(),
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(BASE_DIR / ".venv" / "bin" / "celery"),
                "-A",
                "destination",
                "worker",
                "--pool=solo",
                "-c",
                "1",
                "--loglevel=INFO",
                "-Q",
                queue,
                "-n",
                f"{queue}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while b"ready." not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the worker did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield queue, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "broker",
    [pytest.param("redis", marks=pytest.mark.redis), "filesystem"],
    indirect=True,
)
def test_a_real_worker_erases_inactive_guests(worker):
    queue, log = worker
    days = settings.GUEST_RETENTION_DAYS
    inactive = GuestFactory(first_name="Forgotten", last_contact_at=None)
    Guest.objects.filter(pk=inactive.pk).update(
        created_at=timezone.now() - dt.timedelta(days=days + 1)
    )
    recent = GuestFactory(first_name="Recent", last_contact_at=timezone.now())

    result = guest_retention_sweep_task.apply_async(queue=queue)
    try:
        # Celery keeps "inside a task, never block on a result" in one process-wide flag that
        # eager tasks set and reset; eager tasks run from many threads (the booking concurrency
        # tests) can leave it set. This test process is not a task: waiting is what it is for.
        with allow_join_result():
            erased = result.get(timeout=RESULT_TIMEOUT)
    except Exception:  # the worker's log says why
        sys.stderr.write(log.read_text())
        raise
    assert erased == 1
    inactive.refresh_from_db()
    assert inactive.status == Guest.Status.ERASED
    assert inactive.first_name == ""
    assert Guest.objects.get(pk=recent.pk).status == Guest.Status.ACTIVE
    assert AuditEntry.objects.filter(guest=inactive, action=AuditEntry.Action.ERASE).count() == 1

    # Idempotent: a second run through the worker erases nothing more.
    with allow_join_result():
        again = guest_retention_sweep_task.apply_async(queue=queue).get(timeout=RESULT_TIMEOUT)
    assert again == 0
    assert b"guest_retention_sweep_task" in log.read_bytes()
