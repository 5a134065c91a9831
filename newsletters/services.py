"""Writes of the newsletters app: the one pipeline every email to a guest goes through.

- ``message_enqueue`` writes the message row (idempotent on ``dedupe_key``) and sends it by a
  task after commit.
- ``message_send`` claims the row (QUEUED -> SENDING) in a short transaction that also checks,
  at send time, the suppression list, the guest, the address and, for marketing, the consent of
  its scope and the frequency cap; then it renders and hands the email to Django's email backend
  OUTSIDE any transaction, then marks the row SENT (with its source's SENT hook or a timeline
  entry), FAILED, or QUEUED again with a later due time after a transient error. The claim
  (``messages_claim``) and the SENT mark (``messages_sent_mark``) are set-based: the campaign
  sender's fast path (``newsletters.fastsend``) runs the same two functions on whole batches.
- ``messages_dispatch`` is the beat tick: claims older than the timeout become IN_DOUBT (the
  worker died between claim and answer: the email may have left; a person decides), and due
  queued rows whose on-commit task never ran are handed to workers.

No SMTP call ever runs while a transaction holds a row lock: the claim's lock is released by the
commit before the connection is opened.
"""

from __future__ import annotations

import contextlib
import email.message
import email.policy
import smtplib
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from datetime import time as dt_time
from email.utils import formataddr
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import CharField, Count, F, Value
from django.db.models.functions import Cast, Concat, Replace
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from destination.consent_selectors import consent_is_granted, guests_with_consent
from destination.errors import DomainError
from destination.models import AuditEntry, ConsentProof, Guest, TimelineEvent
from destination.services.audit import audit_log
from destination.services.consent import consent_record
from destination.services.timeline import TimelineItem, timeline_add_many
from newsletters.models import MARKETING_PURPOSES, Message, Suppression
from newsletters.rendering import (
    Compiled,
    Rendered,
    RenderError,
    brand_context,
    email_compile,
    email_source_for,
)
from newsletters.tasks import message_send_batch_task, message_send_task
from newsletters.tokens import unsubscribe_token

if TYPE_CHECKING:
    from django.core.mail.backends.base import BaseEmailBackend

    from destination.models import User
    from partners.models import Partner

DISPATCH_LIMIT = 2000
BATCH_SIZE = 100
SCALARS = (str, int, float, bool, type(None))


class MessageError(DomainError):
    pass


def _address_normalize(address: str) -> str:
    return (address or "").strip().lower()


def _queue_kwargs() -> dict[str, Any]:
    queue = settings.NEWSLETTER_CELERY_QUEUE
    return {"queue": queue} if queue else {}


def _send_on_commit(message_id: int) -> None:
    # delay_on_commit cannot route: apply_async on commit can (NEWSLETTER_CELERY_QUEUE).
    transaction.on_commit(
        lambda: message_send_task.apply_async(kwargs={"message_id": message_id}, **_queue_kwargs())
    )


# --- Enqueue --------------------------------------------------------------------------------


def message_enqueue(
    *,
    source: Message.Source | str,
    kind: Message.Kind | str,
    dedupe_key: str,
    address: str,
    language: str,
    template: str,
    context: dict[str, Any] | None = None,
    guest: Guest | None = None,
    purpose: str = "",
    partner: Partner | None = None,
    due_at: datetime | None = None,
) -> tuple[Message, bool]:
    """Write the message row, or find it: one ``dedupe_key`` is one email, whoever asks again.

    ``context`` holds JSON scalars only (the ``[[ name ]]`` values of the template); the
    message is sent by a task after the caller's transaction commits. Returns (message, created).
    """
    existing = Message.objects.filter(dedupe_key=dedupe_key).first()
    if existing is not None:
        return existing, False
    context = dict(context or {})
    bad = sorted(k for k, v in context.items() if not isinstance(v, SCALARS))
    if bad:
        raise MessageError(
            _("Email values must be plain values, not %(names)s.") % {"names": ", ".join(bad)}
        )
    try:
        if email_source_for(template) is None:
            get_template(f"newsletters/email/{template}.mjml")
    except Exception as exc:
        raise MessageError(
            _("There is no email template “%(name)s”.") % {"name": template}
        ) from exc
    if kind == Message.Kind.MARKETING and purpose not in MARKETING_PURPOSES:
        raise MessageError(_("A marketing email needs its consent purpose."))
    message = Message(
        source=source,
        kind=kind,
        dedupe_key=dedupe_key,
        guest=guest,
        address=(address or "").strip(),
        language=language or (guest.language if guest else "") or settings.LANGUAGE_CODE,
        template=template,
        context=context,
        purpose=purpose,
        partner=partner,
        due_at=due_at or timezone.now(),
    )
    try:
        message.full_clean(exclude=["address", "dedupe_key"])
    except ValidationError as exc:
        raise MessageError(exc.message_dict) from exc
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        # Someone wrote the same email between our read and our insert.
        existing = Message.objects.filter(dedupe_key=dedupe_key).first()
        if existing is None:
            raise
        return existing, False
    _send_on_commit(message.pk)
    return message, True


