"""Newsletter signup with double opt-in: the services behind the footer form and the signup block.

Moved here from ``content.newsletter`` (subscriptions, unsubscribes and preferences all live in
newsletters). The table stays content's ``NewsletterSignup`` (no migration: pending rows are
untouched), the URL paths and names stay ``content:newsletter_*`` and the token salt stays
``content.newsletter.confirm``, so every confirmation link already in an inbox still works.

1. ``newsletter_signup_request`` keeps the form's evidence in one pending ``NewsletterSignup``
   per address (a repeat updates it) and asks for a confirmation email, at most once per
   ``RESEND_WINDOW`` and ``CONFIRM_MAX_SENDS`` times per ``CONFIRM_MAX_AGE`` per address; an
   address already subscribed gets nothing. Each IP address may sign up ``IP_LIMIT`` times per
   ``IP_WINDOW`` (counted in the cache); over that, nothing is stored.
2. The email carries a signed link that expires after ``CONFIRM_MAX_AGE``. It goes through the
   newsletters pipeline like every email to a guest: a TRANSACTIONAL ``Message`` (source
   "signup", template ``signup_confirmation``, one row per request), written in the signup's
   transaction and sent by the pipeline's task after commit. There is no guest yet (nothing of
   the person reaches the CRM before the click), so the message has none and writes no timeline
   entry when sent; the click attaches the signup's messages to the guest it resolves (GDPR
   export, erasure), and the expiry clean-up deletes those of signups never confirmed.
3. ``newsletter_signup_confirm`` (the person's click) resolves the address to a guest, marks the
   address verified, adds the interests, and grants the newsletter consent in the ledger, proved
   by the click and carrying the form's evidence (page, wording version, time, address).

The consent is active only from step 3: before it, no guest row, no ledger entry, no use. The
confirmed subscription then enrols the guest in the welcome journeys.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.db.models.functions import Coalesce, Greatest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail.models import Site

from content.models import NewsletterSignup, Theme
from destination.consent_selectors import consent_is_granted, guests_with_consent
from destination.errors import DomainError
from destination.models import (
    Channel,
    ConsentProof,
    ConsentWording,
    Destination,
    Guest,
    GuestEmail,
    Purpose,
    Tag,
    TimelineEvent,
)
from destination.services.consent import (
    consent_record,
    consent_wording_create,
    consent_wording_current,
)
from destination.services.resolution import PersonData, guest_resolve
from destination.services.timeline import timeline_add
from newsletters.journeys import journey_subscription_enrol
from newsletters.models import Message
from newsletters.services import message_enqueue

CONFIRM_MAX_AGE = dt.timedelta(days=getattr(settings, "NEWSLETTER_CONFIRM_DAYS", 3))
RESEND_WINDOW = dt.timedelta(minutes=getattr(settings, "NEWSLETTER_RESEND_MINUTES", 15))
# Emails one address may get per CONFIRM_MAX_AGE: a form anyone can fill must not let a stranger
# fill someone's mailbox with confirmation requests.
CONFIRM_MAX_SENDS = getattr(settings, "NEWSLETTER_CONFIRM_MAX_SENDS", 3)
IP_LIMIT = getattr(settings, "NEWSLETTER_IP_LIMIT", 5)
IP_WINDOW = dt.timedelta(minutes=getattr(settings, "NEWSLETTER_IP_WINDOW_MINUTES", 10))
WORDING_CACHE_SECONDS = 300

# Kept from content.newsletter: a new salt would void every link already in an inbox.
TOKEN_SALT = "content.newsletter.confirm"  # noqa: S105 (a signing salt, not a secret)
CONFIRMATION_TEMPLATE = "signup_confirmation"

DEFAULT_WORDING = gettext_lazy(
    "I would like to receive the %(brand)s newsletter by email: stories, events and offers "
    "from the destination. I can unsubscribe at any time with the link in every email."
)


LINK_NOT_VALID_OR_USED = gettext_lazy(
    "This confirmation link is not valid or has already been used. Please sign up again."
)


class NewsletterError(DomainError):
    """The signup or its confirmation was refused; ``code`` says why ("rate_limited",
    "invalid_link"...), the message is for people. Raised as ``NewsletterError(message,
    code=...)``: the one error shape of ``destination.errors``."""


# --- Wording ---------------------------------------------------------------------------------


def newsletter_wording(language: str) -> ConsentWording:
    """The current newsletter wording in ``language``; written from the default text the first
    time. Cached briefly: the footer shows it on every page, and a wording is never edited (a
    new version is a new row, picked up within ``WORDING_CACHE_SECONDS``)."""
    key = f"content:newsletter:wording:{language}"
    cached: ConsentWording | None = cache.get(key)
    if cached is not None:
        return cached
    wording = consent_wording_current(purpose=Purpose.NEWSLETTER, language=language)
    if wording is None:
        brand = Destination.load()
        with translation.override(language):
            text = str(DEFAULT_WORDING) % {"brand": brand.brand_name}
        wording = consent_wording_create(purpose=Purpose.NEWSLETTER, language=language, text=text)
    cache.set(key, wording, WORDING_CACHE_SECONDS)
    return wording


# --- Rate limits -----------------------------------------------------------------------------


def _ip_allowed(ip_address: str | None) -> bool:
    """Counts a signup from this address; False once it made ``IP_LIMIT`` in the window."""
    if not ip_address:
        return True
    key = f"content:newsletter:ip:{ip_address}"
    seconds = int(IP_WINDOW.total_seconds())
    if cache.add(key, 1, seconds):
        return True
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, seconds)
        return True
    return count <= IP_LIMIT


def _email_key(email_normalized: str) -> str:
    digest = hashlib.sha256(email_normalized.encode()).hexdigest()[:32]
    return f"content:newsletter:email:{digest}"


# --- Signup ----------------------------------------------------------------------------------


def newsletter_signup_request(
    *,
    email: str,
    language: str,
    interests: list[str],
    wording: ConsentWording,
    page_url: str = "",
    ip_address: str | None = None,
    user_agent: str = "",
) -> tuple[NewsletterSignup | None, bool]:
    """Record a signup awaiting confirmation; returns it and whether a confirmation email is
    queued. An address already subscribed gets nothing (no row, no email): ``(None, False)``.
    Inputs come validated from ``NewsletterSignupForm``."""
    if wording.purpose != Purpose.NEWSLETTER:
        raise NewsletterError(_("This wording is for another purpose."), code="wording")
    if not _ip_allowed(ip_address):
        raise NewsletterError(
            _("Too many signups from your connection. Please try again in a few minutes."),
            code="rate_limited",
        )
    normalized = email.strip().lower()
    if _address_subscribed(normalized):
        # Nothing to confirm, nothing stored, no email (a stranger could otherwise mail a
        # subscriber at will); the visitor sees the same page as for any signup, so the form
        # does not tell who is subscribed.
        return None, False
    fields: dict[str, Any] = {
        "email": email.strip(),
        "language": language,
        "interests": sorted(set(interests) & set(Theme.values)),
        "wording": wording,
        "page_url": page_url[:500],
        "ip_address": ip_address or None,
        "user_agent": user_agent[:300],
    }
    with transaction.atomic():
        signup = _pending_for_update(normalized)
        if signup is None:
            try:
                with transaction.atomic():
                    signup = NewsletterSignup.objects.create(email_normalized=normalized, **fields)
            except IntegrityError:  # a simultaneous signup of the same address won
                signup = _pending_for_update(normalized)
                assert signup is not None
        for name, value in fields.items():
            setattr(signup, name, value)
        now = timezone.now()
        send = (
            signup.confirmation_sent_at is None
            or now - signup.confirmation_sent_at >= RESEND_WINDOW
        ) and (
            signup.confirmation_requested_at is None
            or now - signup.confirmation_requested_at >= RESEND_WINDOW
        )
        window_open = (
            signup.confirmation_window_started_at is not None
            and now - signup.confirmation_window_started_at < CONFIRM_MAX_AGE
        )
        if not window_open:
            signup.confirmation_window_started_at = None
            signup.confirmations_in_window = 0
        send = send and signup.confirmations_in_window < CONFIRM_MAX_SENDS
        # The cache also stops repeats whose transaction has not committed yet.
        send = send and cache.add(_email_key(normalized), 1, int(RESEND_WINDOW.total_seconds()))
        if send:
            signup.confirmation_requested_at = now
            signup.confirmation_window_started_at = signup.confirmation_window_started_at or now
            signup.confirmations_in_window += 1
            _confirmation_enqueue(signup, at=now)
        signup.save()
    return signup, send


def _address_subscribed(email_normalized: str) -> bool:
    """Whether a guest with this address already receives the newsletter by email."""
    return (
        guests_with_consent(purpose=Purpose.NEWSLETTER, channel=Channel.EMAIL)
        .filter(emails__email_normalized=email_normalized)
        .exists()
    )


def _pending_for_update(email_normalized: str) -> NewsletterSignup | None:
    return (
        NewsletterSignup.objects.select_for_update()
        .filter(email_normalized=email_normalized, status=NewsletterSignup.Status.PENDING)
        .first()
    )


# --- The confirmation email ------------------------------------------------------------------


def newsletter_confirmation_token(signup: NewsletterSignup) -> str:
    return signing.dumps({"s": signup.pk, "e": signup.email_normalized}, salt=TOKEN_SALT)


def site_absolute_url(path: str) -> str:
    """An absolute address on the public site: the default Wagtail Site's hostname and port, the
    same base as canonical links, never a Host header."""
    site = Site.objects.filter(is_default_site=True).first()
    base = site.root_url if site else settings.WAGTAILADMIN_BASE_URL
    return base.rstrip("/") + path


def newsletter_confirmation_url(signup: NewsletterSignup) -> str:
    with translation.override(signup.language):
        path = reverse(
            "content:newsletter_confirm", kwargs={"token": newsletter_confirmation_token(signup)}
        )
    return site_absolute_url(path)


def _confirmation_enqueue(signup: NewsletterSignup, *, at: dt.datetime) -> Message:
    """The confirmation email of the latest request, as a pipeline message in the caller's
    transaction (sent after commit). One row per request: the key holds the request's time.
    Its link's validity starts now, when the token is signed."""
    message, _created = message_enqueue(
        source=Message.Source.SIGNUP,
        kind=Message.Kind.TRANSACTIONAL,
        dedupe_key=f"signup:{signup.pk}:confirmation:{at.timestamp():.6f}",
        address=signup.email,
        language=signup.language,
        template=CONFIRMATION_TEMPLATE,
        context={
            "confirm_url": newsletter_confirmation_url(signup),
            "email": signup.email,
            "signup": signup.pk,
        },
    )
    signup.confirmation_sent_at = at  # the caller saves the signup
    return message


