"""Celery entry points of the content app."""

from __future__ import annotations

from celery import shared_task
from django.core.management import call_command

from content.newsletter import newsletter_confirmation_send, newsletter_signups_expire


@shared_task(name="content.tasks.publish_scheduled_pages_task")
def publish_scheduled_pages_task() -> None:
    """Publishes pages whose go-live date has passed and unpublishes expired ones.

    Wagtail only acts on ``go_live_at``/``expire_at`` when ``publish_scheduled`` runs; beat
    schedules this task (CELERY_BEAT_SCHEDULE), so scheduled publishing needs no cron.
    """
    call_command("publish_scheduled")


@shared_task(name="content.tasks.newsletter_confirmation_send_task")
def newsletter_confirmation_send_task(signup_id: int) -> None:
    """Sends a requested double opt-in email; a repeat of the same request sends nothing."""
    newsletter_confirmation_send(signup_id=signup_id)


@shared_task(name="content.tasks.newsletter_signups_expire_task")
def newsletter_signups_expire_task() -> None:
    """Deletes unconfirmed signups whose confirmation link has expired."""
    newsletter_signups_expire()
