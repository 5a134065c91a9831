"""Writes of the bookings app: booking, paying, cancelling, checking in, holds and balances.

Seats are never oversold: ``seats_taken`` only changes through conditional UPDATEs
(``... SET seats_taken = seats_taken + n WHERE seats_taken + n <= capacity``), which PostgreSQL
serialises on the session row (the second writer waits, then re-checks the condition against
the committed row), and a check constraint backs them. Every state change writes its outbox row
(``BookingEvent``) in the same transaction. Every service raises ``BookingError`` (field errors
in ``message_dict``) before or inside its transaction, so a refusal changes nothing.

Lock order, to stay deadlock-free: booking rows, then session rows, then the outbox lock last.
Network calls to Stripe never run inside a transaction.
"""

from __future__ import annotations

import logging
import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Q, Sum, Value, When
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bookings import payments
from bookings.models import Booking, BookingEvent, Offer, Participant, Payment, Session
from destination.models import (
    CHANNEL_PURPOSES,
    PARTNER_PURPOSES,
    ConsentProof,
    ConsentWording,
    Guest,
    Purpose,
    TimelineEvent,
    Visibility,
)
from destination.normalize import fold_name
from destination.services import GuestError
from destination.services.resolution import Decision, PersonData, guest_resolve_many
from destination.services.timeline import timeline_add

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from django_stubs_ext import StrOrPromise

    from destination.models import User
    from partners.models import Partner

logger = logging.getLogger(__name__)

# Stripe refuses Checkout Sessions that expire in less than 30 minutes.
STRIPE_MIN_CHECKOUT_MINUTES = 31
# The balance is requested this many days before it is due, and reminded once this close.
BALANCE_REQUEST_DAYS = 14
BALANCE_REMINDER_DAYS = 3
# A check-in is accepted from this long before the session starts.
CHECK_IN_EARLY = timedelta(hours=12)
REFERENCE_PREFIX = "VN-"
# No 0/O, 1/I/L: references are read out on the phone.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
MANAGE_LINK_SALT = "bookings.manage"
# Any fixed 64-bit number: the advisory lock that orders outbox rows by commit.
OUTBOX_LOCK_ID = 0x626F6F6B696E6773 >> 2
ERASED_TEXT = "[erased]"


class BookingError(ValidationError):
    """A booking refused: ``message_dict`` holds field-level errors ("__all__" for the booking
    as a whole); nothing was changed."""

    def __init__(self, errors: Mapping[str, str | list[str]] | str) -> None:
        if isinstance(errors, str):
            errors = {NON_FIELD_ERRORS: [errors]}
        super().__init__(
            {k: list(v) if isinstance(v, list | tuple) else [v] for k, v in errors.items()}
        )


@dataclass(frozen=True)
class ParticipantData:
    first_name: str
    last_name: str
    is_child: bool = False


@dataclass(frozen=True)
class ConsentChoice:
    """A consent checkbox as shown: purpose code, the exact wording row shown, ticked or not.
    The consent is recorded against that very row (never looked up by text, never created
    here). An unticked box records nothing (it is not a withdrawal of an earlier consent).
    Purposes given per partner go to the offer's partner; per channel to ``channels``."""

    purpose: str
    wording: ConsentWording | None
    given: bool
    channels: tuple[str, ...] = ("email",)


@dataclass(frozen=True)
class Price:
    seats: int
    total_cents: int
    deposit_cents: int
    balance_due_on: date | None


# --- Small helpers ---------------------------------------------------------------------------


def payment_provider() -> str:
    """The active provider: "stripe" when STRIPE_SECRET_KEY is set, else "on_site"."""
    return payments.provider_name()


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _reference_new() -> str:
    return REFERENCE_PREFIX + "".join(secrets.choice(REFERENCE_ALPHABET) for _i in range(6))


def _site_language(language: str) -> str:
    code = (language or "").strip().lower()[:2]
    return code if code in {c for c, _n in settings.LANGUAGES} else settings.LANGUAGE_CODE


def booking_event_write(
    booking: Booking, kind: BookingEvent.Kind | str, data: dict[str, Any] | None = None
) -> BookingEvent:
    """Append to the outbox, inside the caller's transaction.

    On PostgreSQL an id is drawn when the row is inserted but becomes visible at commit, so two
    transactions could commit ids 11 then 10, and a reader that saw 11 would skip 10 for ever.
    A transaction-scoped advisory lock taken right before the insert serialises the
    insert-to-commit window: ids become visible in increasing order. Writers therefore call this
    last in their transaction (it is the last lock taken)."""
    if not connection.in_atomic_block:
        raise RuntimeError("booking_event_write must run inside the state change's transaction.")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [OUTBOX_LOCK_ID])
    return BookingEvent.objects.create(
        booking=booking, kind=kind, status=booking.status, data=data or {}
    )


def _events_write(bookings: Iterable[Booking], kind: str, data: dict[str, Any]) -> None:
    rows = [BookingEvent(booking=b, kind=kind, status=b.status, data=data) for b in bookings]
    if not rows:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [OUTBOX_LOCK_ID])
    BookingEvent.objects.bulk_create(rows)


def _timeline_title(booking: Booking, what: StrOrPromise) -> str:
    session = booking.session
    with translation.override(settings.LANGUAGE_CODE):
        return _("%(what)s %(reference)s: %(offer)s, %(date)s") % {
            "what": str(what),
            "reference": booking.reference,
            "offer": session.offer.title_en,
            "date": date_format(timezone.localtime(session.starts_at), "DATE_FORMAT"),
        }


def _timeline_data(booking: Booking, guest_id: int) -> dict[str, Any]:
    return {
        "booking": booking.pk,
        "reference": booking.reference,
        "status": booking.status,
        "role": "booker" if guest_id == booking.booker_id else "participant",
    }


def _timeline_all(booking: Booking, what: StrOrPromise, *, at: datetime | None = None) -> None:
    """One entry per concerned guest (booker and party), the partner's and SHARED: other
    partners see it when their access opens the BOOKINGS section (partners.access)."""
    _timeline_all_bulk([booking], what, at=at or timezone.now())


# The booking emails, as their timeline entries name them (stored in the default language).
BOOKING_EMAILS: dict[str, StrOrPromise] = {
    "confirmation": gettext_lazy("Confirmation email sent for"),
    "balance_request": gettext_lazy("Balance request email sent for"),
    "balance_reminder": gettext_lazy("Balance reminder email sent for"),
    "payment_link": gettext_lazy("Payment link email sent for"),
}


def booking_email_timeline_write(booking: Booking, *, email: str) -> None:
    """The booker's timeline shows each booking email sent (the portal's "emails sent"): one
    MESSAGE entry, the partner's and SHARED like the booking's own entries. Written in the
    transaction that sends the email, so a send rolled back or skipped leaves no entry."""
    timeline_add(
        guest=Guest(pk=booking.booker_id),
        kind=TimelineEvent.Kind.MESSAGE,
        occurred_at=timezone.now(),
        title=_timeline_title(booking, BOOKING_EMAILS[email]),
        partner=booking.partner,
        visibility=Visibility.SHARED,
        data={"booking": booking.pk, "reference": booking.reference, "email": email},
        source=booking,
    )


