"""The booking lifecycle: booking, paying the first payment, cancelling, refunding, checking in,
expiring holds and completing, with the outbox writer (``booking_event_write``) and the
timeline entries every state change leaves. Around it, along their seams: ``pricing`` (price,
quote, cancellation policy), ``links`` (signed "manage my booking" links), ``stripe_events``
(what Stripe's webhook events do), ``balances`` (a stay's balance and payment links), ``gdpr``
(export and erasure), ``catalogue`` (partners editing offers and sessions).

Seats are never oversold: ``seats_taken`` only changes through conditional UPDATEs
(``... SET seats_taken = seats_taken + n WHERE seats_taken + n <= capacity``), which PostgreSQL
serialises on the session row (the second writer waits, then re-checks the condition against
the committed row), and a check constraint backs them. Every state change writes its outbox row
(``BookingEvent``) in the same transaction. Every service raises ``BookingError`` (a
``DomainError``: field errors in ``field_errors``) before or inside its transaction, so a
refusal changes nothing.

Lock order, to stay deadlock-free: booking rows, then session rows, then the outbox lock last.
Network calls to Stripe never run inside a transaction.
"""

from __future__ import annotations

import logging
import secrets
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Q, Sum, Value, When
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bookings import payments
from bookings.models import Booking, BookingEvent, Offer, Participant, Payment, Session
from bookings.pricing import Price, booking_cancellation_policy, booking_price
from destination.errors import DomainError
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
from destination.services.consent import consent_record
from destination.services.resolution import Decision, PersonData, guest_resolve_many
from destination.services.timeline import TimelineItem, guest_contact_touch, timeline_add_many
from partners.models import BOOKS_FOR_ALL_KINDS, Membership, PartnerGuestLink
from partners.services import partner_guest_link_touch

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from django_stubs_ext import StrOrPromise

    from destination.models import User
    from partners.models import Partner

logger = logging.getLogger(__name__)

# Stripe refuses Checkout Sessions that expire in less than 30 minutes.
STRIPE_MIN_CHECKOUT_MINUTES = 31
# A check-in is accepted from this long before the session starts.
CHECK_IN_EARLY = timedelta(hours=12)
REFERENCE_PREFIX = "VN-"
# No 0/O, 1/I/L: references are read out on the phone.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
# Any fixed 64-bit number: the advisory lock that orders outbox rows by commit.
OUTBOX_LOCK_ID = 0x626F6F6B696E6773 >> 2


class BookingError(DomainError):
    """A booking refused; nothing was changed. ``BookingError("Message")`` concerns the booking
    as a whole, ``BookingError({"adults": "..."})`` names fields (``field_errors``, also
    ``message_dict``); views put it on their form with ``form_add_domain_error``."""


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


# --- Small helpers --------------------------------------------------------------------------------


def payment_provider() -> str:
    """The active provider: "stripe" when STRIPE_SECRET_KEY is set, else "on_site"."""
    return payments.provider_name()


def payment_method_for_web() -> str:
    """The payment method of a booking made on the public site: card through Stripe Checkout
    when Stripe is configured, else pay on site."""
    if payment_provider() == payments.STRIPE:
        return Booking.PaymentMethod.CARD
    return Booking.PaymentMethod.ON_SITE


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


def booking_events_write(bookings: Iterable[Booking], kind: str, data: dict[str, Any]) -> None:
    rows = [BookingEvent(booking=b, kind=kind, status=b.status, data=data) for b in bookings]
    if not rows:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [OUTBOX_LOCK_ID])
    BookingEvent.objects.bulk_create(rows)


def booking_event_data(booking: Booking, **extra: Any) -> dict[str, Any]:
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


def booking_timeline_add(
    booking: Booking, what: StrOrPromise, *, at: datetime | None = None
) -> None:
    """One entry per concerned guest (booker and party), the partner's and SHARED: other
    partners see it when their access opens the BOOKINGS section (partners.access)."""
    bookings_timeline_add([booking], what, at=at or timezone.now())