# --- Send-time rules ------------------------------------------------------------------------


def quiet_hours_end(*, at: datetime) -> datetime | None:
    """When the quiet hours that ``at`` falls in end (in UTC), or None outside them.

    NEWSLETTER_QUIET_HOURS is "start-end" in whole hours of the destination's time zone, e.g.
    "21-8"; empty means none."""
    spec = settings.NEWSLETTER_QUIET_HOURS
    if not spec:
        return None
    start, end = (int(part) for part in spec.split("-"))
    zone = ZoneInfo(brand_context(language=settings.LANGUAGE_CODE)["timezone"])
    local = at.astimezone(zone)
    hour = local.hour
    quiet = (hour >= start or hour < end) if start > end else (start <= hour < end)
    if not quiet:
        return None
    # The end is today when it is still ahead, else tomorrow, at that wall-clock hour.
    day = local.date() if hour < end else local.date() + timedelta(days=1)
    ends = datetime.combine(day, dt_time(hour=end), tzinfo=zone)
    return ends.astimezone(ZoneInfo("UTC"))


def messages_claim(*, message_ids: Sequence[int], now: datetime) -> list[Message]:
    """QUEUED and due -> SENDING, or SKIPPED with its reason, or a later due time (quiet hours),
    for one message or a whole batch, in one short transaction; returns the claimed rows (with
    their partner), in id order. A row someone else holds or has done is left alone.

    The send-time checks, in this order: a deliverable address, the suppression list, an
    active guest, then for marketing the consent of its scope (now) and the frequency cap. Each
    is one query for the batch, whatever its size. Guest rows of marketing messages are locked
    in id order for this transaction only (never across SMTP), so two claims for one guest
    cannot both pass the cap."""
    reasons = Message.SkipReason
    domain = settings.NEWSLETTER_LIST_ID_DOMAIN
    with transaction.atomic():
        rows = list(
            Message.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__in=list(message_ids), status=Message.Status.QUEUED, due_at__lte=now)
            .select_related("partner")
            .order_by("pk")
        )
        if not rows:
            return []
        quiet_end = quiet_hours_end(at=now)
        if quiet_end is not None:
            later = [m.pk for m in rows if m.kind == Message.Kind.MARKETING]
            Message.objects.filter(pk__in=later).update(due_at=quiet_end, updated_at=now)
            rows = [m for m in rows if m.kind != Message.Kind.MARKETING]
        skip: dict[str, list[int]] = {}
        normalized = {m.pk: _address_normalize(m.address) for m in rows}
        candidates: list[Message] = []
        for m in rows:
            try:
                validate_email(normalized[m.pk])
            except ValidationError:
                skip.setdefault(reasons.UNDELIVERABLE, []).append(m.pk)
            else:
                candidates.append(m)
        suppressed = set(
            Suppression.objects.filter(
                address__in={normalized[m.pk] for m in candidates}
            ).values_list("address", flat=True)
        )
        active = set(
            Guest.objects.filter(
                pk__in={m.guest_id for m in candidates if m.guest_id is not None},
                status=Guest.Status.ACTIVE,
            ).values_list("pk", flat=True)
        )
        granted: dict[tuple[str, int | None], set[int]] = {}
        for m in candidates:
            scope = (m.purpose, m.partner_id)
            if m.kind == Message.Kind.MARKETING and scope not in granted:
                # Marketing messages always have a guest (newsletters_message_consent_scope).
                scope_guests = {
                    c.guest_id
                    for c in candidates
                    if (c.purpose, c.partner_id) == scope and c.guest_id is not None
                }
                granted[scope] = set(
                    guests_with_consent(purpose=m.purpose, channel="email", partner=m.partner)
                    .filter(pk__in=scope_guests)
                    .values_list("pk", flat=True)
                )
        passed: list[Message] = []
        for m in candidates:
            if normalized[m.pk] in suppressed:
                skip.setdefault(reasons.SUPPRESSED, []).append(m.pk)
            elif m.guest_id is not None and m.guest_id not in active:
                skip.setdefault(reasons.GUEST_INACTIVE, []).append(m.pk)
            elif (
                m.kind == Message.Kind.MARKETING
                and m.guest_id not in granted[(m.purpose, m.partner_id)]
            ):
                skip.setdefault(reasons.NO_CONSENT, []).append(m.pk)
            else:
                passed.append(m)
        passed = _frequency_cap_apply(passed, now=now, skip=skip)
        for reason, ids in skip.items():
            Message.objects.filter(pk__in=ids).update(
                status=Message.Status.SKIPPED, skip_reason=reason, updated_at=now
            )
        # The Message-ID is the message's own UUID: a person's resend of an in-doubt message
        # keeps it, so a receiver that already has the first copy can tell.
        Message.objects.filter(pk__in=[m.pk for m in passed]).update(
            status=Message.Status.SENDING,
            claimed_at=now,
            attempts=F("attempts") + 1,
            message_id=Concat(
                Value("<"),
                Replace(Cast("uuid", CharField()), Value("-"), Value("")),
                Value(f"@{domain}>"),
                output_field=CharField(),
            ),
            updated_at=now,
        )
    for m in passed:
        m.status = Message.Status.SENDING
        m.claimed_at = now
        m.attempts += 1
        m.message_id = f"<{m.uuid.hex}@{domain}>"
    return passed