def _timeline_all_bulk(bookings: list[Booking], what: StrOrPromise, *, at: datetime) -> None:
    """``_timeline_all`` for many bookings in two statements (one booking, or the set-based
    jobs' many): one entry per concerned guest, the booker first, then the party."""
    if not bookings:
        return
    party: dict[int, list[int]] = defaultdict(list)
    for booking_id, guest_id in (
        Participant.objects.filter(booking__in=bookings)
        .exclude(guest=None)
        .order_by("pk")
        .values_list("booking_id", "guest_id")
    ):
        party[booking_id].append(guest_id)
    content_type = ContentType.objects.get_for_model(Booking)
    rows = []
    for booking in bookings:
        title = _timeline_title(booking, what)[:200]
        guest_ids = [booking.booker_id]
        guest_ids += [g for g in dict.fromkeys(party[booking.pk]) if g != booking.booker_id]
        rows += [
            TimelineEvent(
                guest_id=guest_id,
                kind=TimelineEvent.Kind.BOOKING,
                occurred_at=at,
                title=title,
                partner_id=booking.partner_id,
                visibility=Visibility.SHARED,
                data=_timeline_data(booking, guest_id),
                content_type=content_type,
                object_id=booking.pk,
            )
            for guest_id in guest_ids
        ]
    TimelineEvent.objects.bulk_create(rows)


def _seats_release(booking: Booking) -> None:
    """Give a booking's seats back (the caller holds the booking row and changes its status)."""
    if booking.status in Booking.SEATED:
        Session.objects.filter(pk=booking.session_id).update(
            seats_taken=F("seats_taken") - booking.seats
        )


def _seats_take(session_id: int, seats: int) -> bool:
    """Take seats if they are left: one conditional UPDATE, atomic on every database."""
    return bool(
        Session.objects.filter(pk=session_id, seats_taken__lte=F("capacity") - seats).update(
            seats_taken=F("seats_taken") + seats
        )
    )


def _is_staff_for(user: User | AnonymousUser | None, partner: Partner) -> bool:
    """Staff of the booking's partner, of the booking desk or of the tourist office."""
    from partners.models import BOOKS_FOR_ALL_KINDS, Membership

    if user is None or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return Membership.objects.filter(
        Q(partner=partner) | Q(partner__kind__in=BOOKS_FOR_ALL_KINDS),
        user=user,
        is_active=True,
        partner__is_active=True,
    ).exists()


# --- Pricing and validation -------------------------------------------------------------------


def booking_price(
    *, session: Session, adults: int, children: int, units: int | None = None, card: bool = True
) -> Price:
    """The server's price. Per person: adults and children (children at the child price when
    the offer has one). Per unit: units x price, per night for stays. A card-paid stay with a
    deposit pays ``deposit_percent`` now and the balance ``balance_due_days`` before arrival
    (all at once when that date is already past)."""
    offer = session.offer
    if offer.pricing == Offer.Pricing.PER_UNIT:
        seats = units or 1
        nights = session.nights if offer.kind == Offer.Kind.STAY else 1
        total = offer.price_cents * seats * nights
    else:
        seats = adults + children
        child = offer.child_price_cents if offer.child_price_cents is not None else None
        total = (
            offer.price_cents * adults
            + (child if child is not None else offer.price_cents) * children
        )
    deposit = 0
    due_on = None
    if card and offer.deposit_percent:
        due_on = timezone.localdate(session.starts_at) - timedelta(days=offer.balance_due_days)
        if due_on > timezone.localdate():
            deposit = int(
                (Decimal(total) * offer.deposit_percent / 100).quantize(
                    Decimal(1), rounding=ROUND_HALF_UP
                )
            )
        else:
            due_on = None
    return Price(seats=seats, total_cents=total, deposit_cents=deposit, balance_due_on=due_on)


def booking_session_get(*, offer_slug: str, session_id: int | str) -> Session:
    """The session a visitor asked for, or a BookingError for an unknown/unpublished offer or
    a session that is not the offer's."""
    session = (
        Session.objects.select_related("offer__partner")
        .filter(
            pk=int(session_id) if str(session_id).isdigit() else 0,
            offer__slug=offer_slug,
        )
        .first()
    )
    if session is None or not session.offer.is_published or not session.offer.partner.is_active:
        raise BookingError({"session": _("This offer or session does not exist.")})
    return session


def _validate(
    *,
    session: Session,
    participants: list[ParticipantData],
    adults: Any,
    children: Any,
    units: Any,
    payment_method: str,
    consents: list[ConsentChoice],
    channel: str,
    expected_total_cents: int | None,
) -> Price:
    errors: dict[str, list[str]] = defaultdict(list)
    offer = session.offer
    if not offer.is_published or not offer.partner.is_active:
        raise BookingError({"session": _("This offer is not available for booking.")})
    if session.starts_at <= timezone.now():
        raise BookingError({"session": _("This session has already started; choose another.")})
    for name, value in (("adults", adults), ("children", children)):
        if not _is_count(value) or value < 0:
            errors[name].append(_("Enter a number of people, zero or more."))
    per_unit = offer.pricing == Offer.Pricing.PER_UNIT
    if per_unit and units is not None and (not _is_count(units) or units < 1):
        errors["units"].append(_("Book at least one."))
    if errors:
        raise BookingError(errors)
    if adults + children < 1:
        errors["adults"].append(_("The party needs at least one person."))
    elif children and not adults and offer.kind != Offer.Kind.GROUP_LESSON:
        errors["adults"].append(_("Children must be accompanied by an adult."))
    if payment_method not in Booking.PaymentMethod.values:
        errors["payment_method"].append(_("Choose a payment method."))
    elif payment_method == Booking.PaymentMethod.CARD and payment_provider() != payments.STRIPE:
        errors["payment_method"].append(_("Card payment is not available; choose pay on site."))
    if channel not in Booking.Channel.values:
        errors["channel"].append(_("Unknown booking channel."))
    if offer.needs_participant_names:
        if len(participants) != adults + children:
            errors["participants"].append(
                _("Give the name of each of the %(count)s participants.")
                % {"count": adults + children}
            )
        elif any(not (p.first_name or "").strip() for p in participants):
            errors["participants"].append(_("Each participant needs a first name."))
        elif sum(1 for p in participants if p.is_child) != children:
            errors["participants"].append(_("Mark exactly the children of the party as children."))
    for choice in consents:
        if choice.purpose not in Purpose.values:
            errors["consents"].append(_("Unknown consent purpose."))
        elif choice.given and (
            choice.wording is None
            or choice.wording.pk is None
            or choice.wording.purpose != choice.purpose
        ):
            errors["consents"].append(_("A consent needs the exact wording shown."))
    if errors:
        raise BookingError(errors)
    price = booking_price(
        session=session,
        adults=adults,
        children=children,
        units=units,
        card=payment_method == Booking.PaymentMethod.CARD,
    )
    if price.seats > session.capacity - session.seats_taken:
        raise BookingError(_seats_message(session.capacity - session.seats_taken))
    if expected_total_cents is not None and expected_total_cents != price.total_cents:
        raise BookingError(
            _("The price has changed: the total is now %(total)s EUR. Please review your booking.")
            % {"total": f"{price.total_cents / 100:.2f}"}
        )
    return price