def newsletter_confirmation_send(*, signup_id: int) -> bool:
    """Hand the requested confirmation email to the pipeline if it was not yet. Requests now
    enqueue their message at once; this serves the tasks queued before the move (by name
    ``content.tasks.newsletter_confirmation_send_task``). Safe to run twice: the second run
    finds it handed over and does nothing."""
    with transaction.atomic():
        signup = NewsletterSignup.objects.select_for_update().filter(pk=signup_id).first()
        if (
            signup is None
            or signup.status != NewsletterSignup.Status.PENDING
            or signup.confirmation_requested_at is None
            or (
                signup.confirmation_sent_at is not None
                and signup.confirmation_sent_at >= signup.confirmation_requested_at
            )
        ):
            return False
        _confirmation_enqueue(signup, at=signup.confirmation_requested_at)
        signup.save(update_fields=["confirmation_sent_at", "updated_at"])
    return True


def _confirmation_messages(signup_ids: list[int]) -> QuerySet[Message]:
    """The confirmation messages of these signups, not yet attached to a guest."""
    return Message.objects.filter(
        source=Message.Source.SIGNUP,
        template=CONFIRMATION_TEMPLATE,
        guest__isnull=True,
        context__signup__in=signup_ids,
    )


# --- Confirmation ----------------------------------------------------------------------------