def bookings_timeline_add(bookings: list[Booking], what: StrOrPromise, *, at: datetime) -> None:
    """``booking_timeline_add`` for many bookings in two statements (one booking, or the
    set-based jobs' many): one entry per concerned guest, the booker first, then the party."""
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
    items = []
    for booking in bookings:
        title = _timeline_title(booking, what)
        guest_ids = [booking.booker_id]
        guest_ids += [g for g in dict.fromkeys(party[booking.pk]) if g != booking.booker_id]
        items += [
            TimelineItem(
                guest_id=guest_id,
                kind=TimelineEvent.Kind.BOOKING,
                occurred_at=at,
                title=title,
                partner_id=booking.partner_id,
                visibility=Visibility.SHARED,
                data=_timeline_data(booking, guest_id),
                source=booking,
            )
            for guest_id in guest_ids
        ]
    timeline_add_many(items=items)


# The booking emails, as their timeline entries name them (stored in the default language).
BOOKING_EMAILS: dict[str, StrOrPromise] = {
    "confirmation": gettext_lazy("Confirmation email sent for"),
    "balance_request": gettext_lazy("Balance request email sent for"),
    "balance_reminder": gettext_lazy("Balance reminder email sent for"),
    "payment_link": gettext_lazy("Payment link email sent for"),
}


def booking_email_timeline_write(booking: Booking, *, email: str) -> None:
    """The booker's timeline shows each booking email sent (the portal's "emails sent"): one
    MESSAGE entry, the partner's and SHARED like the booking's own entries. Bookings send no
    email: the email pipeline (newsletters) calls this in the transaction that marks the
    message SENT, so a message skipped, failed or in doubt leaves no entry."""
    timeline_add_many(
        items=[
            TimelineItem(
                guest_id=booking.booker_id,
                kind=TimelineEvent.Kind.MESSAGE,
                occurred_at=timezone.now(),
                title=_timeline_title(booking, BOOKING_EMAILS[email]),
                partner_id=booking.partner_id,
                visibility=Visibility.SHARED,
                data={"booking": booking.pk, "reference": booking.reference, "email": email},
                source=booking,
            )
        ]
    )


def booking_seats_release(booking: Booking) -> None:
    """Give a booking's seats back (the caller holds the booking row and changes its status)."""
    if booking.status in Booking.SEATED:
        Session.objects.filter(pk=booking.session_id).update(
            seats_taken=F("seats_taken") - booking.seats
        )


def session_seats_take(session_id: int, seats: int) -> bool:
    """Take seats if they are left: one conditional UPDATE, atomic on every database."""
    return bool(
        Session.objects.filter(pk=session_id, seats_taken__lte=F("capacity") - seats).update(
            seats_taken=F("seats_taken") + seats
        )
    )


def _is_staff_for(user: User | AnonymousUser | None, partner: Partner) -> bool:
    """Staff of the booking's partner, of the booking desk or of the tourist office."""
    if user is None or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return (
        Membership.objects.active()
        .filter(Q(partner=partner) | Q(partner__kind__in=BOOKS_FOR_ALL_KINDS), user=user)
        .exists()
    )


# --- Validation -----------------------------------------------------------------------------------


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


# --- Creating -------------------------------------------------------------------------------------


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
        booking_timeline_add(
            booking, gettext_lazy("Booking held") if card else gettext_lazy("Booking"), at=now
        )
        # Seats last: from this UPDATE to the commit the session row is locked, so everything
        # else was written before it and only the outbox insert remains. When the seats are
        # gone, the whole transaction (guests, consents, booking) rolls back.
        if not session_seats_take(session.pk, price.seats):
            left = Session.objects.filter(pk=session.pk).values_list("capacity", "seats_taken")
            capacity, taken = left[0]
            raise BookingError(_seats_message(capacity - taken))
        booking_event_write(booking, BookingEvent.Kind.CREATED, booking_event_data(booking))
        if not card:
            # The confirmation email: newsletters reads this event from the outbox.
            booking_event_write(booking, BookingEvent.Kind.CONFIRMED, booking_event_data(booking))
    return booking


def _guests_touch(booking: Booking, guest_ids: set[int], at: datetime) -> None:
    """The partner received these guests' data (a booking), and a booking is real contact."""
    for guest_id in sorted(guest_ids):
        partner_guest_link_touch(
            partner=booking.partner,
            guest=Guest(pk=guest_id),
            reason=PartnerGuestLink.Reason.BOOKING,
            at=at,
            booked=True,
        )
    guest_contact_touch(guest_ids=guest_ids, at=at)


