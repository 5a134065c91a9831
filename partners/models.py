"""Partner businesses of the destination, their staff, the interactions they log with guests and
the rules that say what each partner may see of a shared guest."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from destination.models import Guest, TimeStampedModel, Visibility


class Partner(TimeStampedModel):
    class Kind(models.TextChoices):
        TOURIST_OFFICE = "tourist_office", _("Tourist office")
        SKI_SCHOOL = "ski_school", _("Ski school")
        BOOKING_DESK = "booking_desk", _("Booking desk")
        LODGING = "lodging", _("Lodging")
        EQUIPMENT_RENTAL = "equipment_rental", _("Equipment rental")
        RESTAURANT = "restaurant", _("Restaurant")
        ACTIVITY = "activity", _("Activity")
        OTHER = "other", _("Other")

    name = models.CharField(_("name"), max_length=150)
    slug = models.SlugField(pgettext_lazy("url", "slug"), max_length=80, unique=True)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    is_active = models.BooleanField(_("active"), default=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    website = models.URLField(_("website"), blank=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("partner")
        verbose_name_plural = _("partners")

    def __str__(self) -> str:
        return self.name

    @property
    def is_steward(self) -> bool:
        """The tourist office stewards the destination's shared data."""
        return self.kind == self.Kind.TOURIST_OFFICE

    @property
    def books_for_all(self) -> bool:
        """The tourist office and the booking desk book every partner's offers: they see every
        offer and every booking (``BOOKS_FOR_ALL_KINDS`` for queries)."""
        return self.kind in BOOKS_FOR_ALL_KINDS


# Partners that book for everyone (see ``Partner.books_for_all``).
BOOKS_FOR_ALL_KINDS = (Partner.Kind.TOURIST_OFFICE, Partner.Kind.BOOKING_DESK)


class MembershipQuerySet(models.QuerySet["Membership"]):
    def active(self) -> MembershipQuerySet:
        """Active memberships of active partners: the ones that let a staff member act."""
        return self.filter(is_active=True, partner__is_active=True)


class Membership(TimeStampedModel):
    """A staff account acting for a partner, with a role there."""

    objects = MembershipQuerySet.as_manager()

    class Role(models.TextChoices):
        MANAGER = "manager", _("Manager")
        AGENT = "agent", _("Agent")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.AGENT)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "partner"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.partner} ({self.role})"


class PartnerGuestLink(models.Model):
    """A partner has a relationship with a guest, proved by evidence: a booking with it (or made
    by it, for the booking desk), the guest's own consent given with proof, a profile it created
    or imported from its own customer file, or a staff member who typed a contact point of the
    guest that matched. ``evidence`` says how it was proved (see ``partners.access``).

    This is what "the partner received the data" means for sharing rules and for objections.
    A RESOLVED row (an API resolution that matched a contact point the partner sent) is recorded
    but is not a relationship: it opens nothing until real evidence upgrades it.
    """

    class Reason(models.TextChoices):
        CREATED = "created", _("Created the profile")
        IMPORTED = "imported", _("Imported")
        # Before evidence was required, one logged interaction related any partner; kept for
        # the rows written then. New interactions need a relationship first.
        INTERACTION = "interaction", _("Logged an interaction")
        BOOKING = "booking", _("Booking")
        CONSENT = "consent", _("Consent given to this partner")
        CONTACT_PROOF = "contact_proof", _("Staff typed the guest's email or phone and it matched")
        RESOLVED = "resolved", _("Matched through the API (not a relationship)")

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="guest_links")
    guest = models.ForeignKey(Guest, on_delete=models.CASCADE, related_name="partner_links")
    reason = models.CharField(
        _("first reason"),
        max_length=16,
        choices=Reason.choices,
        help_text=_(
            "How the relationship began. Only evidence relates a partner to a guest: a booking, "
            "the guest's consent with proof, a profile it created or imported from its own "
            "customer file, or a contact point its staff typed and that matched. An API match "
            "alone (resolved) opens nothing."
        ),
    )
    evidence = models.JSONField(
        _("evidence"),
        default=dict,
        blank=True,
        help_text=_(
            "How the relationship was proved: the booking, the consent proof, the staff member "
            "and which contact point matched, the API key."
        ),
    )
    has_booked = models.BooleanField(_("has booked"), default=False)
    first_seen_at = models.DateTimeField(_("first seen"))
    last_seen_at = models.DateTimeField(_("last seen"))

    class Meta:
        verbose_name = _("partner relationship")
        verbose_name_plural = _("partner relationships")
        constraints = [
            models.UniqueConstraint(fields=["partner", "guest"], name="partner_guest_link_unique")
        ]
        indexes = [models.Index(fields=["guest", "partner"], name="partner_link_guest_idx")]

    def __str__(self) -> str:
        return f"{self.partner_id} - {self.guest_id}"


