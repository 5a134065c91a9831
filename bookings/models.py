"""Partners' offers, their dated sessions with a seat capacity, and the bookings visitors and the
booking desk make on them, with their payments, the Stripe events received and the outbox of
booking state changes that later consumers (journeys, reporting) read."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from destination.models import Guest, TimeStampedModel


class Offer(TimeStampedModel):
    """Something a partner sells: a lesson, a stay, a pass, a rental. Titles and descriptions
    are written in English and French; ``title`` / ``description`` follow the active language."""

    class Kind(models.TextChoices):
        GROUP_LESSON = "group_lesson", _("Group lesson")
        PRIVATE_LESSON = "private_lesson", _("Private lesson")
        STAY = "stay", _("Stay")
        PASS = "pass", _("Lift pass")
        RENTAL = "rental", _("Equipment rental")

    class Pricing(models.TextChoices):
        PER_PERSON = "per_person", _("Per person")
        PER_UNIT = "per_unit", _("Per unit (room, apartment, private lesson)")

    partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("partner"),
        on_delete=models.PROTECT,
        related_name="offers",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    slug = models.SlugField(pgettext_lazy("url", "slug"), max_length=80, unique=True)
    title_en = models.CharField(_("title (English)"), max_length=150)
    title_fr = models.CharField(_("title (French)"), max_length=150, blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    description_fr = models.TextField(_("description (French)"), blank=True)
    price_cents = models.PositiveIntegerField(
        _("price (euro cents)"),
        help_text=_("Per person, or per unit; for stays per unit and per night."),
    )
    child_price_cents = models.PositiveIntegerField(
        _("child price (euro cents)"),
        null=True,
        blank=True,
        help_text=_("Per-person offers only; empty when children pay the adult price."),
    )
    pricing = models.CharField(
        _("pricing"), max_length=16, choices=Pricing.choices, default=Pricing.PER_PERSON
    )
    deposit_percent = models.PositiveSmallIntegerField(
        _("deposit (%)"),
        null=True,
        blank=True,
        help_text=_("Empty: paid in full at booking. Card payments only."),
    )
    balance_due_days = models.PositiveSmallIntegerField(
        _("balance due (days before arrival)"), default=30
    )
    free_cancellation_days = models.PositiveSmallIntegerField(
        _("free cancellation until (days before)"), default=2
    )
    is_published = models.BooleanField(_("published"), default=False)
    needs_participant_names = models.BooleanField(_("needs participant names"), default=False)

    class Meta:
        ordering = ["partner__name", "title_en"]
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        constraints = [
            models.CheckConstraint(
                name="offer_deposit_percent_range",
                condition=Q(deposit_percent__isnull=True)
                | Q(deposit_percent__gte=1, deposit_percent__lte=99),
            ),
            models.CheckConstraint(name="offer_price_positive", condition=Q(price_cents__gt=0)),
        ]
        indexes = [models.Index(fields=["partner", "is_published"], name="offer_partner_pub_idx")]

    def __str__(self) -> str:
        return self.title

    @property
    def title(self) -> str:
        if (translation.get_language() or "").startswith("fr") and self.title_fr:
            return self.title_fr
        return self.title_en

    @property
    def description(self) -> str:
        if (translation.get_language() or "").startswith("fr") and self.description_fr:
            return self.description_fr
        return self.description_en


class Session(models.Model):
    """A dated occurrence of an offer with a capacity (seats, units or rooms). ``seats_taken`` is
    only ever changed by conditional UPDATEs in the services; the check constraint is the last
    guard against overbooking."""

    offer = models.ForeignKey(
        Offer, verbose_name=_("offer"), on_delete=models.PROTECT, related_name="sessions"
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    capacity = models.PositiveIntegerField(_("capacity"))
    seats_taken = models.PositiveIntegerField(_("seats taken"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at", "pk"]
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        constraints = [
            models.CheckConstraint(
                name="session_not_overbooked", condition=Q(seats_taken__lte=F("capacity"))
            ),
            models.CheckConstraint(
                name="session_ends_after_start", condition=Q(ends_at__gt=F("starts_at"))
            ),
        ]
        indexes = [models.Index(fields=["offer", "starts_at"], name="session_offer_start_idx")]

    def __str__(self) -> str:
        return f"{self.offer} — {timezone.localtime(self.starts_at):%Y-%m-%d %H:%M}"

    @property
    def seats_left(self) -> int:
        return max(0, self.capacity - self.seats_taken)

    @property
    def is_bookable(self) -> bool:
        return self.starts_at > timezone.now() and self.seats_left > 0

    @property
    def nights(self) -> int:
        """Nights of a stay (at least one)."""
        start = timezone.localdate(self.starts_at)
        end = timezone.localdate(self.ends_at)
        return max(1, (end - start).days)


class Booking(TimeStampedModel):
    class Status(models.TextChoices):
        HELD = "held", _("Held, awaiting payment")
        CONFIRMED = "confirmed", _("Confirmed")
        CANCELLED = "cancelled", _("Cancelled")
        REFUNDED = "refunded", _("Refunded")
        CHECKED_IN = "checked_in", _("Checked in")
        COMPLETED = "completed", _("Completed")
        EXPIRED = "expired", _("Expired")

    class PaymentMethod(models.TextChoices):
        ON_SITE = "on_site", _("Pay on site")
        CARD = "card", _("Card (online)")

    class Channel(models.TextChoices):
        WEB = "web", _("Website")
        DESK = "desk", _("Booking desk")
        PHONE = "phone", _("Phone")

    # Statuses that hold seats.
    SEATED = (Status.HELD, Status.CONFIRMED, Status.CHECKED_IN, Status.COMPLETED)

    reference = models.CharField(_("reference"), max_length=16, unique=True)
    session = models.ForeignKey(
        Session, verbose_name=_("session"), on_delete=models.PROTECT, related_name="bookings"
    )
    # Kept from the offer so a partner's bookings are one indexed filter.
    partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("partner"),
        on_delete=models.PROTECT,
        related_name="bookings",
    )
    booker = models.ForeignKey(
        Guest, verbose_name=_("booker"), on_delete=models.PROTECT, related_name="bookings"
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    seats = models.PositiveIntegerField(_("seats"))
    adults = models.PositiveIntegerField(_("adults"), default=0)
    children = models.PositiveIntegerField(_("children"), default=0)
    total_cents = models.PositiveIntegerField(_("total (euro cents)"))
    deposit_cents = models.PositiveIntegerField(_("deposit (euro cents)"), default=0)
    paid_cents = models.PositiveIntegerField(_("paid (euro cents)"), default=0)
    refunded_cents = models.PositiveIntegerField(_("refunded (euro cents)"), default=0)
    balance_due_on = models.DateField(_("balance due on"), null=True, blank=True)
    balance_requested_at = models.DateTimeField(_("balance requested at"), null=True, blank=True)
    balance_reminded_at = models.DateTimeField(_("balance reminded at"), null=True, blank=True)
    balance_overdue_at = models.DateTimeField(
        _("balance overdue since"),
        null=True,
        blank=True,
        help_text=_("Set when the balance was not paid by its date: the booking desk follows up."),
    )
    refund_failed_at = models.DateTimeField(
        _("card refund failed at"),
        null=True,
        blank=True,
        help_text=_(
            "Set when Stripe refused or kept failing a refund: the booking desk refunds the "
            "guest another way."
        ),
    )
    payment_method = models.CharField(
        _("payment method"), max_length=16, choices=PaymentMethod.choices
    )
    hold_expires_at = models.DateTimeField(_("hold expires at"), null=True, blank=True)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    language = models.CharField(_("language"), max_length=8, default="en")
    contact_name = models.CharField(_("contact name"), max_length=310, blank=True)
    contact_email = models.EmailField(_("contact email"), blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=32, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    source_url = models.URLField(_("source page"), max_length=500, blank=True)
    cancel_reason = models.TextField(_("cancellation reason"), blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    checked_in_at = models.DateTimeField(_("checked in at"), null=True, blank=True)
    confirmation_sent_at = models.DateTimeField(_("confirmation sent at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("booking")
        verbose_name_plural = _("bookings")
        constraints = [
            models.CheckConstraint(name="booking_seats_positive", condition=Q(seats__gt=0)),
            models.CheckConstraint(
                name="booking_deposit_within_total",
                condition=Q(deposit_cents__lte=F("total_cents")),
            ),
            models.CheckConstraint(
                name="booking_hold_has_expiry",
                condition=~Q(status="held") | Q(hold_expires_at__isnull=False),
            ),
        ]
        indexes = [
            models.Index(fields=["partner", "-created_at"], name="booking_partner_idx"),
            models.Index(fields=["booker", "-created_at"], name="booking_booker_idx"),
            models.Index(fields=["status", "hold_expires_at"], name="booking_hold_idx"),
            models.Index(fields=["status", "balance_due_on"], name="booking_balance_idx"),
            # Segments' "booked with a partner in a season", often under NOT: a few partners'
            # bookings with session, status and booker from the index alone (a partner *kind*
            # goes through the season's sessions and booking_session_booker_idx). INCLUDE
            # is PostgreSQL's; elsewhere Django builds the index on the key columns only.
            models.Index(
                fields=["partner", "session"],
                include=["status", "booker"],
                name="booking_partner_session_idx",
            ),
            # "Booked an offer kind" and "stayed in a season" reach the bookings from their
            # sessions: the same covering columns keyed by session.
            models.Index(
                fields=["session"],
                include=["status", "booker", "partner"],
                name="booking_session_booker_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def balance_cents(self) -> int:
        """What is still to pay (refunds aside)."""
        return max(0, self.total_cents - self.paid_cents)

    @property
    def is_payable(self) -> bool:
        """Money is still expected: the booking stands (confirmed or checked in). A cancelled,
        refunded, expired or completed booking asks for nothing."""
        return self.status in (self.Status.CONFIRMED, self.Status.CHECKED_IN)

    @property
    def due_now_cents(self) -> int:
        """What the first card payment takes: the deposit, or everything."""
        return self.deposit_cents or self.total_cents


class Participant(models.Model):
    """A member of the party, resolved to a guest profile (names are required for lessons)."""

    booking = models.ForeignKey(
        Booking, verbose_name=_("booking"), on_delete=models.CASCADE, related_name="participants"
    )
    guest = models.ForeignKey(
        Guest,
        verbose_name=_("guest"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="booking_participations",
    )
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    is_child = models.BooleanField(_("child"), default=False)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("participant")
        verbose_name_plural = _("participants")

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Payment(TimeStampedModel):
    """Money in or out for a booking: a Checkout Session or payment link (card), a refund, or
    money taken at the desk."""

    class Kind(models.TextChoices):
        FULL = "full", _("Full payment")
        DEPOSIT = "deposit", _("Deposit")
        BALANCE = "balance", _("Balance")
        REFUND = "refund", _("Refund")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    booking = models.ForeignKey(
        Booking, verbose_name=_("booking"), on_delete=models.PROTECT, related_name="payments"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    provider = models.CharField(_("provider"), max_length=16)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    amount_cents = models.PositiveIntegerField(_("amount (euro cents)"))
    idempotency_key = models.CharField(max_length=100, blank=True)
    stripe_checkout_session_id = models.CharField(max_length=255, blank=True)
    stripe_payment_link_id = models.CharField(max_length=255, blank=True)
    stripe_payment_intent_id = models.CharField(max_length=255, blank=True)
    stripe_refund_id = models.CharField(max_length=255, blank=True)
    url = models.URLField(max_length=1000, blank=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [
            models.UniqueConstraint(
                fields=["stripe_checkout_session_id"],
                condition=~Q(stripe_checkout_session_id=""),
                name="payment_checkout_session_unique",
            ),
            models.UniqueConstraint(
                fields=["stripe_refund_id"],
                condition=~Q(stripe_refund_id=""),
                name="payment_refund_unique",
            ),
            models.UniqueConstraint(
                fields=["stripe_payment_link_id"],
                condition=~Q(stripe_payment_link_id=""),
                name="payment_link_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["stripe_payment_intent_id"], name="payment_intent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount_cents / 100:.2f} EUR ({self.status})"


class StripeEvent(models.Model):
    """A Stripe webhook event, stored first so that each event id is processed once."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=255, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("Stripe event")
        verbose_name_plural = _("Stripe events")

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class BookingEvent(models.Model):
    """The outbox: one row per booking state change, written in the transaction of the change.

    Ids increase in commit order (the writer serialises the insert-to-commit window, see
    ``bookings.services.booking_event_write``), so a consumer that remembers the last id it read
    and asks for the rows after it never misses or re-reads one.
    """

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        CONFIRMED = "confirmed", _("Confirmed")
        CANCELLED = "cancelled", _("Cancelled")
        REFUNDED = "refunded", _("Refunded")
        CHECKED_IN = "checked_in", _("Checked in")
        COMPLETED = "completed", _("Completed")
        EXPIRED = "expired", _("Expired")
        PAYMENT_RECEIVED = "payment_received", _("Payment received")
        BALANCE_REQUESTED = "balance_requested", _("Balance requested")
        BALANCE_REMINDED = "balance_reminded", _("Balance reminded")
        BALANCE_OVERDUE = "balance_overdue", _("Balance overdue")
        # The booking desk emailed the booker a payment link (data: url, by).
        PAYMENT_LINK_ISSUED = "payment_link_issued", _("Payment link issued")

    id = models.BigAutoField(primary_key=True)
    booking = models.ForeignKey(
        Booking, verbose_name=_("booking"), on_delete=models.PROTECT, related_name="events"
    )
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    status = models.CharField(_("status after"), max_length=16, choices=Booking.Status.choices)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("booking event")
        verbose_name_plural = _("booking events")

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.booking_id}"