def _seats_message(left: int) -> str:
    if left <= 0:
        return _("Sorry, this session is fully booked.")
    return _("Sorry, only %(count)s places are left on this session.") % {"count": left}


# --- Creating ---------------------------------------------------------------------------------


def _consents_record(
    *,
    guest: Guest,
    consents: list[ConsentChoice],
    partner: Partner,
    channel: str,
    created_by: User | None,
    reference: str,
    source_url: str,
    at: datetime,
) -> None:
    """Record the ticked consents against the wording rows shown. A booking never writes a
    wording: what visitors post must not become the text shown to everyone."""
    from destination.services.consent import consent_record

    method = (
        ConsentProof.Method.FORM if channel == Booking.Channel.WEB else ConsentProof.Method.DESK
    )
    for choice in consents:
        if not choice.given:
            continue
        wording = choice.wording
        try:
            consent_record(
                guest=guest,
                purpose=choice.purpose,
                granted=True,
                method=method,
                partners=[partner] if choice.purpose in PARTNER_PURPOSES else [],
                channels=list(choice.channels) if choice.purpose in CHANNEL_PURPOSES else [],
                wording=wording,
                occurred_at=at,
                recorded_by=created_by,
                recorded_by_partner=partner if channel != Booking.Channel.WEB else None,
                evidence={"booking": reference, "source_url": source_url[:500]},
            )
        except GuestError as exc:
            raise BookingError({"consents": [str(exc)]}) from exc


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
    """Book seats on a session for a party.

    The booker and the named participants are resolved to guests (identity resolution), the
    given consents recorded with their exact wording, the booking written to every concerned
    guest's timeline and the offer's partner linked to them. Pay on site: CONFIRMED at once
    (confirmation email after commit). Card: HELD for BOOKING_HOLD_MINUTES, confirmed only by
    Stripe's webhook. ``units``: rooms or private lessons for per-unit offers (default 1).
    Raises BookingError, changing nothing, for bad input or when the seats are gone."""
    session = Session.objects.select_related("offer__partner").get(pk=session.pk)
    offer = session.offer
    participants = list(participants or [])
    consents = list(consents or [])
    price = _validate(
        session=session,
        participants=participants,
        adults=adults,
        children=children,
        units=units,
        payment_method=payment_method,
        consents=consents,
        channel=channel,
        expected_total_cents=expected_total_cents,
    )
    language = _site_language(language or booker.language)
    now = timezone.now()
    reference = _reference_new()
    with transaction.atomic():
        # A participant with the booker's name is the booker: resolved once, to one guest.
        booker_key = fold_name(booker.first_name, booker.last_name)
        others = [p for p in participants if fold_name(p.first_name, p.last_name) != booker_key]
        people = [booker] + [
            PersonData(
                first_name=p.first_name,
                last_name=p.last_name,
                language=booker.language,
                country=booker.country,
            )
            for p in others
        ]
        results = guest_resolve_many(
            people,
            source=Guest.Source.BOOKING,
            source_detail=offer.partner.name,
            partner=offer.partner,
            actor=created_by,
        )
        if results[0].decision == Decision.REJECTED or results[0].guest is None:
            raise BookingError(results[0].errors or {"email": [_("Check the contact details.")]})
        booker_guest = results[0].guest
        if any(r.guest is None for r in results[1:]):
            raise BookingError({"participants": [_("Check the participants' names.")]})
        other_guests = iter(r.guest for r in results[1:])
        participant_guests = [
            booker_guest
            if fold_name(p.first_name, p.last_name) == booker_key
            else next(other_guests)
            for p in participants
        ]
        _consents_record(
            guest=booker_guest,
            consents=consents,
            partner=offer.partner,
            channel=channel,
            created_by=created_by,
            reference=reference,
            source_url=source_url,
            at=now,
        )

        card = payment_method == Booking.PaymentMethod.CARD
        booking = Booking(
            reference=reference,
            session=session,
            partner=offer.partner,
            booker=booker_guest,
            status=Booking.Status.HELD if card else Booking.Status.CONFIRMED,
            seats=price.seats,
            adults=adults,
            children=children,
            total_cents=price.total_cents,
            deposit_cents=price.deposit_cents,
            balance_due_on=price.balance_due_on,
            payment_method=payment_method,
            hold_expires_at=now + timedelta(minutes=settings.BOOKING_HOLD_MINUTES)
            if card
            else None,
            channel=channel,
            language=language,
            contact_name=f"{booker.first_name} {booker.last_name}".strip()[:310],
            contact_email=(booker.email or "").strip()[:254],
            contact_phone=(booker.phone or "").strip()[:32],
            created_by=created_by if created_by and created_by.is_authenticated else None,
            source_url=(source_url or "")[:500],
            confirmed_at=None if card else now,
        )
        for _attempt in range(5):
            try:
                with transaction.atomic():
                    booking.save()
                break
            except IntegrityError:
                # A reference drawn twice (about one in a billion): draw another.
                booking.pk = None
                booking.reference = _reference_new()
        else:
            raise BookingError(_("The booking could not be saved; please try again."))
        Participant.objects.bulk_create(
            Participant(
                booking=booking,
                guest=guest,
                first_name=p.first_name.strip()[:150],
                last_name=p.last_name.strip()[:150],
                is_child=p.is_child,
            )
            for p, guest in zip(participants, participant_guests, strict=True)
        )
        guest_ids = {booker_guest.pk, *(g.pk for g in participant_guests if g is not None)}
        _guests_touch(booking, guest_ids, now)
        _timeline_all(
            booking, gettext_lazy("Booking held") if card else gettext_lazy("Booking"), at=now
        )
        # Seats last: from this UPDATE to the commit the session row is locked, so everything
        # else was written before it and only the outbox insert remains. When the seats are
        # gone, the whole transaction (guests, consents, booking) rolls back.
        if not _seats_take(session.pk, price.seats):
            left = Session.objects.filter(pk=session.pk).values_list("capacity", "seats_taken")
            capacity, taken = left[0]
            raise BookingError(_seats_message(capacity - taken))
        booking_event_write(booking, BookingEvent.Kind.CREATED, _event_data(booking))
        if not card:
            booking_event_write(booking, BookingEvent.Kind.CONFIRMED, _event_data(booking))
            _confirmation_enqueue(booking)
    return booking


def _guests_touch(booking: Booking, guest_ids: set[int], at: datetime) -> None:
    """The partner received these guests' data (a booking), and a booking is real contact."""
    from partners.models import PartnerGuestLink
    from partners.services import partner_guest_link_touch

    for guest_id in sorted(guest_ids):
        partner_guest_link_touch(
            partner=booking.partner,
            guest=Guest(pk=guest_id),
            reason=PartnerGuestLink.Reason.BOOKING,
            at=at,
            booked=True,
        )
    Guest.objects.filter(pk__in=guest_ids).filter(
        Q(last_contact_at__isnull=True) | Q(last_contact_at__lt=at)
    ).update(last_contact_at=at)


