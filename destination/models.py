"""The destination-wide shared core: staff accounts, the destination itself, the guest profile,
its contact points, consents (a ledger with proof), identity-resolution bookkeeping, the 360°
timeline and the audit log.

Partner businesses, their staff memberships, interactions and sharing rules live in ``partners``.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_countries.fields import CountryField
from phonenumber_field.modelfields import PhoneNumberField
from wagtail.contrib.settings.models import BaseGenericSetting, register_setting


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


# --- Staff accounts -------------------------------------------------------------------------


class StaffUserManager(UserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra_fields: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(  # type: ignore[override]  # email replaces username as the first argument
        self, email: str, password: str | None = None, **extra_fields: Any
    ) -> User:
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(  # type: ignore[override]  # email replaces username
        self, email: str, password: str | None = None, **extra_fields: Any
    ) -> User:
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person who signs in: partner staff, the marketing team, operators. Email is the login."""

    username = None  # type: ignore[assignment]  # removes AbstractUser.username: email signs in
    email = models.EmailField(_("email address"), unique=True)
    language = models.CharField(
        _("preferred language"), max_length=8, choices=settings.LANGUAGES, blank=True
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects = StaffUserManager()  # type: ignore[misc]  # the manager of an email-keyed user

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    def __str__(self) -> str:
        return self.get_full_name() or self.email


# --- The destination ------------------------------------------------------------------------


# The brand colours go into inline styles of the site and of emails: only "#rgb" or "#rrggbb".
# The templates' ``css_colour`` filter checks rows saved before the validator with the same regex.
HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")
hex_colour_validator = RegexValidator(
    HEX_COLOUR.pattern,
    message=_("Enter a hex colour such as #0b5cad."),
    code="invalid_colour",
)


@register_setting(icon="site")
class Destination(BaseGenericSetting):
    """The destination and its brand basics, defined once and edited in the Wagtail admin."""

    name = models.CharField(_("name"), max_length=120, default="Val Neige")
    brand_name = models.CharField(_("brand name"), max_length=120, default="Live United")
    languages = models.CharField(
        _("languages"),
        max_length=64,
        default="fr,en",
        help_text=_("Comma-separated language codes, the default first."),
    )
    timezone = models.CharField(_("time zone"), max_length=64, default="Europe/Paris")
    primary_color = models.CharField(
        _("primary colour"), max_length=7, default="#0b5cad", validators=[hex_colour_validator]
    )
    accent_color = models.CharField(
        _("accent colour"), max_length=7, default="#f2a900", validators=[hex_colour_validator]
    )
    website = models.URLField(_("website"), blank=True)
    contact_email = models.EmailField(_("contact email"), blank=True)
    # The brand, defined once for the website, the partner portal and the emails.
    logo = models.ForeignKey(
        "wagtailimages.Image",
        verbose_name=_("logo"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    instagram_url = models.URLField(_("Instagram"), blank=True)
    facebook_url = models.URLField(_("Facebook"), blank=True)
    youtube_url = models.URLField(_("YouTube"), blank=True)
    legal_footer = models.TextField(
        _("legal footer"), blank=True, help_text=_("Shown at the foot of the website and emails.")
    )
    default_sender_name = models.CharField(_("default sender name"), max_length=120, blank=True)
    default_sender_email = models.EmailField(_("default sender email"), blank=True)

    # Every page shows the logo: load it with the settings (one query, not two).
    select_related = ["logo"]

    class Meta:
        verbose_name = _("destination")

    def __str__(self) -> str:
        return self.name

    @property
    def language_list(self) -> list[str]:
        return [code.strip() for code in self.languages.split(",") if code.strip()]

    @property
    def default_language(self) -> str:
        codes = self.language_list
        return codes[0] if codes else settings.LANGUAGE_CODE


# --- The guest profile ----------------------------------------------------------------------


class Tag(models.Model):
    """An interest the guest told us about (skiing, family...) or a label staff put on them."""

    class Category(models.TextChoices):
        INTEREST = "interest", _("Interest")
        LABEL = "label", _("Label")

    slug = models.SlugField(pgettext_lazy("url", "slug"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=100)
    category = models.CharField(
        _("category"), max_length=16, choices=Category.choices, default=Category.INTEREST
    )

    class Meta:
        ordering = ["name"]
        verbose_name = pgettext_lazy("guest", "tag")
        verbose_name_plural = pgettext_lazy("guest", "tags")

    def __str__(self) -> str:
        return self.name


class Household(TimeStampedModel):
    """People who travel together (a family, a couple, a group of friends)."""

    name = models.CharField(_("name"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")

    def __str__(self) -> str:
        return self.name or f"Household #{self.pk}"


class GuestQuerySet(models.QuerySet["Guest"]):
    def active(self) -> GuestQuerySet:
        return self.filter(status=Guest.Status.ACTIVE)


class Guest(TimeStampedModel):
    """One person, shared by every partner of the destination."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        MERGED = "merged", _("Merged into another guest")
        ERASED = "erased", _("Erased")

    class Source(models.TextChoices):
        DESK = "desk", _("Desk")
        BOOKING = "booking", _("Booking")
        SIGNUP = "signup", _("Signup")
        IMPORT = "import", pgettext_lazy("source", "Import")
        API = "api", _("API")
        DEMO = "demo", _("Demo data")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    # Lower-case, accent-free "first last", kept by the services for search and matching.
    name_folded = models.CharField(max_length=310, blank=True, editable=False)
    language = models.CharField(_("language"), max_length=8, blank=True)
    country = CountryField(_("country"), blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    household = models.ForeignKey(
        Household,
        verbose_name=_("household"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
    )
    tags = models.ManyToManyField(
        Tag, verbose_name=pgettext_lazy("guest", "tags"), blank=True, related_name="guests"
    )
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    source_detail = models.CharField(_("source detail"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_by_partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("created by partner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_from",
    )
    merged_at = models.DateTimeField(_("merged at"), null=True, blank=True)
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True)
    # Last real contact (a booking, a click, a desk interaction; not an email open): retention.
    last_contact_at = models.DateTimeField(_("last contact"), null=True, blank=True)

    objects = GuestQuerySet.as_manager()

    class Meta:
        verbose_name = _("guest")
        verbose_name_plural = _("guests")
        # The complete subject-access export (other partners' private notes included): the
        # destination's data-protection officer, through the group migration 0009 creates.
        permissions = [
            (
                "export_complete_guest_data",
                _("Can export everything held about a guest (subject-access request)"),
            )
        ]
        constraints = [
            models.CheckConstraint(
                name="guest_merged_into_iff_merged",
                condition=(
                    Q(status="merged", merged_into__isnull=False)
                    | (~Q(status="merged") & Q(merged_into__isnull=True))
                ),
            ),
            models.CheckConstraint(
                name="guest_not_merged_into_self", condition=~Q(merged_into=models.F("id"))
            ),
        ]
        indexes = [
            models.Index(fields=["status", "last_contact_at"], name="guest_status_contact_idx"),
            models.Index(fields=["birth_date"], name="guest_birth_date_idx"),
            models.Index(fields=["name_folded"], name="guest_name_folded_idx"),
            # Segments with a language rule: the active guests' ids of a few languages from the
            # index alone, instead of a scan of the whole (wide) guest table.
            models.Index(
                fields=["language", "id"],
                condition=Q(status="active"),
                name="guest_active_language_idx",
            ),
        ]

    def __str__(self) -> str:
        if self.status == self.Status.ERASED:
            return f"Erased guest #{self.pk}"
        return self.full_name or f"Guest #{self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class GuestEmail(models.Model):
    guest = models.ForeignKey(Guest, on_delete=models.CASCADE, related_name="emails")
    email = models.EmailField(_("email"), max_length=254)
    # Lower-cased and stripped: the exact-match key of identity resolution.
    email_normalized = models.CharField(max_length=254, db_index=True, editable=False)
    is_primary = models.BooleanField(pgettext_lazy("contact point", "primary"), default=False)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("email address")
        verbose_name_plural = _("email addresses")
        ordering = ["-is_primary", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["guest", "email_normalized"], name="guest_email_unique_per_guest"
            ),
            models.UniqueConstraint(
                fields=["guest"], condition=Q(is_primary=True), name="guest_email_one_primary"
            ),
        ]

    def __str__(self) -> str:
        return self.email


class GuestPhone(models.Model):
    guest = models.ForeignKey(Guest, on_delete=models.CASCADE, related_name="phones")
    # Stored E.164 (PHONENUMBER_DB_FORMAT), which is also the exact-match key.
    phone = PhoneNumberField(_("phone"), db_index=True)
    is_primary = models.BooleanField(pgettext_lazy("contact point", "primary"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("phone number")
        verbose_name_plural = _("phone numbers")
        ordering = ["-is_primary", "id"]
        constraints = [
            models.UniqueConstraint(fields=["guest", "phone"], name="guest_phone_unique_per_guest"),
            models.UniqueConstraint(
                fields=["guest"], condition=Q(is_primary=True), name="guest_phone_one_primary"
            ),
        ]

    def __str__(self) -> str:
        return str(self.phone)


class GuestExternalRef(models.Model):
    """An id a source system gave this person (an import file, a partner's booking engine).

    Unique per source, so re-running the same import resolves to the same guest and changes nothing.
    """

    guest = models.ForeignKey(Guest, on_delete=models.CASCADE, related_name="external_refs")
    source = models.CharField(_("source"), max_length=64)
    external_id = models.CharField(_("external id"), max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("external reference")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="guest_external_ref_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id}"


# --- Identity resolution bookkeeping -------------------------------------------------------


class ResolutionKey(models.Model):
    """One row per normalised email or phone ever resolved ("email:a@b.c", "phone:+336...").

    Resolution inserts the keys it needs (the unique constraint makes that race-free) and locks
    them in sorted order before looking for a guest, so two simultaneous resolutions of the same
    new email serialise on the same row and create one guest, not two. Emails may be shared by a
    family, so the guest tables themselves cannot carry that uniqueness.
    """

    key = models.CharField(max_length=300, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key


class MatchKey(models.Model):
    """Blocking keys for fuzzy candidate search (phonetic name keys, birth date + initial...)."""

    guest = models.ForeignKey(Guest, on_delete=models.CASCADE, related_name="match_keys")
    key = models.CharField(max_length=128)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["guest", "key"], name="match_key_unique_per_guest")
        ]
        # (key, guest): candidate search reads both from the index alone (index-only scan).
        indexes = [models.Index(fields=["key", "guest"], name="match_key_lookup_idx")]

    def __str__(self) -> str:
        return self.key


class PossibleDuplicate(TimeStampedModel):
    """A pair of guests that may be one person, waiting for a human decision."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        MERGED = "merged", _("Merged")
        DISMISSED = "dismissed", _("Not the same person")

    # Stored with guest_a.id < guest_b.id so a pair exists once.
    guest_a = models.ForeignKey(Guest, on_delete=models.CASCADE, related_name="+")
    guest_b = models.ForeignKey(Guest, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField(_("score"))
    reasons = models.JSONField(_("reasons"), default=list, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.OPEN
    )
    detected_by = models.CharField(_("detected by"), max_length=64, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("possible duplicate")
        verbose_name_plural = _("possible duplicates")
        constraints = [
            models.UniqueConstraint(fields=["guest_a", "guest_b"], name="possible_duplicate_pair"),
            models.CheckConstraint(
                name="possible_duplicate_ordered", condition=Q(guest_a__lt=models.F("guest_b"))
            ),
        ]
        indexes = [models.Index(fields=["status", "-score"], name="possible_dup_queue_idx")]

    def __str__(self) -> str:
        return f"{self.guest_a_id} ~ {self.guest_b_id} ({self.score:.2f})"


class GuestMerge(models.Model):
    """A merge, with what is needed to undo it: both guests' fields before, the rows moved and
    the rows dropped as exact duplicates of the survivor's."""

    survivor = models.ForeignKey(Guest, on_delete=models.PROTECT, related_name="merges_received")
    merged = models.ForeignKey(Guest, on_delete=models.PROTECT, related_name="merges_given")
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acting_partner = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    field_choices = models.JSONField(default=dict, blank=True)
    survivor_before = models.JSONField(default=dict)
    merged_before = models.JSONField(default=dict)
    moved = models.JSONField(default=dict)
    dropped = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("guest merge")
        verbose_name_plural = _("guest merges")

    def __str__(self) -> str:
        return f"{self.merged_id} -> {self.survivor_id}"


# --- Consent: a ledger of proofs ------------------------------------------------------------


class Purpose(models.TextChoices):
    NEWSLETTER = "newsletter", _("Destination newsletter")
    PARTNER_OFFERS = "partner_offers", _("Offers from a partner")
    PROFILE_SHARING = "profile_sharing", _("Sharing the profile with a partner")
    PROFILING = "profiling", _("Profiling for personalisation")


# Purposes given per partner, and purposes given per channel.
PARTNER_PURPOSES = frozenset({Purpose.PARTNER_OFFERS, Purpose.PROFILE_SHARING})
CHANNEL_PURPOSES = frozenset({Purpose.NEWSLETTER, Purpose.PARTNER_OFFERS})


class Channel(models.TextChoices):
    NONE = "", _("Not a contact channel")
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    POST = "post", _("Post")


class ConsentWording(models.Model):
    """The exact text shown to the person. Never edited: a change is a new version."""

    purpose = models.CharField(_("purpose"), max_length=32, choices=Purpose.choices)
    version = models.CharField(_("version"), max_length=64)
    language = models.CharField(_("language"), max_length=8)
    text = models.TextField(_("text"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("consent wording")
        verbose_name_plural = _("consent wordings")
        constraints = [
            models.UniqueConstraint(
                fields=["purpose", "version", "language"], name="consent_wording_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.purpose} {self.version} ({self.language})"


class ConsentProof(models.Model):
    """One act of the person (a form ticked, a desk conversation, an import line, an API call).

    It proves every ledger entry it produced: when, how, the wording shown, the partners named to
    the person and who recorded it.
    """

    class Method(models.TextChoices):
        FORM = "form", _("Web form")
        DESK = "desk", _("At a desk")
        IMPORT = "import", pgettext_lazy("source", "Import")
        API = "api", _("API")
        EMAIL_LINK = "email_link", _("Link in an email")
        SYSTEM = "system", _("System")

    method = models.CharField(_("method"), max_length=16, choices=Method.choices)
    wording = models.ForeignKey(
        ConsentWording,
        verbose_name=_("wording shown"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="proofs",
    )
    named_partners = models.ManyToManyField(
        "partners.Partner", verbose_name=_("partners named"), blank=True, related_name="+"
    )
    is_objection = models.BooleanField(
        _("objection"),
        default=False,
        help_text=_("An objection reaches every partner that received the data."),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    recorded_by_partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("recorded by partner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Where and how: page URL, IP address, user agent, import file and line, API client...
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)
    occurred_at = models.DateTimeField(_("given at"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("consent proof")
        verbose_name_plural = _("consent proofs")

    def __str__(self) -> str:
        return f"{self.get_method_display()} {self.occurred_at:%Y-%m-%d %H:%M}"


class ConsentEvent(models.Model):
    """An append-only ledger entry: a grant or a withdrawal for one purpose/partner/channel."""

    guest = models.ForeignKey(Guest, on_delete=models.CASCADE, related_name="consent_events")
    purpose = models.CharField(_("purpose"), max_length=32, choices=Purpose.choices)
    partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("partner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="consent_events",
    )
    channel = models.CharField(
        _("channel"), max_length=8, choices=Channel.choices, blank=True, default=""
    )
    granted = models.BooleanField(_("granted"))
    proof = models.ForeignKey(ConsentProof, on_delete=models.PROTECT, related_name="events")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("consent event")
        verbose_name_plural = _("consent events")
        indexes = [
            models.Index(fields=["guest", "purpose", "created_at"], name="consent_event_guest_idx")
        ]

    def __str__(self) -> str:
        verb = "granted" if self.granted else "withdrawn"
        return f"{self.purpose}/{self.partner_id or '-'}/{self.channel or '-'} {verb}"


class ConsentState(models.Model):
    """The current state per guest/purpose/partner/channel, kept in step with the ledger in the
    same transaction, so "may we email this person?" is one indexed query."""

    guest = models.ForeignKey(Guest, on_delete=models.CASCADE, related_name="consent_states")
    purpose = models.CharField(max_length=32, choices=Purpose.choices)
    partner = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices, blank=True, default="")
    granted = models.BooleanField()
    event = models.ForeignKey(ConsentEvent, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("consent state")
        verbose_name_plural = _("consent states")
        constraints = [
            models.UniqueConstraint(
                fields=["guest", "purpose", "channel"],
                condition=Q(partner__isnull=True),
                name="consent_state_unique_destination",
            ),
            models.UniqueConstraint(
                fields=["guest", "purpose", "partner", "channel"],
                condition=Q(partner__isnull=False),
                name="consent_state_unique_partner",
            ),
        ]
        indexes = [
            models.Index(
                fields=["purpose", "channel", "granted"], name="consent_state_segment_idx"
            ),
            # Segments' "granted consent for (purpose, channel, partner)": an index-only scan
            # that yields the guest ids, with no heap visit per state (benchmarks (a)).
            models.Index(
                fields=["purpose", "channel", "partner", "guest"],
                condition=Q(granted=True),
                name="consent_state_granted_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.guest_id} {self.purpose}/{self.partner_id or '-'}/{self.channel or '-'}"


# --- The 360° timeline and the audit log ----------------------------------------------------


class Visibility(models.TextChoices):
    SHARED = "shared", _("Shared with the destination")
    PRIVATE = "private", _("Private to the partner")


class TimelineEvent(models.Model):
    """One line of a guest's 360° story, written by the service that made it happen.

    Interactions, bookings, messages, consent changes and merges all land here, so the guest page
    reads one indexed table whatever the number of entries. ``partner`` and ``visibility`` let the
    access layer show each partner only what it may see.
    """

    class Kind(models.TextChoices):
        INTERACTION = "interaction", _("Interaction")
        BOOKING = "booking", _("Booking")
        MESSAGE = "message", _("Email")
        CONSENT = "consent", _("Consent")
        SIGNUP = "signup", _("Signup")
        PROFILE = "profile", pgettext_lazy("timeline", "Profile")
        MERGE = "merge", _("Merge")

    guest = models.ForeignKey(Guest, on_delete=models.CASCADE, related_name="timeline")
    occurred_at = models.DateTimeField(_("occurred at"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("partner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    visibility = models.CharField(
        _("visibility"), max_length=8, choices=Visibility.choices, default=Visibility.SHARED
    )
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("details"), blank=True)
    data = models.JSONField(default=dict, blank=True)
    content_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    object_id = models.PositiveBigIntegerField(null=True, blank=True)
    source_object = GenericForeignKey("content_type", "object_id")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("timeline event")
        verbose_name_plural = _("timeline events")
        indexes = [
            models.Index(fields=["guest", "-occurred_at", "-id"], name="timeline_guest_idx"),
            models.Index(fields=["content_type", "object_id"], name="timeline_source_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class AuditEntry(models.Model):
    """Who viewed, changed, exported, merged or erased a guest. Never moved by a merge."""

    class Action(models.TextChoices):
        VIEW = "view", _("Viewed")
        CREATE = "create", pgettext_lazy("audit", "Created")
        CHANGE = "change", _("Changed")
        EXPORT = "export", _("Exported")
        MERGE = "merge", _("Merged")
        UNMERGE = "unmerge", _("Merge undone")
        ERASE = "erase", _("Erased")
        CONSENT = "consent", _("Consent recorded")

    guest = models.ForeignKey(Guest, on_delete=models.PROTECT, related_name="audit_entries")
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    acting_partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("acting partner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [models.Index(fields=["guest", "-created_at"], name="audit_guest_idx")]

    def __str__(self) -> str:
        return f"{self.action} guest {self.guest_id}"


class LinkageModel(models.Model):
    """A trained identity-resolution model, versioned: Splink's settings with the m and u
    probabilities estimated from the guest base, the lookups the real-time scorer needs, the
    thresholds chosen on the labelled set, and what it was trained on. Rows are never edited:
    retraining adds a version, and decisions record the version that took them, so a new model
    never changes past decisions."""

    version = models.PositiveIntegerField(_("version"), unique=True)
    model_settings = models.JSONField(_("model settings"))
    tf_tables = models.JSONField(_("term frequencies"), default=dict, blank=True)
    first_name_counts = models.JSONField(_("first-name counts"), default=dict, blank=True)
    auto_match_weight = models.FloatField(_("automatic-merge threshold (match weight)"))
    review_match_weight = models.FloatField(_("review threshold (match weight)"))
    training_data = models.JSONField(_("training data"), default=dict, blank=True)
    trained_at = models.DateTimeField(_("trained at"), db_index=True)
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("trained by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("linkage model")
        verbose_name_plural = _("linkage models")
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"linkage model v{self.version}"