def _frequency_cap_apply(
    passed: list[Message], *, now: datetime, skip: dict[str, list[int]]
) -> list[Message]:
    """The marketing messages over NEWSLETTER_FREQUENCY_CAP in the window go to ``skip``; the
    batch's own messages count as they pass (one guest twice in a batch)."""
    capped = sorted(
        {m.guest_id for m in passed if m.kind == Message.Kind.MARKETING and m.guest_id is not None}
    )
    if not capped:
        return passed
    list(Guest.objects.select_for_update().filter(pk__in=capped).order_by("pk").values_list("pk"))
    window = now - timedelta(days=settings.NEWSLETTER_FREQUENCY_WINDOW_DAYS)
    recent: dict[int | None, int] = dict(
        Message.objects.filter(
            guest_id__in=capped,
            kind=Message.Kind.MARKETING,
            status__in=[Message.Status.SENDING, Message.Status.SENT, Message.Status.IN_DOUBT],
            claimed_at__gte=window,
        )
        .values("guest_id")
        .annotate(n=Count("pk"))
        .values_list("guest_id", "n")
    )
    cap = settings.NEWSLETTER_FREQUENCY_CAP
    kept = []
    for m in passed:
        if m.kind == Message.Kind.MARKETING:
            if recent.get(m.guest_id, 0) >= cap:
                skip.setdefault(Message.SkipReason.FREQUENCY_CAP, []).append(m.pk)
                continue
            recent[m.guest_id] = recent.get(m.guest_id, 0) + 1
        kept.append(m)
    return kept


def _message_claim(*, message_id: int, now: datetime) -> Message | None:
    """One message through ``messages_claim``; None when there is nothing to send now
    (someone else has it, not due, skipped, quiet hours...)."""
    claimed = messages_claim(message_ids=[message_id], now=now)
    return claimed[0] if claimed else None


# --- Building the email ---------------------------------------------------------------------


def _recipient_page_url(message: Message, route: str) -> str:
    """A page of the message's recipient, reached with its signed token (it names the guest
    only through the row), on the public site."""
    token = unsubscribe_token(message_uuid=message.uuid)
    path = reverse(route, kwargs={"token": token})
    return settings.NEWSLETTER_SITE_URL.rstrip("/") + path


