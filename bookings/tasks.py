"""Celery entry points of the bookings app: JSON scalars in, one service call each. Every task is
idempotent (state flags under row locks, idempotency keys at Stripe)."""

from __future__ import annotations

from celery import Task, shared_task

from bookings import balances, payments, services
from bookings.payments import PaymentProviderError


@shared_task(name="bookings.tasks.booking_holds_expire_task")
def booking_holds_expire_task() -> int:
    """Release card holds whose time ran out (beat: every minute)."""
    return services.bookings_holds_expire()


@shared_task(name="bookings.tasks.booking_balances_task")
def booking_balances_task() -> dict[str, int]:
    """Request, remind and flag stay balances; complete ended bookings (beat: hourly)."""
    counts = balances.bookings_balances_process()
    counts["completed"] = services.bookings_complete_ended()
    return counts


@shared_task(
    name="bookings.tasks.booking_confirmation_send_task",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def booking_confirmation_send_task(booking_id: int) -> bool:
    """Send a booking's confirmation email (once: see booking_confirmation_send)."""
    return services.booking_confirmation_send(booking_id)


@shared_task(bind=True, name="bookings.tasks.booking_refund_task", max_retries=6)
def booking_refund_task(self: Task, booking_id: int) -> int:
    """Refund through Stripe what a cancelled booking paid by card. Stripe errors are retried
    with a growing delay (1, 2, 4... up to 32 minutes): each refund carries its idempotency key,
    so a retry never refunds twice. After the last try the booking is flagged for the desk."""
    try:
        return services.booking_refund_issue(booking_id)
    except PaymentProviderError as exc:
        if self.request.retries >= self.max_retries:
            services.booking_refund_failed_flag(booking_id=booking_id, reason=str(exc))
            return 0
        raise self.retry(exc=exc, countdown=60 * 2**self.request.retries) from exc


@shared_task(name="bookings.tasks.stripe_checkout_expire_task")
def stripe_checkout_expire_task(session_id: str) -> None:
    """Close a Checkout Session whose hold expired, so the visitor cannot pay it any more."""
    payments.provider_get().checkout_expire(session_id=session_id)


@shared_task(
    name="bookings.tasks.booking_balance_links_close_task",
    autoretry_for=(PaymentProviderError,),
    retry_backoff=60,
    max_retries=6,
)
def booking_balance_links_close_task(booking_id: int) -> int:
    """Close the balance payment links a payment at the desk made stale (idempotent)."""
    return balances.booking_balance_links_close(booking_id)
