"""Celery entry points of the content app."""

from __future__ import annotations

from celery import shared_task
from django.core.management import call_command


@shared_task(name="content.tasks.publish_scheduled_pages_task")
def publish_scheduled_pages_task() -> None:
    """Publishes pages whose go-live date has passed and unpublishes expired ones.

    Wagtail only acts on ``go_live_at``/``expire_at`` when ``publish_scheduled`` runs; beat
    schedules this task (CELERY_BEAT_SCHEDULE), so scheduled publishing needs no cron.
    """
    call_command("publish_scheduled")
