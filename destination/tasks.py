"""Celery entry points of the shared core: each takes JSON scalars and calls one service."""

from __future__ import annotations

from celery import shared_task

from destination.services.gdpr import guests_erase_inactive


@shared_task(name="destination.tasks.guest_retention_sweep_task")
def guest_retention_sweep_task() -> int:
    """Anonymise guests past the retention period (beat runs it daily). Idempotent: a second run
    finds nobody left to erase. Returns the number of guests erased."""
    return guests_erase_inactive()