def _event_data(booking: Booking, **extra: Any) -> dict[str, Any]:
    return {
        "reference": booking.reference,
        "session": booking.session_id,
        "partner": booking.partner_id,
        "booker": booking.booker_id,
        "seats": booking.seats,
        "total_cents": booking.total_cents,
        "paid_cents": booking.paid_cents,
        **extra,
    }


def _confirmation_enqueue(booking: Booking) -> None:
    from bookings.tasks import booking_confirmation_send_task

    booking_confirmation_send_task.delay_on_commit(booking.pk)


# --- Signed links -----------------------------------------------------------------------------


def booking_signed_token(booking: Booking) -> str:
    """A token for the "manage my booking" link of the emails (no account needed)."""
    return signing.dumps(
        {"b": booking.pk, "r": booking.reference}, salt=MANAGE_LINK_SALT, compress=True
    )


def booking_from_signed_token(token: str) -> Booking | None:
    try:
        data = signing.loads(token, salt=MANAGE_LINK_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    return (
        Booking.objects.select_related("session__offer__partner", "booker")
        .filter(pk=data.get("b"), reference=data.get("r"))
        .first()
    )


# --- Card payment -----------------------------------------------------------------------------


def booking_checkout_url(*, booking: Booking, success_url: str, cancel_url: str) -> str:
    """The Stripe Checkout URL to pay a held booking (deposit or full amount). The Checkout
    Session is created once per booking (idempotency key ``checkout-<reference>``; an open one
    is reused), so a double click or a retried request never creates a second charge.

    Stripe refuses a key reused with other parameters, so every parameter derives from the
    held booking only, never from the clock: a retry sends the very same request and gets
    the same session back."""
    booking = Booking.objects.select_related("session__offer").get(pk=booking.pk)
    if booking.payment_method != Booking.PaymentMethod.CARD:
        raise BookingError({"payment_method": _("This booking is paid on site.")})
    if (
        booking.status != Booking.Status.HELD
        or booking.hold_expires_at is None
        or booking.hold_expires_at <= timezone.now()
    ):
        raise BookingError(_("This booking is no longer awaiting payment."))
    kind = Payment.Kind.DEPOSIT if booking.deposit_cents else Payment.Kind.FULL
    existing = (
        booking.payments.filter(kind=kind, status=Payment.Status.PENDING)
        .exclude(stripe_checkout_session_id="")
        .order_by("-pk")
        .first()
    )
    if existing is not None and existing.url:
        return existing.url
    key = f"checkout-{booking.reference}"
    provider = payments.provider_get()
    with translation.override(booking.language):
        description = _("%(offer)s, %(date)s — booking %(reference)s") % {
            "offer": booking.session.offer.title,
            "date": date_format(timezone.localtime(booking.session.starts_at), "DATE_FORMAT"),
            "reference": booking.reference,
        }
        if kind == Payment.Kind.DEPOSIT:
            description = _("Deposit: %(what)s") % {"what": description}
    # A checkout starts at the latest when the hold ends (refused above after that), so this
    # leaves Stripe its 30 minutes; the hold-expiry job closes the session when the hold ends.
    expires_at = booking.hold_expires_at + timedelta(minutes=STRIPE_MIN_CHECKOUT_MINUTES)
    try:
        result = provider.checkout_create(
            reference=booking.reference,
            description=description,
            amount_cents=booking.due_now_cents,
            customer_email=booking.contact_email,
            language=booking.language,
            success_url=success_url,
            cancel_url=cancel_url,
            expires_at=expires_at,
            metadata={"booking": booking.reference, "payment": kind},
            idempotency_key=key,
        )
    except payments.PaymentProviderError as exc:
        logger.warning("Checkout for %s refused: %s", booking.reference, exc)
        raise BookingError({"payment_method": _("Card payment failed to start: %s") % exc}) from exc
    with transaction.atomic():
        payment, _created = Payment.objects.get_or_create(
            stripe_checkout_session_id=result.session_id,
            defaults={
                "booking": booking,
                "kind": kind,
                "provider": provider.name,
                "amount_cents": booking.due_now_cents,
                "idempotency_key": key,
                "url": result.url,
            },
        )
    return payment.url


@transaction.atomic
def booking_payment_on_site_record(
    *, booking: Booking, amount_cents: int, by: User | None
) -> Booking:
    """Money taken at the desk (cash, card terminal) for a booking."""
    booking = Booking.objects.select_for_update().get(pk=booking.pk)
    if not _is_count(amount_cents) or amount_cents <= 0:
        raise BookingError({"amount_cents": _("Enter an amount greater than zero.")})
    if amount_cents > booking.balance_cents:
        raise BookingError({"amount_cents": _("This is more than what is left to pay.")})
    if booking.status not in (Booking.Status.CONFIRMED, Booking.Status.CHECKED_IN):
        raise BookingError(_("Only confirmed bookings take payments."))
    Payment.objects.create(
        booking=booking,
        kind=Payment.Kind.BALANCE if booking.paid_cents else Payment.Kind.FULL,
        provider=payments.ON_SITE,
        status=Payment.Status.SUCCEEDED,
        amount_cents=amount_cents,
    )
    booking.paid_cents += amount_cents
    fields = ["paid_cents", "updated_at"]
    if booking.balance_cents == 0 and booking.balance_overdue_at:
        booking.balance_overdue_at = None
        fields.append("balance_overdue_at")
    booking.save(update_fields=fields)
    booking_event_write(
        booking,
        BookingEvent.Kind.PAYMENT_RECEIVED,
        _event_data(booking, amount_cents=amount_cents, provider=payments.ON_SITE),
    )
    open_links = booking.payments.filter(
        kind=Payment.Kind.BALANCE, status=Payment.Status.PENDING
    ).exclude(stripe_payment_link_id="")
    if open_links.exists():  # a link for the old amount must not be paid on top
        from bookings.tasks import booking_balance_links_close_task

        booking_balance_links_close_task.delay_on_commit(booking.pk)
    return booking


# --- Cancelling, refunding, checking in ---------------------------------------------------------


def booking_cancel(
    *, booking: Booking, by: User | AnonymousUser | None = None, reason: str = ""
) -> Booking:
    """Cancel a held or confirmed booking and give its seats back. A visitor (``by`` None or
    not staff) may cancel until ``free_cancellation_days`` before the start; staff of the
    partner, the booking desk or the tourist office may override the policy. What was paid by
    card is refunded through Stripe after commit (``booking_refund_issue``)."""
    with transaction.atomic():
        booking = (
            Booking.objects.select_for_update(of=("self",))
            .select_related("session__offer", "partner")
            .get(pk=booking.pk)
        )
        if booking.status not in (Booking.Status.HELD, Booking.Status.CONFIRMED):
            raise BookingError(
                _("A booking that is %(status)s cannot be cancelled.")
                % {"status": booking.get_status_display().lower()}
            )
        staff = _is_staff_for(by, booking.partner)
        now = timezone.now()
        if not staff:
            limit = booking.session.starts_at - timedelta(
                days=booking.session.offer.free_cancellation_days
            )
            if now > limit:
                raise BookingError(
                    _("Free cancellation ended on %(date)s. Please contact the booking desk.")
                    % {"date": date_format(timezone.localtime(limit), "DATETIME_FORMAT")}
                )
        if staff and not (reason or "").strip():
            raise BookingError({"reason": _("Give a reason for the cancellation.")})
        _seats_release(booking)
        booking.status = Booking.Status.CANCELLED
        booking.cancelled_at = now
        booking.cancel_reason = (reason or "").strip()
        booking.save(update_fields=["status", "cancelled_at", "cancel_reason", "updated_at"])
        _timeline_all(booking, gettext_lazy("Booking cancelled"), at=now)
        booking_event_write(
            booking,
            BookingEvent.Kind.CANCELLED,
            _event_data(booking, by=by.pk if by is not None and by.is_authenticated else None),
        )
        pending = list(
            booking.payments.filter(status=Payment.Status.PENDING)
            .exclude(stripe_checkout_session_id="")
            .values_list("stripe_checkout_session_id", flat=True)
        )
        if booking.paid_cents > booking.refunded_cents or pending:
            from bookings.tasks import booking_refund_task

            booking_refund_task.delay_on_commit(booking.pk)
    return booking


def _refund_targets(booking: Booking) -> list[tuple[Payment, int]]:
    """Card payments with money not yet refunded: (payment, amount to refund)."""
    refunded = dict(
        booking.payments.filter(kind=Payment.Kind.REFUND)
        .values_list("stripe_payment_intent_id")
        .annotate(total=Sum("amount_cents"))
        .values_list("stripe_payment_intent_id", "total")
    )
    targets = []
    for payment in booking.payments.filter(
        status=Payment.Status.SUCCEEDED, provider=payments.STRIPE
    ).exclude(kind=Payment.Kind.REFUND):
        left = payment.amount_cents - refunded.get(payment.stripe_payment_intent_id, 0)
        if left > 0 and payment.stripe_payment_intent_id:
            targets.append((payment, left))
    return targets


def booking_refund_issue(booking_id: int) -> int:
    """Refund through Stripe what a cancelled (or late-paid, expired) booking paid by card and
    expire its open Checkout Sessions. Idempotent: each refund carries the key
    ``refund-<payment id>``, and what was refunded already is not refunded again. Returns the
    amount refunded now, in cents."""
    booking = Booking.objects.get(pk=booking_id)
    if booking.status not in (
        Booking.Status.CANCELLED,
        Booking.Status.EXPIRED,
        Booking.Status.REFUNDED,
    ):
        return 0
    provider = payments.provider_get()
    for session_id in (
        booking.payments.filter(status=Payment.Status.PENDING)
        .exclude(stripe_checkout_session_id="")
        .values_list("stripe_checkout_session_id", flat=True)
    ):
        provider.checkout_expire(session_id=session_id)
    total = 0
    for payment, amount in _refund_targets(booking):
        result = provider.refund(
            payment_intent_id=payment.stripe_payment_intent_id,
            amount_cents=amount,
            idempotency_key=f"refund-{payment.pk}",
        )
        if result.status in ("failed", "canceled", "manual"):
            booking_refund_failed_flag(
                booking_id=booking.pk, reason=f"Stripe refund {result.status}"
            )
            continue
        already = (
            booking.payments.filter(
                kind=Payment.Kind.REFUND, stripe_payment_intent_id=payment.stripe_payment_intent_id
            ).aggregate(s=Sum("amount_cents"))["s"]
            or 0
        )
        total += _refund_record(
            booking_id=booking.pk,
            payment_intent_id=payment.stripe_payment_intent_id,
            refund_id=result.refund_id,
            amount_refunded=already + amount,
            succeeded=result.status == "succeeded",
        )
    return total


def booking_refund_failed_flag(*, booking_id: int, reason: str) -> bool:
    """Flag a booking whose card refund Stripe refused or that kept failing, so the booking
    desk sees it (a badge on the list and the booking) and refunds the guest another way. Only
    the first failure is stamped; returns True when this call flagged it."""
    flagged = Booking.objects.filter(pk=booking_id, refund_failed_at__isnull=True).update(
        refund_failed_at=timezone.now()
    )
    logger.error("Refund failed for booking %s: %s", booking_id, reason)
    return bool(flagged)


@transaction.atomic
def _refund_record(
    *,
    booking_id: int,
    payment_intent_id: str,
    refund_id: str,
    amount_refunded: int,
    succeeded: bool = True,
    charge_amount: int = 0,
) -> int:
    """Record that ``amount_refunded`` (cumulative, for this payment intent) is refunded; mark
    the booking REFUNDED (seats released) once everything paid is refunded. Idempotent: called
    by our refund and by the ``charge.refunded`` webhook, in any order. Returns the increase.

    ``charge_amount`` is the refunded charge's own amount (the webhook's): a refund can overtake
    the payment's event, and then the booking's ``paid_cents`` does not count that charge yet.
    A partial refund of it must not read as "everything paid is refunded" (0 >= 0)."""
    booking = Booking.objects.select_for_update().get(pk=booking_id)
    row = (
        booking.payments.select_for_update()
        .filter(kind=Payment.Kind.REFUND, stripe_payment_intent_id=payment_intent_id)
        .first()
    )
    before = row.amount_cents if row else 0
    if row is None:
        row = Payment(
            booking=booking,
            kind=Payment.Kind.REFUND,
            provider=payments.STRIPE,
            stripe_payment_intent_id=payment_intent_id,
            amount_cents=0,
        )
    increase = max(0, amount_refunded - before)
    row.amount_cents = max(before, amount_refunded)
    if refund_id and not row.stripe_refund_id:
        row.stripe_refund_id = refund_id
    row.status = Payment.Status.SUCCEEDED if succeeded else Payment.Status.PENDING
    row.save()
    if increase:
        booking.refunded_cents += increase
        booking.save(update_fields=["refunded_cents", "updated_at"])
    paid = booking.paid_cents
    if charge_amount and not (
        booking.payments.filter(
            stripe_payment_intent_id=payment_intent_id, status=Payment.Status.SUCCEEDED
        )
        .exclude(kind=Payment.Kind.REFUND)
        .exists()
    ):
        paid += charge_amount  # the charge's payment event has not arrived yet
    fully = paid > 0 and booking.refunded_cents >= paid
    if fully and succeeded and booking.refund_failed_at:  # a later try went through
        booking.refund_failed_at = None
        booking.save(update_fields=["refund_failed_at", "updated_at"])
    if (
        increase
        and fully
        and booking.status
        in (
            Booking.Status.HELD,
            Booking.Status.CONFIRMED,
            Booking.Status.CANCELLED,
            Booking.Status.EXPIRED,
        )
    ):
        _seats_release(booking)
        booking.status = Booking.Status.REFUNDED
        booking.save(update_fields=["status", "updated_at"])
        _timeline_all(booking, gettext_lazy("Booking refunded"))
    if increase:
        booking_event_write(
            booking,
            BookingEvent.Kind.REFUNDED,
            _event_data(booking, amount_cents=increase, refunded_cents=booking.refunded_cents),
        )
    return increase


@transaction.atomic
def booking_check_in(*, booking: Booking, by: User | None) -> Booking:
    """The guest arrived: a confirmed booking is checked in by the partner's staff."""
    booking = (
        Booking.objects.select_for_update(of=("self",))
        .select_related("session__offer", "partner")
        .get(pk=booking.pk)
    )
    if not _is_staff_for(by, booking.partner):
        raise BookingError(_("Only the partner's staff can check a booking in."))
    if booking.status != Booking.Status.CONFIRMED:
        raise BookingError(_("Only confirmed bookings can be checked in."))
    now = timezone.now()
    if now < booking.session.starts_at - CHECK_IN_EARLY:
        raise BookingError(_("Check-in opens on the day of the session."))
    booking.status = Booking.Status.CHECKED_IN
    booking.checked_in_at = now
    booking.save(update_fields=["status", "checked_in_at", "updated_at"])
    _timeline_all(booking, gettext_lazy("Checked in"), at=now)
    booking_event_write(booking, BookingEvent.Kind.CHECKED_IN, _event_data(booking, by=by.pk))
    return booking


# --- Webhook events -------------------------------------------------------------------------------


def _booking_for_stripe_object(obj: Mapping[str, Any]) -> Booking | None:
    reference = (obj.get("metadata") or {}).get("booking") or obj.get("client_reference_id")
    if not reference:
        return None
    return Booking.objects.filter(reference=reference).first()


def stripe_checkout_completed(obj: Mapping[str, Any]) -> None:
    """``checkout.session.completed``: the money is in. Confirms a held booking; a payment that
    arrives after its hold expired re-takes the seats when they are still free, and is refunded
    when they are not (or when the booking was cancelled or refunded meanwhile)."""
    if obj.get("payment_status") not in ("paid", "no_payment_required"):
        return  # Delayed methods confirm later; only cards are offered.
    session_id = obj.get("id") or ""
    payment = Payment.objects.filter(stripe_checkout_session_id=session_id).first()
    if payment is None and obj.get("payment_link"):
        payment = Payment.objects.filter(stripe_payment_link_id=obj["payment_link"]).first()
    booking = payment.booking if payment else _booking_for_stripe_object(obj)
    if booking is None:
        logger.warning("Stripe Checkout Session %s matches no booking", session_id)
        return
    booking = Booking.objects.select_for_update().get(pk=booking.pk)
    amount = int(obj.get("amount_total") or 0)
    intent = obj.get("payment_intent") or ""
    if payment is None:
        kind = (obj.get("metadata") or {}).get("payment") or Payment.Kind.FULL
        payment = Payment(
            booking=booking,
            kind=kind if kind in Payment.Kind.values else Payment.Kind.FULL,
            provider=payments.STRIPE,
            amount_cents=amount,
            stripe_checkout_session_id=session_id,
        )
    else:
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status == Payment.Status.SUCCEEDED:
        return
    payment.status = Payment.Status.SUCCEEDED
    payment.amount_cents = amount or payment.amount_cents
    payment.stripe_payment_intent_id = intent
    if payment.stripe_payment_link_id and not payment.stripe_checkout_session_id:
        payment.stripe_checkout_session_id = session_id
    payment.save()
    booking.paid_cents += payment.amount_cents
    booking.save(update_fields=["paid_cents", "updated_at"])
    # Outbox rows are written last (after any seat or timeline write): the outbox lock is the
    # last lock a transaction takes.
    received = (
        BookingEvent.Kind.PAYMENT_RECEIVED,
        _event_data(booking, amount_cents=payment.amount_cents, kind=payment.kind),
    )
    if payment.kind == Payment.Kind.BALANCE:
        if booking.balance_cents == 0 and booking.balance_overdue_at:
            booking.balance_overdue_at = None
            booking.save(update_fields=["balance_overdue_at", "updated_at"])
        _timeline_all(booking, gettext_lazy("Balance paid"))
        booking_event_write(booking, *received)
        return
    refund = False
    if booking.status == Booking.Status.HELD:
        _confirm(booking, before=[received])
        return
    if booking.status == Booking.Status.EXPIRED:
        if _seats_take(booking.session_id, booking.seats):
            _confirm(booking, late=True, before=[received])
            return
        refund = True
    elif booking.status in (Booking.Status.CANCELLED, Booking.Status.REFUNDED):
        # Cancelled while paying, or refunded first (events out of order): the booking stays
        # as it is and whatever was paid and not refunded yet goes back.
        refund = booking.refunded_cents < booking.paid_cents
    else:
        logger.warning(
            "Booking %s (%s) received a second first payment %s: the desk refunds it",
            booking.reference,
            booking.status,
            session_id,
        )
    booking_event_write(booking, *received)
    if refund:
        from bookings.tasks import booking_refund_task

        booking_refund_task.delay_on_commit(booking.pk)


def _confirm(
    booking: Booking,
    *,
    late: bool = False,
    before: list[tuple[str, dict[str, Any]]] | None = None,
) -> None:
    now = timezone.now()
    booking.status = Booking.Status.CONFIRMED
    booking.confirmed_at = now
    booking.hold_expires_at = None
    booking.save(update_fields=["status", "confirmed_at", "hold_expires_at", "updated_at"])
    _timeline_all(booking, gettext_lazy("Booking confirmed"), at=now)
    for kind, data in before or []:
        booking_event_write(booking, kind, data)
    booking_event_write(booking, BookingEvent.Kind.CONFIRMED, _event_data(booking, late=late))
    _confirmation_enqueue(booking)


def stripe_checkout_expired(obj: Mapping[str, Any]) -> None:
    """``checkout.session.expired``: the visitor never paid. Releases a still-held booking; a
    booking already confirmed (the completed event came first) is left alone."""
    session_id = obj.get("id") or ""
    payment = Payment.objects.filter(stripe_checkout_session_id=session_id).first()
    booking = payment.booking if payment else _booking_for_stripe_object(obj)
    if booking is None:
        return
    booking = Booking.objects.select_for_update().get(pk=booking.pk)
    if payment is not None:
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status == Payment.Status.PENDING:
            payment.status = Payment.Status.EXPIRED
            payment.save(update_fields=["status", "updated_at"])
        if payment.kind == Payment.Kind.BALANCE:
            return
    if booking.status != Booking.Status.HELD:
        return
    _seats_release(booking)
    booking.status = Booking.Status.EXPIRED
    booking.save(update_fields=["status", "updated_at"])
    _timeline_all(booking, gettext_lazy("Booking expired unpaid"))
    booking_event_write(booking, BookingEvent.Kind.EXPIRED, _event_data(booking, by="stripe"))


def stripe_charge_refunded(obj: Mapping[str, Any]) -> None:
    """``charge.refunded``: money went back (from us or from Stripe's dashboard)."""
    intent = obj.get("payment_intent") or ""
    payment = (
        Payment.objects.filter(stripe_payment_intent_id=intent)
        .exclude(kind=Payment.Kind.REFUND)
        .first()
        if intent
        else None
    )
    booking = payment.booking if payment else _booking_for_stripe_object(obj)
    if booking is None:
        logger.warning("Stripe refund for %s matches no booking", intent or obj.get("id"))
        return
    refunds = ((obj.get("refunds") or {}).get("data") or [{}])[0] or {}
    _refund_record(
        booking_id=booking.pk,
        payment_intent_id=intent,
        refund_id=refunds.get("id") or "",
        amount_refunded=int(obj.get("amount_refunded") or 0),
        charge_amount=int(obj.get("amount") or 0),
    )


STRIPE_HANDLERS = {
    "checkout.session.completed": stripe_checkout_completed,
    "checkout.session.async_payment_succeeded": stripe_checkout_completed,
    "checkout.session.expired": stripe_checkout_expired,
    # Only cards are offered, so a delayed payment never fails later; if one ever does (a
    # method enabled by hand), it releases the hold like an expired session.
    "checkout.session.async_payment_failed": stripe_checkout_expired,
    "charge.refunded": stripe_charge_refunded,
}


def stripe_event_process(*, event_id: str, event_type: str, obj: Mapping[str, Any]) -> bool:
    """Process one verified Stripe event exactly once. The event id is inserted first, in the
    transaction of the processing: a duplicate delivery (even a concurrent one, which waits on
    the unique index) finds it and does nothing; a failure rolls both back so Stripe's retry
    processes it. Returns False for a duplicate."""
    from bookings.models import StripeEvent

    with transaction.atomic():
        try:
            with transaction.atomic():
                StripeEvent.objects.create(
                    event_id=event_id, type=event_type[:100], object_id=str(obj.get("id", ""))[:255]
                )
        except IntegrityError:
            return False
        handler = STRIPE_HANDLERS.get(event_type)
        if handler is not None:
            handler(obj)
    return True


# --- Holds, completion ------------------------------------------------------------------------


def bookings_holds_expire(*, now: datetime | None = None) -> int:
    """Release every card hold whose time ran out: a few set-based statements whatever their
    number. Idempotent (an expired booking is no longer HELD); rows a webhook is processing
    right now are skipped and caught by the next run. Returns how many holds were released."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(
            Booking.objects.select_for_update(skip_locked=True)
            .filter(status=Booking.Status.HELD, hold_expires_at__lt=now)
            .order_by("pk")
            .values_list("pk", "session_id", "seats")
        )
        if not rows:
            return 0
        ids = [pk for pk, _s, _n in rows]
        per_session: dict[int, int] = defaultdict(int)
        for _pk, session_id, seats in rows:
            per_session[session_id] += seats
        Booking.objects.filter(pk__in=ids).update(status=Booking.Status.EXPIRED, updated_at=now)
        Session.objects.filter(pk__in=sorted(per_session)).update(
            seats_taken=F("seats_taken")
            - Case(*(When(pk=sid, then=Value(n)) for sid, n in per_session.items()), default=0)
        )
        expired = list(Booking.objects.filter(pk__in=ids).select_related("session__offer"))
        # Every concerned guest, as the webhook path writes it: the party too, not only the
        # booker, or their timelines would say "Booking held" for ever.
        _timeline_all_bulk(expired, gettext_lazy("Booking expired unpaid"), at=now)
        _events_write(expired, BookingEvent.Kind.EXPIRED, {"by": "hold_timeout"})
        with_sessions = list(
            Payment.objects.filter(booking_id__in=ids, status=Payment.Status.PENDING)
            .exclude(stripe_checkout_session_id="")
            .values_list("stripe_checkout_session_id", flat=True)
        )
        if with_sessions:
            from bookings.tasks import stripe_checkout_expire_task

            for session_id in with_sessions:
                stripe_checkout_expire_task.delay_on_commit(session_id)
    return len(ids)


def bookings_complete_ended(*, now: datetime | None = None) -> int:
    """Confirmed or checked-in bookings whose session has ended become COMPLETED."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            Booking.objects.select_for_update(skip_locked=True)
            .filter(
                status__in=[Booking.Status.CONFIRMED, Booking.Status.CHECKED_IN],
                session__ends_at__lt=now,
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not ids:
            return 0
        Booking.objects.filter(pk__in=ids).update(status=Booking.Status.COMPLETED, updated_at=now)
        _events_write(Booking.objects.filter(pk__in=ids), BookingEvent.Kind.COMPLETED, {})
    return len(ids)


# --- Balances ---------------------------------------------------------------------------------


def _balance_due(now: datetime) -> Q:
    return Q(
        status=Booking.Status.CONFIRMED,
        balance_due_on__isnull=False,
        paid_cents__lt=F("total_cents"),
    )


def _balance_links_close(
    booking: Booking, provider: payments.PaymentProvider, *, keep_amount: int | None = None
) -> int:
    """Deactivate at Stripe the booking's pending balance links (except one for
    ``keep_amount``) and mark them expired. Raises PaymentProviderError on the first link that
    cannot be closed. Returns how many were closed."""
    stale = (
        booking.payments.filter(kind=Payment.Kind.BALANCE, status=Payment.Status.PENDING)
        .exclude(stripe_payment_link_id="")
        .order_by("pk")
    )
    if keep_amount is not None:
        stale = stale.exclude(amount_cents=keep_amount)
    closed = 0
    for old in stale:
        try:
            provider.payment_link_deactivate(link_id=old.stripe_payment_link_id)
        except payments.PaymentProviderError as exc:
            logger.warning("Payment link %s not deactivated: %s", old.stripe_payment_link_id, exc)
            raise
        # Paid meanwhile: the webhook records it as succeeded whatever this row says.
        closed += Payment.objects.filter(pk=old.pk, status=Payment.Status.PENDING).update(
            status=Payment.Status.EXPIRED, updated_at=timezone.now()
        )
    return closed


def booking_balance_links_close(booking_id: int) -> int:
    """After money taken at the desk, close the balance links that no longer match what is left
    to pay, so the guest cannot pay the same balance twice. Idempotent (closed links are no
    longer pending); Stripe errors propagate so the task retries."""
    booking = Booking.objects.get(pk=booking_id)
    keep = booking.balance_cents if booking.balance_cents > 0 else None
    return _balance_links_close(booking, payments.provider_get(payments.STRIPE), keep_amount=keep)


def booking_balance_link(*, booking: Booking) -> str:
    """A Stripe payment link for what is left to pay (one payment only; reused while pending).
    Used for a stay's balance and by the booking desk to send a link. When the amount left
    changed, the earlier links are deactivated at Stripe before a new one is made, so the guest
    can never pay both; if one cannot be deactivated, no new link is made."""
    booking = Booking.objects.select_related("session__offer").get(pk=booking.pk)
    if booking.balance_cents <= 0:
        raise BookingError(_("Nothing is left to pay on this booking."))
    if payment_provider() != payments.STRIPE:
        raise BookingError(_("Card payment is not configured; take the payment on site."))
    pending = (
        booking.payments.filter(
            kind=Payment.Kind.BALANCE,
            status=Payment.Status.PENDING,
            amount_cents=booking.balance_cents,
        )
        .exclude(url="")
        .first()
    )
    if pending is not None:
        return pending.url
    provider = payments.provider_get()
    try:
        _balance_links_close(booking, provider)
    except payments.PaymentProviderError as exc:
        raise BookingError(
            _("The previous payment link could not be deactivated: %s") % exc
        ) from exc
    key = f"balance-{booking.reference}-{booking.balance_cents}"
    with translation.override(booking.language):
        description = _("Balance of booking %(reference)s: %(offer)s") % {
            "reference": booking.reference,
            "offer": booking.session.offer.title,
        }
    try:
        result = provider.payment_link_create(
            description=description,
            amount_cents=booking.balance_cents,
            metadata={"booking": booking.reference, "payment": Payment.Kind.BALANCE},
            redirect_url=settings.BOOKING_SITE_URL,
            idempotency_key=key,
        )
    except payments.PaymentProviderError as exc:
        raise BookingError(_("The payment link could not be created: %s") % exc) from exc
    with transaction.atomic():
        payment, _created = Payment.objects.get_or_create(
            stripe_payment_link_id=result.link_id,
            defaults={
                "booking": booking,
                "kind": Payment.Kind.BALANCE,
                "provider": payments.STRIPE,
                "amount_cents": booking.balance_cents,
                "idempotency_key": key,
                "url": result.url,
            },
        )
    return payment.url


def _balance_mail(booking_id: int, *, reminder: bool, now: datetime) -> bool:
    """Send the balance request (or its single reminder) under the booking's lock; the flag is
    set in the same transaction, so it is sent once."""
    from bookings.emails import balance_email_send

    booking = Booking.objects.get(pk=booking_id)
    try:
        url = booking_balance_link(booking=booking)
    except BookingError:
        url = ""
    with transaction.atomic():
        booking = (
            Booking.objects.select_for_update(of=("self",))
            .select_related("session__offer", "partner")
            .get(pk=booking_id)
        )
        flag = "balance_reminded_at" if reminder else "balance_requested_at"
        if getattr(booking, flag) is not None or booking.balance_cents <= 0:
            return False
        if booking.status != Booking.Status.CONFIRMED:
            return False
        setattr(booking, flag, now)
        booking.save(update_fields=[flag, "updated_at"])
        kind = (
            BookingEvent.Kind.BALANCE_REMINDED if reminder else BookingEvent.Kind.BALANCE_REQUESTED
        )
        booking_event_write(
            booking, kind, _event_data(booking, balance_cents=booking.balance_cents, url=url)
        )
        if balance_email_send(booking, url=url, reminder=reminder):
            booking_email_timeline_write(
                booking, email="balance_reminder" if reminder else "balance_request"
            )
    return True


def bookings_balances_process(*, now: datetime | None = None) -> dict[str, int]:
    """Daily work on stay balances: request each balance BALANCE_REQUEST_DAYS before it is due
    (email with a Stripe payment link), remind once BALANCE_REMINDER_DAYS before, and flag to
    the booking desk what is still unpaid after its date (never cancelled automatically).
    Idempotent: each step sets its own flag under lock."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    due = _balance_due(now)
    counts = {"requested": 0, "reminded": 0, "overdue": 0}
    to_request = Booking.objects.filter(
        due,
        balance_requested_at__isnull=True,
        balance_due_on__lte=today + timedelta(days=BALANCE_REQUEST_DAYS),
    ).values_list("pk", flat=True)
    for pk in list(to_request):
        counts["requested"] += _balance_mail(pk, reminder=False, now=now)
    to_remind = Booking.objects.filter(
        due,
        balance_requested_at__isnull=False,
        balance_requested_at__lt=now - timedelta(days=1),
        balance_reminded_at__isnull=True,
        balance_due_on__lte=today + timedelta(days=BALANCE_REMINDER_DAYS),
    ).values_list("pk", flat=True)
    for pk in list(to_remind):
        counts["reminded"] += _balance_mail(pk, reminder=True, now=now)
    with transaction.atomic():
        overdue = list(
            Booking.objects.select_for_update(skip_locked=True)
            .filter(due, balance_overdue_at__isnull=True, balance_due_on__lt=today)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if overdue:
            Booking.objects.filter(pk__in=overdue).update(balance_overdue_at=now, updated_at=now)
            flagged = list(Booking.objects.filter(pk__in=overdue).select_related("session__offer"))
            for booking in flagged:
                _timeline_all(booking, gettext_lazy("Balance overdue"), at=now)
            _events_write(flagged, BookingEvent.Kind.BALANCE_OVERDUE, {})
        counts["overdue"] = len(overdue)
    return counts


# --- Emails -------------------------------------------------------------------------------------


def booking_confirmation_send(booking_id: int) -> bool:
    """Send the confirmation email once per booking: the booking row is locked, the "sent"
    flag checked and set in the transaction of the sending. Returns False when there was
    nothing to send (sent already, not confirmed, no email address)."""
    from bookings.emails import confirmation_email_send

    with transaction.atomic():
        booking = (
            Booking.objects.select_for_update(of=("self",))
            .select_related("session__offer__partner")
            .filter(pk=booking_id)
            .first()
        )
        if booking is None or booking.confirmation_sent_at is not None:
            return False
        if booking.status not in (Booking.Status.CONFIRMED, Booking.Status.CHECKED_IN):
            return False
        if not booking.contact_email:
            return False
        booking.confirmation_sent_at = timezone.now()
        booking.save(update_fields=["confirmation_sent_at", "updated_at"])
        booking_email_timeline_write(booking, email="confirmation")
        confirmation_email_send(booking)
    return True


# --- GDPR (registered in apps.py) ------------------------------------------------------------------


def bookings_export(guest: Guest) -> list[dict[str, Any]]:
    """The bookings section of a guest's full export: as booker and as participant."""
    rows = (
        Booking.objects.filter(Q(booker=guest) | Q(participants__guest=guest))
        .distinct()
        .select_related("session__offer", "partner")
        .prefetch_related("participants")
        .order_by("created_at", "pk")
    )
    return [
        {
            "reference": b.reference,
            "role": "booker" if b.booker_id == guest.pk else "participant",
            "partner": b.partner.name,
            "offer": b.session.offer.title_en,
            "starts_at": b.session.starts_at.isoformat(),
            "status": b.status,
            "seats": b.seats,
            "adults": b.adults,
            "children": b.children,
            "total_cents": b.total_cents,
            "paid_cents": b.paid_cents,
            "refunded_cents": b.refunded_cents,
            "payment_method": b.payment_method,
            "channel": b.channel,
            "language": b.language,
            "contact_name": b.contact_name,
            "contact_email": b.contact_email,
            "contact_phone": b.contact_phone,
            "cancel_reason": b.cancel_reason,
            "created_at": b.created_at.isoformat(),
            "participants": [
                {"first_name": p.first_name, "last_name": p.last_name, "is_child": p.is_child}
                for p in b.participants.all()
                if b.booker_id == guest.pk or p.guest_id == guest.pk
            ],
        }
        for b in rows
    ]


def bookings_erase(guest_ids: list[int]) -> dict[str, int]:
    """Anonymise bookings of erased guests, set-based: amounts, dates, statuses and the payment
    rows stay (accounting); contact details, names, free text and the source page go."""
    booked = Booking.objects.filter(booker_id__in=guest_ids).update(
        contact_name="",
        contact_email="",
        contact_phone="",
        source_url="",
        cancel_reason=Case(When(cancel_reason="", then=Value("")), default=Value(ERASED_TEXT)),
    )
    named = Participant.objects.filter(guest_id__in=guest_ids).update(first_name="", last_name="")
    return {"bookings": booked, "booking_participants": named}
