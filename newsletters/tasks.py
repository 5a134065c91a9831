"""Celery entry points of the newsletters app: JSON scalars in, one service call each.

Every task is idempotent by state: a message is claimed (QUEUED -> SENDING) in a short
transaction before its SMTP call, so a redelivered task, a second worker or the beat tick
finds nothing to claim and sends nothing. Retries of transient errors are not Celery
retries: the service puts the row back to QUEUED with a later ``due_at`` and the beat tick
picks it up (no Celery ETA for future sends).

The modules that enqueue these tasks import this one at their top, so each task imports its
service when it runs (the one way round that is no import cycle)."""

from __future__ import annotations

from celery import shared_task

from newsletters.models import Campaign
from newsletters.tracking_record import tracking_hits_settle


@shared_task(name="newsletters.tasks.message_send_task")
def message_send_task(message_id: int) -> str:
    """Send one message if it is still queued and due; returns its status afterwards."""
    from newsletters.services import message_send  # noqa: PLC0415  cycle: newsletters.services enqueues these tasks

    return message_send(message_id=message_id)


@shared_task(name="newsletters.tasks.message_send_batch_task")
def message_send_batch_task(message_ids: list[int]) -> dict[str, int]:
    """Send a batch of messages over one backend connection."""
    from newsletters.services import messages_send_batch  # noqa: PLC0415  cycle: newsletters.services enqueues these tasks

    return messages_send_batch(message_ids=message_ids)


@shared_task(name="newsletters.tasks.messages_dispatch_task")
def messages_dispatch_task() -> dict[str, int]:
    """The beat tick: mark stale claims in doubt, hand due queued messages to workers."""
    from newsletters.services import messages_dispatch  # noqa: PLC0415  cycle: newsletters.services enqueues these tasks

    return messages_dispatch()


@shared_task(name="newsletters.tasks.booking_events_consume_task")
def booking_events_consume_task() -> dict[str, int]:
    """Read the bookings outbox for every registered consumer (beat tick and on commit)."""
    from newsletters.outbox import booking_events_consume_all  # noqa: PLC0415  cycle: newsletters.outbox enqueues these tasks

    return booking_events_consume_all()


@shared_task(name="newsletters.tasks.journeys_tick_task")
def journeys_tick_task() -> dict[str, int]:
    """The journeys' beat tick: reactivation enrolments, then due steps (SKIP LOCKED)."""
    from newsletters.journeys import journeys_tick  # noqa: PLC0415  cycle: journeys import newsletters.services, which enqueues these

    return journeys_tick()


# --- Campaigns (newsletters.campaign_services) --------------------------------------------------


@shared_task(name="newsletters.tasks.campaign_start_task")
def campaign_start_task(campaign_id: int) -> str:
    """Start a campaign now (idempotent: a started campaign is left as it is)."""
    from newsletters.campaign_services import campaign_send_now  # noqa: PLC0415  cycle: campaign_services enqueues these tasks

    campaign = Campaign.objects.get(pk=campaign_id)
    return campaign_send_now(campaign=campaign, actor=None).status


@shared_task(name="newsletters.tasks.campaign_send_batch_task")
def campaign_send_batch_task(campaign_id: int, message_ids: list[int]) -> dict[str, int]:
    """Send one batch of a campaign's messages (nothing when the campaign is paused)."""
    from newsletters.campaign_services import campaign_send_batch  # noqa: PLC0415  cycle: campaign_services enqueues these tasks

    return campaign_send_batch(campaign_id=campaign_id, message_ids=message_ids)


@shared_task(name="newsletters.tasks.campaigns_start_due_task")
def campaigns_start_due_task() -> int:
    """The beat tick: start the scheduled campaigns that are due."""
    from newsletters.campaign_services import campaigns_start_due  # noqa: PLC0415  cycle: campaign_services enqueues these tasks

    return campaigns_start_due()


# --- Tracking (newsletters.tracking_record) ----------------------------------------------------


@shared_task(name="newsletters.tasks.tracking_hits_settle_task")
def tracking_hits_settle_task() -> dict[str, int]:
    """The beat tick: final verdicts for clicks past the burst window, then real contact for the
    human ones (idempotent: only unsettled rows are read, under SKIP LOCKED)."""
    return tracking_hits_settle()


# --- Newsletter signup (newsletters.signup) ---------------------------------------------------
# These two kept the names they had in content.tasks: the beat schedule names the clean-up, and
# a confirmation task queued before the move must still find its function in the worker.


@shared_task(name="content.tasks.newsletter_confirmation_send_task")
def newsletter_confirmation_send_task(signup_id: int) -> bool:
    """Hands a requested double opt-in email to the pipeline; a repeat does nothing."""
    from newsletters.signup import newsletter_confirmation_send  # noqa: PLC0415  cycle: newsletters.signup imports newsletters.services, which imports this module

    return newsletter_confirmation_send(signup_id=signup_id)


@shared_task(name="content.tasks.newsletter_signups_expire_task")
def newsletter_signups_expire_task() -> int:
    """Deletes unconfirmed signups whose confirmation link has expired."""
    from newsletters.signup import newsletter_signups_expire  # noqa: PLC0415  cycle: newsletters.signup imports newsletters.services, which imports this module

    return newsletter_signups_expire()