def newsletter_signup_from_token(token: str) -> NewsletterSignup:
    """The signup a confirmation link names; NewsletterError "expired" or "invalid"."""
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=CONFIRM_MAX_AGE)
    except signing.SignatureExpired:
        raise NewsletterError(
            _("This confirmation link has expired. Please sign up again."), code="expired"
        ) from None
    except (signing.BadSignature, ValueError, TypeError):
        raise NewsletterError(_("This confirmation link is not valid."), code="invalid") from None
    signup = NewsletterSignup.objects.filter(
        pk=data.get("s"), email_normalized=data.get("e")
    ).first()
    if signup is None:
        raise NewsletterError(_("This confirmation link is not valid."), code="invalid")
    return signup


@transaction.atomic
def newsletter_signup_confirm(
    *, token: str, ip_address: str | None = None, user_agent: str = ""
) -> NewsletterSignup:
    """The person clicked the link: resolve them to a guest and grant the newsletter consent.
    A second click changes nothing."""
    read = newsletter_signup_from_token(token)
    # Gone since the token was read: expired by the clean-up, or erased with its guest.
    signup = NewsletterSignup.objects.select_for_update().filter(pk=read.pk).first()
    if signup is None:
        raise NewsletterError(LINK_NOT_VALID_OR_USED, code="invalid")
    if signup.status == NewsletterSignup.Status.CONFIRMED:
        return signup
    now = timezone.now()
    result = guest_resolve(
        PersonData(email=signup.email, language=signup.language),
        source=Guest.Source.SIGNUP,
        source_detail=_source_detail(signup),
    )
    guest = result.guest
    if guest is None:
        raise NewsletterError(LINK_NOT_VALID_OR_USED, code="invalid")
    # The click proves the person reads this address.
    GuestEmail.objects.filter(
        guest=guest, email_normalized=signup.email_normalized, verified_at__isnull=True
    ).update(verified_at=now)
    if not guest.language:
        Guest.objects.filter(pk=guest.pk).update(language=signup.language)
    tags = _interest_tags(signup.interests)
    if tags:
        guest.tags.add(*tags)
    proof: ConsentProof | None = None
    if not consent_is_granted(guest=guest, purpose=Purpose.NEWSLETTER, channel=Channel.EMAIL):
        proof = consent_record(
            guest=guest,
            purpose=Purpose.NEWSLETTER,
            granted=True,
            method=ConsentProof.Method.EMAIL_LINK,
            channels=[Channel.EMAIL],
            wording=signup.wording,
            occurred_at=now,
            evidence={
                "double_opt_in": True,
                "signup": signup.pk,
                "page_url": signup.page_url,
                "signed_up_at": signup.created_at.isoformat(),
                "signup_ip": signup.ip_address,
                "signup_user_agent": signup.user_agent,
                "wording_version": signup.wording.version,
                "wording_language": signup.wording.language,
                "confirmed_ip": ip_address,
                "confirmed_user_agent": user_agent[:300],
            },
        )
    with translation.override(settings.LANGUAGE_CODE):
        title = _("Signed up to the newsletter")
    timeline_add(
        guest=guest,
        kind=TimelineEvent.Kind.SIGNUP,
        occurred_at=now,
        title=title,
        data={"page_url": signup.page_url, "interests": signup.interests, "signup": signup.pk},
        source=signup,
    )
    signup.status = NewsletterSignup.Status.CONFIRMED
    signup.guest = guest
    signup.proof = proof
    signup.confirmed_at = now
    signup.save(update_fields=["status", "guest", "proof", "confirmed_at", "updated_at"])
    # The emails sent to confirm are now this guest's (export, erasure, the outbox page).
    _confirmation_messages([signup.pk]).update(guest=guest)
    journey_subscription_enrol(guest=guest, at=now)
    return signup