def unsubscribe_url(message: Message) -> str:
    return _recipient_page_url(message, "newsletters:unsubscribe")


def preferences_url(message: Message) -> str:
    """The preference centre of the message's recipient (``newsletters.preference_views``)."""
    return _recipient_page_url(message, "newsletters:preferences")


def list_id(message: Message, *, brand_name: str) -> str:
    domain = settings.NEWSLETTER_LIST_ID_DOMAIN
    if message.partner is not None:
        return f'"{message.partner.name}" <partner-{message.partner_id}.offers.{domain}>'
    return f'"{brand_name}" <{message.purpose.replace("_", "-")}.{domain}>'


def _message_headers(message: Message, *, brand_name: str) -> dict[str, str]:
    headers = {"Message-ID": message.message_id}
    if message.kind != Message.Kind.MARKETING:
        return headers
    links = [f"<{unsubscribe_url(message)}>"]
    mailto = settings.NEWSLETTER_UNSUBSCRIBE_MAILTO
    if mailto:
        token = unsubscribe_token(message_uuid=message.uuid)
        links.append(f"<mailto:{mailto}?subject={quote('unsubscribe ' + token)}>")
    headers["List-Unsubscribe"] = ", ".join(links)
    headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
    headers["List-Id"] = list_id(message, brand_name=brand_name)
    return headers


def message_render(message: Message) -> tuple[Compiled, Rendered]:
    compiled = email_compile(name=message.template, language=message.language, kind=message.kind)
    values = dict(message.context)
    if message.kind == Message.Kind.MARKETING:
        values["unsubscribe_url"] = unsubscribe_url(message)
        values["preferences_url"] = preferences_url(message)
    return compiled, compiled.personalise(values, tracking_ref=message.uuid.hex)


class GuestEmail(EmailMultiAlternatives):
    """An email whose header lines may be as long as RFC 5322 allows (998). With the default
    78, Python's email package writes a List-Unsubscribe URL longer than a line as RFC 2047
    encoded words, which mail clients do not decode there: the one-click link would break."""

    # anymail's per-message options, set only when the backend is anymail's (declared, not
    # assigned: an unset attribute is what tells anymail to leave the provider's default).
    track_opens: bool
    track_clicks: bool

    def message(
        self, *, policy: email.policy.Policy | None = email.policy.default
    ) -> email.message.EmailMessage:
        return super().message(policy=(policy or email.policy.default).clone(max_line_length=998))


def message_build(message: Message) -> EmailMultiAlternatives:
    """The email of a claimed message: text part, HTML alternative, headers, From the brand."""
    _compiled, rendered = message_render(message)
    brand = brand_context(language=message.language)
    sender = formataddr((brand["sender_name"], brand["sender_email"]))
    email = GuestEmail(
        subject=rendered.subject,
        body=rendered.text,
        from_email=sender,
        to=[message.address],
        headers=_message_headers(message, brand_name=brand["brand_name"]),
    )
    email.attach_alternative(rendered.html, "text/html")
    if settings.NEWSLETTER_ESP_TRACKING_OFF and _backend_is_anymail():
        # Our own pixel and redirector count opens and clicks (newsletters.tracking): the
        # provider's would rewrite our signed links and add a second pixel. anymail passes
        # these to each ESP's API; one that cannot switch tracking per message refuses the
        # send before calling its API (AnymailUnsupportedFeature, a permanent failure that
        # names this setting): set NEWSLETTER_ESP_TRACKING_OFF=false and switch it off in the
        # provider's dashboard instead.
        email.track_opens = False
        email.track_clicks = False
    return email


def _backend_is_anymail() -> bool:
    path = settings.NEWSLETTER_EMAIL_BACKEND or settings.EMAIL_BACKEND
    return path.startswith("anymail.")


# --- Sending --------------------------------------------------------------------------------


def _rate_wait() -> None:
    """At most NEWSLETTER_RATE_PER_SECOND hand-overs per second, counted in the cache (shared
    by every worker when the cache is Redis; per process with the local-memory cache)."""
    rate = settings.NEWSLETTER_RATE_PER_SECOND
    if rate <= 0:
        return
    while True:
        second = int(time.time())
        key = f"newsletters:rate:{second}"
        cache.add(key, 0, 5)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            continue
        if count <= rate:
            return
        time.sleep(max(0.0, second + 1 - time.time()))