class AccessFlag(models.Model):
    """An unusual pattern of gaining access, flagged to the tourist office's managers (the portal
    home lists the open ones to them; operators see them in the admin). One row per (kind, staff
    member or API key, day): the first time the day's limit is reached; further attempts that
    day are refused and counted on the same row."""

    class Kind(models.TextChoices):
        MANY_RELATIONSHIPS = "many_relationships", _("A staff member proved many new guests")
        MANY_PROOF_FAILURES = "many_proof_failures", _("A staff member typed many wrong contacts")
        MANY_RESOLVES = "many_resolves", _("An API key matched many existing guests")

    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="access_flags")
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff member"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    api_key = models.ForeignKey(
        "PartnerApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    day = models.DateField(_("day"))
    limit = models.PositiveIntegerField(_("limit"))
    refused = models.PositiveIntegerField(_("attempts refused"), default=0)
    created_at = models.DateTimeField(_("flagged at"), auto_now_add=True)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("access flag")
        verbose_name_plural = _("access flags")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["day", "kind"], name="access_flag_day_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.partner} {self.day}"


class Interaction(TimeStampedModel):
    """Something a partner's staff did with or heard from a guest."""

    class Kind(models.TextChoices):
        CALL = "call", _("Call")
        EMAIL = "email", _("Email")
        DESK_VISIT = "desk_visit", _("Desk visit")
        LESSON_FEEDBACK = "lesson_feedback", _("Lesson feedback")
        REQUEST = "request", _("Request")
        COMPLAINT = "complaint", _("Complaint")
        NOTE = "note", pgettext_lazy("interaction", "Note")

    class Channel(models.TextChoices):
        PHONE = "phone", _("Phone")
        EMAIL = "email", _("Email")
        IN_PERSON = "in_person", _("In person")
        SMS = "sms", _("SMS")
        CHAT = "chat", _("Chat")
        WEB = "web", _("Web")

    guest = models.ForeignKey(Guest, on_delete=models.CASCADE, related_name="interactions")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="interactions")
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff member"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="interactions",
    )
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    summary = models.TextField(_("summary"), max_length=4000)
    occurred_at = models.DateTimeField(_("occurred at"))
    visibility = models.CharField(
        _("visibility"), max_length=8, choices=Visibility.choices, default=Visibility.SHARED
    )

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        indexes = [
            models.Index(fields=["guest", "-occurred_at"], name="interaction_guest_idx"),
            models.Index(fields=["partner", "-occurred_at"], name="interaction_partner_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_at:%Y-%m-%d}"


class Section(models.TextChoices):
    """Parts of a guest profile that a sharing rule can open to a partner."""

    IDENTITY = "identity", _("Name")
    DEMOGRAPHICS = "demographics", _("Country and language")
    BIRTH_DATE = "birth_date", _("Birth date")
    CONTACT_HINT = "contact_hint", _("Masked email and phone, to tell people apart")
    CONTACT = "contact", _("Email addresses and phone numbers")
    INTERESTS = "interests", _("Interests and labels")
    HOUSEHOLD = "household", _("Household")
    CONSENTS = "consents", _("Consents")
    SHARED_INTERACTIONS = "shared_interactions", _("Other partners' shared interactions")
    BOOKINGS = "bookings", _("Other partners' bookings")
    MESSAGES = "messages", _("Emails sent by the destination")


class SharingRule(models.Model):
    """What a partner may see of a guest, by how well it knows the guest.

    A partner always sees what it collected itself (its own interactions, private or not, and its
    own bookings). Beyond that, the rule for its relationship level opens sections. A rule for a
    specific partner kind wins over the rule for all kinds. Partner-private data of another partner
    is never opened by any rule.
    """

    class Level(models.TextChoices):
        UNRELATED = "unrelated", _("No relationship")
        RELATED = "related", _("Has booked or been served by the partner")
        CONSENTED = "consented", _("Consented to sharing the profile with the partner")

    level = models.CharField(_("level"), max_length=16, choices=Level.choices)
    partner_kind = models.CharField(
        _("partner kind"),
        max_length=32,
        choices=Partner.Kind.choices,
        blank=True,
        help_text=_("Empty for every kind of partner."),
    )
    sections = models.JSONField(_("sections"), default=list)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("sharing rule")
        verbose_name_plural = _("sharing rules")
        constraints = [
            models.UniqueConstraint(fields=["level", "partner_kind"], name="sharing_rule_unique"),
            models.CheckConstraint(
                name="sharing_rule_sections_list",
                condition=Q(sections__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} / {self.partner_kind or '*'}"


class PartnerApiKey(models.Model):
    """A key a partner's system uses to call the partner API. Only a SHA-256 hash is stored;
    the full key is shown once, when it is created (``partners.api_keys``)."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(_("name"), max_length=100)
    # The key's first characters, stored in clear to find the row and to tell keys apart.
    prefix = models.CharField(_("prefix"), max_length=8, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    revoked_at = models.DateTimeField(pgettext_lazy("api key", "revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("partner API key")
        verbose_name_plural = _("partner API keys")

    def __str__(self) -> str:
        return f"{self.partner} — {self.name} ({self.prefix}…)"
