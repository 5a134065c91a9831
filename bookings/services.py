"""Writes of the bookings app (signatures first; bodies follow)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError

from bookings.models import Booking, Session

if TYPE_CHECKING:
    from destination.models import User
    from destination.services.resolution import PersonData


class BookingError(ValidationError):
    """A booking refused: ``message_dict`` holds field-level errors; nothing was changed."""


@dataclass(frozen=True)
class ParticipantData:
    first_name: str
    last_name: str
    is_child: bool = False


@dataclass(frozen=True)
class ConsentChoice:
    """A consent checkbox as shown: purpose code, the exact wording shown, ticked or not."""

    purpose: str
    wording: str
    given: bool
    channels: tuple[str, ...] = ("email",)


def booking_create(
    *,
    session: Session,
    booker: PersonData,
    participants: list[ParticipantData],
    adults: int,
    children: int,
    payment_method: str,
    consents: list[ConsentChoice],
    channel: str,
    language: str,
    created_by: User | None = None,
    source_url: str = "",
    expected_total_cents: int | None = None,
    units: int | None = None,
) -> Booking:
    raise NotImplementedError


def booking_checkout_url(*, booking: Booking, success_url: str, cancel_url: str) -> str:
    raise NotImplementedError


def booking_cancel(*, booking: Booking, by: User | None = None, reason: str = "") -> Booking:
    raise NotImplementedError


def booking_check_in(*, booking: Booking, by: User | None) -> Booking:
    raise NotImplementedError


def booking_signed_token(booking: Booking) -> str:
    raise NotImplementedError


def booking_from_signed_token(token: str) -> Booking | None:
    raise NotImplementedError


def payment_provider() -> str:
    raise NotImplementedError