def _connection() -> BaseEmailBackend:
    backend: BaseEmailBackend = get_connection(
        settings.NEWSLETTER_EMAIL_BACKEND or None, fail_silently=False
    )
    return backend


class _Outcome:
    SENT = "sent"
    TRANSIENT = "transient"  # refused before acceptance, or no connection: safe to retry
    PERMANENT = "permanent"
    IN_DOUBT = "in_doubt"  # the provider may have accepted it


def _classify(exc: BaseException) -> str:
    """What an error from ``send_messages`` says about the email. A server that answered with
    a code refused it (4xx: later, 5xx: never); anything else (a dropped connection, a
    timeout, an unknown provider error) may have happened after acceptance: in doubt."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return _Outcome.TRANSIENT if codes and all(c < 500 for c in codes) else _Outcome.PERMANENT
    if isinstance(exc, smtplib.SMTPResponseException):
        return _Outcome.TRANSIENT if exc.smtp_code < 500 else _Outcome.PERMANENT
    status = getattr(exc, "status_code", None)  # anymail's API errors
    if isinstance(status, int) and 400 <= status < 500 and status != 429:
        return _Outcome.PERMANENT
    if type(exc).__name__ in ("AnymailRecipientsRefused", "AnymailUnsupportedFeature"):
        # Refused by anymail before the provider's API was called (an unsupported feature
        # such as per-message tracking settings): nothing was sent, and a retry would fail too.
        return _Outcome.PERMANENT
    return _Outcome.IN_DOUBT


def _deliver(email: EmailMultiAlternatives, connection: BaseEmailBackend) -> tuple[str, str]:
    _rate_wait()
    try:
        connection.open()
    except Exception as exc:  # nothing was handed over: retry later
        return _Outcome.TRANSIENT, f"connect: {exc}"
    try:
        sent = connection.send_messages([email])
    except Exception as exc:
        outcome = _classify(exc)
        # A broken session must not carry over to the next message of the batch.
        with contextlib.suppress(Exception):  # closing a dead connection may fail too
            connection.close()
        return outcome, f"{type(exc).__name__}: {exc}"
    if not sent:
        return _Outcome.PERMANENT, "the backend sent nothing"
    return _Outcome.SENT, ""


# source -> fn(message, at) that writes the MESSAGE timeline entry of that source's emails itself
# (booking emails keep their "Confirmation email sent for VN-..." entry with the booking's
# reference) and returns True; False falls back to the generic entry. Registered from an
# AppConfig.ready(); runs in the transaction that marks the message SENT.
SentHook = Callable[[Message, datetime], bool]
_sent_hooks: dict[str, SentHook] = {}


def message_sent_hook_register(source: str, fn: SentHook) -> None:
    _sent_hooks[source] = fn


def messages_sent_mark(*, sent: Sequence[tuple[Message, str]], at: datetime) -> int:
    """Mark claimed (or in-doubt) messages SENT with their subjects, in one transaction: one
    UPDATE per distinct subject, each source's SENT hook, and the generic timeline entries in
    one INSERT. A row already marked (a person resolved it meanwhile) gets nothing twice.
    Returns how many rows this call marked."""
    if not sent:
        return 0
    with transaction.atomic():
        marked = set(
            Message.objects.select_for_update()
            .filter(
                pk__in=[m.pk for m, _s in sent],
                status__in=[Message.Status.SENDING, Message.Status.IN_DOUBT],
            )
            .values_list("pk", flat=True)
        )
        by_subject: dict[str, list[int]] = {}
        for message, subject in sent:
            if message.pk in marked:
                by_subject.setdefault(subject, []).append(message.pk)
        for subject, ids in by_subject.items():
            Message.objects.filter(pk__in=ids).update(
                status=Message.Status.SENT,
                sent_at=at,
                subject=subject[:255],
                error="",
                updated_at=at,
            )
        with translation.override(settings.LANGUAGE_CODE):
            titles = {s: _("Email sent: %(subject)s") % {"subject": s} for s in by_subject}
        items = []
        for message, subject in sent:
            if message.pk not in marked:
                continue
            hook = _sent_hooks.get(message.source)
            if hook is not None and hook(message, at):
                continue
            if message.guest_id is None:
                continue
            items.append(
                TimelineItem(
                    guest_id=message.guest_id,
                    kind=TimelineEvent.Kind.MESSAGE,
                    occurred_at=at,
                    title=titles[subject],
                    partner_id=message.partner_id,
                    data={
                        "message": message.pk,
                        "source": message.source,
                        "kind": message.kind,
                        "template": message.template,
                        "message_id": message.message_id,
                    },
                    source=message,
                )
            )
        timeline_add_many(items=items)
    return len(marked)


def _message_sent_mark(*, message: Message, at: datetime, subject: str) -> None:
    messages_sent_mark(sent=[(message, subject)], at=at)


def _message_unsent_mark(*, message: Message, outcome: str, error: str, now: datetime) -> str:
    values: dict[str, Any] = {"error": error[:2000]}
    if outcome == _Outcome.TRANSIENT and message.attempts < settings.NEWSLETTER_MAX_ATTEMPTS:
        backoff = settings.NEWSLETTER_RETRY_BASE_SECONDS * 2 ** (message.attempts - 1)
        values.update(status=Message.Status.QUEUED, due_at=now + timedelta(seconds=backoff))
    elif outcome == _Outcome.IN_DOUBT:
        values.update(status=Message.Status.IN_DOUBT)
    else:
        values.update(status=Message.Status.FAILED)
    Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(**values)
    status: str = values["status"]
    return status


def message_send(*, message_id: int, connection: BaseEmailBackend | None = None) -> str:
    """Send one message at most once; returns its status afterwards.

    Only the caller that claims the row sends it: a second call, a redelivered task or a second
    worker finds it SENDING or done and sends nothing. The SMTP (or API) call happens after the
    claim committed, in no transaction."""
    now = timezone.now()
    message = _message_claim(message_id=message_id, now=now)
    if message is None:
        status = Message.objects.filter(pk=message_id).values_list("status", flat=True).first()
        return status or ""
    try:
        email = message_build(message)
    except RenderError as exc:
        return _message_unsent_mark(
            message=message, outcome=_Outcome.PERMANENT, error=str(exc), now=now
        )
    owned = connection is None
    connection = connection or _connection()
    try:
        outcome, error = _deliver(email, connection)
    finally:
        if owned:
            with contextlib.suppress(Exception):  # closing a dead connection may fail too
                connection.close()
    if outcome == _Outcome.SENT:
        _message_sent_mark(message=message, at=timezone.now(), subject=str(email.subject))
        return Message.Status.SENT
    return _message_unsent_mark(message=message, outcome=outcome, error=error, now=now)


def messages_send_batch(*, message_ids: list[int]) -> dict[str, int]:
    """Send several messages over one backend connection; counts per resulting status."""
    counts: dict[str, int] = {}
    connection = _connection()
    try:
        for message_id in message_ids:
            status = message_send(message_id=message_id, connection=connection)
            counts[status] = counts.get(status, 0) + 1
    finally:
        with contextlib.suppress(Exception):  # closing a dead connection may fail too
            connection.close()
    return counts


def messages_dispatch(*, now: datetime | None = None) -> dict[str, int]:
    """The beat tick. Claims older than NEWSLETTER_SENDING_TIMEOUT_SECONDS become IN_DOUBT
    (never resent automatically); due queued messages go to workers in batches. Handing a
    message out twice is harmless: only one claim succeeds."""
    now = now or timezone.now()
    timeout = timedelta(seconds=settings.NEWSLETTER_SENDING_TIMEOUT_SECONDS)
    in_doubt = Message.objects.filter(
        status=Message.Status.SENDING, claimed_at__lt=now - timeout
    ).update(status=Message.Status.IN_DOUBT, error=_("No answer after the claim: worker lost?"))
    due = list(
        Message.objects.filter(status=Message.Status.QUEUED, due_at__lte=now)
        .order_by("due_at", "id")
        .values_list("pk", flat=True)[:DISPATCH_LIMIT]
    )
    for start in range(0, len(due), BATCH_SIZE):
        message_send_batch_task.apply_async(
            kwargs={"message_ids": due[start : start + BATCH_SIZE]}, **_queue_kwargs()
        )
    return {"in_doubt": in_doubt, "dispatched": len(due)}


# --- People deciding ------------------------------------------------------------------------


@transaction.atomic
def message_in_doubt_resolve(*, message: Message, resend: bool, actor: User | None) -> Message:
    """A person decides about an in-doubt message: send it again (they checked it did not
    arrive) or record it as sent (it did)."""
    locked = Message.objects.select_for_update().get(pk=message.pk)
    if locked.status != Message.Status.IN_DOUBT:
        raise MessageError(_("Only a message in doubt can be resolved."))
    if resend:
        locked.status = Message.Status.QUEUED
        locked.due_at = timezone.now()
        locked.save(update_fields=["status", "due_at", "updated_at"])
        _send_on_commit(locked.pk)
    else:
        _message_sent_mark(
            message=locked, at=locked.claimed_at or timezone.now(), subject=locked.subject
        )
        locked.refresh_from_db()
    if locked.guest is not None:
        audit_log(
            guest=locked.guest,
            action=AuditEntry.Action.CHANGE,
            actor=actor,
            details={"message": locked.pk, "in_doubt": "resent" if resend else "marked_sent"},
        )
    return locked


def suppression_add(
    *,
    address: str,
    reason: Suppression.Reason | str,
    provider_event_id: str = "",
    detail: str = "",
) -> tuple[Suppression, bool]:
    """Suppress an address; one provider event suppresses once (webhooks repeat)."""
    if provider_event_id:
        existing = Suppression.objects.filter(provider_event_id=provider_event_id).first()
        if existing is not None:
            return existing, False
    suppression = Suppression(
        address=_address_normalize(address),
        reason=reason,
        provider_event_id=provider_event_id,
        detail=detail,
    )
    try:
        suppression.full_clean()
    except ValidationError as exc:
        raise MessageError(exc.message_dict) from exc
    try:
        with transaction.atomic():
            suppression.save()
    except IntegrityError:
        return Suppression.objects.get(provider_event_id=provider_event_id), False
    return suppression, True


def message_unsubscribe(*, message: Message, evidence: dict[str, Any]) -> bool:
    """Withdraw the consent a marketing message was sent under, proved by ``evidence`` (the
    request). False when there was nothing to withdraw (already withdrawn, or transactional)."""
    if message.kind != Message.Kind.MARKETING or message.guest_id is None:
        return False
    if not consent_is_granted(
        guest=message.guest_id, purpose=message.purpose, partner=message.partner, channel="email"
    ):
        return False
    assert message.guest is not None  # guest_id checked above
    consent_record(
        guest=message.guest,
        purpose=message.purpose,
        granted=False,
        method=ConsentProof.Method.EMAIL_LINK,
        partners=[message.partner] if message.partner is not None else [],
        channels=["email"],
        wording=None,
        evidence={**evidence, "message": message.pk, "message_id": message.message_id},
    )
    return True


# --- GDPR (registered in apps.py) -----------------------------------------------------------


def messages_erase(guest_ids: list[int]) -> dict[str, int]:
    """Anonymise the messages of erased guests, set-based: what was sent when stays (for the
    statistics), the address, the values and the subject go; queued ones never leave."""
    skipped = Message.objects.filter(guest_id__in=guest_ids, status=Message.Status.QUEUED).update(
        status=Message.Status.SKIPPED, skip_reason=Message.SkipReason.GUEST_INACTIVE
    )
    erased = Message.objects.filter(guest_id__in=guest_ids).update(
        address="", context={}, subject=""
    )
    return {"messages": erased, "messages_unsent": skipped}


def messages_export(guest: Guest) -> list[dict[str, Any]]:
    """The emails section of a guest's full export."""
    return [
        {
            "source": m.source,
            "kind": m.kind,
            "template": m.template,
            "address": m.address,
            "language": m.language,
            "subject": m.subject,
            "status": m.status,
            "skip_reason": m.skip_reason,
            "partner": m.partner.name if m.partner else None,
            "created_at": m.created_at.isoformat(),
            "sent_at": m.sent_at.isoformat() if m.sent_at else None,
        }
        for m in Message.objects.filter(guest=guest).select_related("partner").order_by("id")
    ]