# --- Card payment ---------------------------------------------------------------------------------


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
        booking_event_data(booking, amount_cents=amount_cents, provider=payments.ON_SITE),
    )
    open_links = booking.payments.filter(
        kind=Payment.Kind.BALANCE, status=Payment.Status.PENDING
    ).exclude(stripe_payment_link_id="")
    if open_links.exists():  # a link for the old amount must not be paid on top
        from bookings.tasks import booking_balance_links_close_task  # noqa: PLC0415  bookings.tasks imports this module

        booking_balance_links_close_task.delay_on_commit(booking.pk)
    return booking


# --- Cancelling, refunding, checking in -----------------------------------------------------------


def booking_cancel(
    *, booking: Booking, by: User | AnonymousUser | None = None, reason: str = ""
) -> Booking:
    """Cancel a held or confirmed booking and give its seats back. A visitor (``by`` None or
    not staff) may cancel until ``free_cancellation_days`` before the start; staff of the
    partner, the booking desk or the tourist office may override the deadline (the rule:
    ``pricing.booking_cancellation_policy``), giving a reason. What was paid by
    card is refunded through Stripe after commit (``booking_refund_issue``)."""
    with transaction.atomic():
        booking = (
            Booking.objects.select_for_update(of=("self",))
            .select_related("session__offer", "partner")
            .get(pk=booking.pk)
        )
        staff = _is_staff_for(by, booking.partner)
        now = timezone.now()
        policy = booking_cancellation_policy(booking=booking, now=now, staff=staff)
        if not policy.allowed:
            raise BookingError(policy.reason, code=policy.code)
        if staff and not (reason or "").strip():
            raise BookingError({"reason": _("Give a reason for the cancellation.")})
        booking_seats_release(booking)
        booking.status = Booking.Status.CANCELLED
        booking.cancelled_at = now
        booking.cancel_reason = (reason or "").strip()
        booking.save(update_fields=["status", "cancelled_at", "cancel_reason", "updated_at"])
        booking_timeline_add(booking, gettext_lazy("Booking cancelled"), at=now)
        booking_event_write(
            booking,
            BookingEvent.Kind.CANCELLED,
            booking_event_data(
                booking, by=by.pk if by is not None and by.is_authenticated else None
            ),
        )
        pending = list(
            booking.payments.filter(status=Payment.Status.PENDING)
            .exclude(stripe_checkout_session_id="")
            .values_list("stripe_checkout_session_id", flat=True)
        )
        if booking.paid_cents > booking.refunded_cents or pending:
            from bookings.tasks import booking_refund_task  # noqa: PLC0415  bookings.tasks imports this module

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
        total += booking_refund_record(
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
def booking_refund_record(
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
        booking_seats_release(booking)
        booking.status = Booking.Status.REFUNDED
        booking.save(update_fields=["status", "updated_at"])
        booking_timeline_add(booking, gettext_lazy("Booking refunded"))
    if increase:
        booking_event_write(
            booking,
            BookingEvent.Kind.REFUNDED,
            booking_event_data(
                booking, amount_cents=increase, refunded_cents=booking.refunded_cents
            ),
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
    booking_timeline_add(booking, gettext_lazy("Checked in"), at=now)
    booking_event_write(
        booking,
        BookingEvent.Kind.CHECKED_IN,
        booking_event_data(booking, by=by.pk if by is not None else None),
    )
    return booking


# --- Holds, completion ----------------------------------------------------------------------------


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
        bookings_timeline_add(expired, gettext_lazy("Booking expired unpaid"), at=now)
        booking_events_write(expired, BookingEvent.Kind.EXPIRED, {"by": "hold_timeout"})
        with_sessions = list(
            Payment.objects.filter(booking_id__in=ids, status=Payment.Status.PENDING)
            .exclude(stripe_checkout_session_id="")
            .values_list("stripe_checkout_session_id", flat=True)
        )
        if with_sessions:
            from bookings.tasks import stripe_checkout_expire_task  # noqa: PLC0415  bookings.tasks imports this module

            for checkout_id in with_sessions:
                stripe_checkout_expire_task.delay_on_commit(checkout_id)
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
        booking_events_write(Booking.objects.filter(pk__in=ids), BookingEvent.Kind.COMPLETED, {})
    return len(ids)