def _source_detail(signup: NewsletterSignup) -> str:
    return f"newsletter: {signup.page_url}"[:200]


def _interest_tags(interests: list[str]) -> list[Tag]:
    """Interests are the site's themes, kept as interest tags on the guest (slug = theme)."""
    wanted = [value for value in interests if value in Theme.values]
    if not wanted:
        return []
    existing = {tag.slug: tag for tag in Tag.objects.filter(slug__in=wanted)}
    with translation.override(settings.LANGUAGE_CODE):
        for value in wanted:
            if value not in existing:
                existing[value], _created = Tag.objects.get_or_create(
                    slug=value,
                    defaults={"name": str(Theme(value).label), "category": Tag.Category.INTEREST},
                )
    return [existing[value] for value in wanted]


# --- Housekeeping ----------------------------------------------------------------------


def newsletter_signups_expire(*, now: dt.datetime | None = None) -> int:
    """Delete unconfirmed signups whose latest link has expired: what an unknown person typed is
    kept no longer than needed to confirm it."""
    cutoff = (now or timezone.now()) - CONFIRM_MAX_AGE
    # A repeat signup sends a new link valid for CONFIRM_MAX_AGE from its sending: the row lives
    # as long as its latest link (or a link still waiting for the task), not from its creation.
    latest = Greatest(
        "created_at",
        Coalesce("confirmation_requested_at", "created_at"),
        Coalesce("confirmation_sent_at", "created_at"),
    )
    expired = (
        NewsletterSignup.objects.filter(status=NewsletterSignup.Status.PENDING)
        .alias(latest_link_at=latest)
        .filter(latest_link_at__lt=cutoff)
    )
    with transaction.atomic():
        ids = list(expired.values_list("pk", flat=True))
        if not ids:
            return 0
        # The address an unknown person typed also sits on its confirmation emails.
        for start in range(0, len(ids), 500):
            _confirmation_messages(ids[start : start + 500]).exclude(
                status__in=[Message.Status.QUEUED, Message.Status.SENDING]
            ).delete()
        deleted, _rows = NewsletterSignup.objects.filter(pk__in=ids).delete()
    return deleted
