"""The campaign sender's fast path: claim a batch in SQL, build each email from a MIME skeleton
made once per (email, language, kind, brand), send over one SMTP session, mark the batch in SQL.

The rules are the pipeline's (``newsletters.services``), applied set-based to a batch instead of
row by row: rows are locked ``FOR UPDATE SKIP LOCKED`` and only QUEUED, due ones are claimed;
at send time every recipient is checked for a deliverable address, the suppression list, an
active guest and, for marketing, the consent of its scope (now), quiet hours and the frequency
cap (guest rows locked in id order for the claim's short transaction, like the pipeline). A
failed check is SKIPPED with its reason. SMTP happens after that commit, in no transaction;
the batch is then marked SENT in one UPDATE with its timeline entries in one INSERT; refused or
broken sends are marked one by one as the pipeline does (retry, FAILED or IN_DOUBT).

The MIME skeleton: text and HTML parts quoted-printable (never base64), encoded once per static
chunk; what differs per recipient (the ``[[ name ]]`` values, each signed tracking link, the open
pixel, To, Message-ID, List-Unsubscribe) is encoded alone and joined between soft line breaks,
so every line stays within 76 characters and the decoded body is exactly the pipeline's
(``test_fast_email_decodes_to_the_pipelines_email``).

Only Django's SMTP backend has a session to write bytes to; with any other backend (an ESP via
anymail, locmem in tests) the batch goes through ``messages_send_batch`` unchanged.
"""

from __future__ import annotations

import binascii
import contextlib
import html
import re
import threading
import uuid as uuid_module
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.header import Header
from email.utils import formataddr, formatdate
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import CharField, Count, F, Value
from django.db.models.functions import Cast, Concat, Replace
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from destination.consent_selectors import guests_with_consent
from destination.models import Guest, TimelineEvent
from destination.services.timeline import TimelineItem, timeline_add_many
from newsletters import services as pipeline
from newsletters import tracking
from newsletters.models import Message, Suppression
from newsletters.rendering import (
    PLACEHOLDER,
    Compiled,
    RenderError,
    brand_context,
    brand_version,
    email_compile,
)

CRLF = b"\r\n"
SOFT = b"=\r\n"
_SLOT = re.compile(r"\x00(L\d+|P)\x00")


def _qp(text: str) -> bytes:
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    return binascii.b2a_qp(data, quotetabs=False, istext=True, header=False).replace(b"\n", CRLF)


@dataclass(frozen=True)
class _Part:
    """A body cut into static chunks (already encoded) and slots: ("v", name) a placeholder
    value, ("l", index, url) a tracked link, ("p",) the open pixel."""

    chunks: tuple[bytes, ...]
    slots: tuple[tuple[Any, ...], ...]


def _part(pieces: list[str | tuple[Any, ...]]) -> _Part:
    chunks: list[bytes] = []
    slots: list[tuple[Any, ...]] = []
    current: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            current.append(piece)
        else:
            chunks.append(_qp("".join(current)))
            slots.append(piece)
            current = []
    chunks.append(_qp("".join(current)))
    return _Part(chunks=tuple(chunks), slots=tuple(slots))


def _placeholder_pieces(text: str) -> list[str | tuple[Any, ...]]:
    return _parts_pieces(tuple(PLACEHOLDER.split(text)))


def _parts_pieces(parts: tuple[str, ...]) -> list[str | tuple[Any, ...]]:
    """``Compiled`` parts (literals at even indexes, names at odd ones) as pieces."""
    return [p if i % 2 == 0 else ("v", p) for i, p in enumerate(parts)]


def _html_pieces(compiled: Compiled) -> list[str | tuple[Any, ...]]:
    """The compiled HTML with its tracked links, trap and pixel as slots: the layout of
    ``LinkPlan.render`` (held to it by the equivalence test)."""
    plan = compiled.link_plan
    if plan is None:
        return _parts_pieces(compiled.html_parts)
    trap = (
        f'<a href="\x00L0\x00" style="{tracking.TRAP_STYLE}" aria-hidden="true" tabindex="-1"></a>'
    )
    img = f'<img src="\x00P\x00" width="1" height="1" alt="" style="{tracking.PIXEL_STYLE}">'
    out: list[str] = []
    for index, segment in enumerate(plan.segments):
        if index == 0:
            segment = segment[: plan.body_open_at] + trap + segment[plan.body_open_at :]
        if index == len(plan.segments) - 1:
            at = plan.body_close_at + (len(trap) if index == 0 else 0)
            segment = segment[:at] + img + segment[at:]
        out.append(segment)
        if index < len(plan.urls):
            out.append(f"\x00L{index + 1}\x00")
    skeleton = "".join(out)
    pieces: list[str | tuple[Any, ...]] = []
    for i, chunk in enumerate(_SLOT.split(skeleton)):
        if i % 2 == 1:
            if chunk == "P":
                pieces.append(("p",))
            else:
                n = int(chunk[1:])
                pieces.append(("l", n, plan.urls[n - 1] if n else None))
        else:
            pieces.extend(_placeholder_pieces(chunk))
    return pieces


@dataclass(frozen=True)
class FastEmail:
    """One email (name, language, kind, brand) ready to send to many: its static headers and
    both parts, encoded once."""

    compiled: Compiled
    static_headers: bytes
    boundary: str
    text: _Part
    html: _Part
    subject_static: bool
    sender: str
    sender_address: str


def _fast_email(compiled: Compiled, *, language: str, kind: str) -> FastEmail:
    brand = brand_context(language=language)
    boundary = "=_" + uuid_module.uuid4().hex
    sender = formataddr((brand["sender_name"], brand["sender_email"]), charset="utf-8")
    subject_static = len(compiled.subject_parts) == 1
    lines = [f"From: {sender}"]
    if subject_static:
        lines.append("Subject: " + Header(compiled.subject_parts[0], "utf-8").encode())
    lines += [
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
    ]
    return FastEmail(
        compiled=compiled,
        static_headers=("\r\n".join(lines) + "\r\n").encode("ascii"),
        boundary=boundary,
        text=_part(_parts_pieces(compiled.text_parts)),
        html=_part(_html_pieces(compiled)),
        subject_static=subject_static,
        sender=sender,
        sender_address=brand["sender_email"],
    )


_cache: OrderedDict[tuple[str, ...], FastEmail] = OrderedDict()
_lock = threading.Lock()


def fast_email(*, name: str, language: str, kind: str) -> FastEmail:
    compiled = email_compile(name=name, language=language, kind=kind)
    key = (name, language, kind, brand_version(brand_context(language=language)), str(id(compiled)))
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            return hit
    built = _fast_email(compiled, language=language, kind=kind)
    with _lock:
        _cache[key] = built
        while len(_cache) > 64:
            _cache.popitem(last=False)
    return built


def _fill(part: _Part, *, values: dict[str, str], links: Any, pixel: Any) -> bytes:
    out = [part.chunks[0]]
    for slot, chunk in zip(part.slots, part.chunks[1:], strict=True):
        kind = slot[0]
        if kind == "v":
            value = values[slot[1]]
        elif kind == "l":
            value = links(slot[1], slot[2])
        else:
            value = pixel()
        out += [SOFT, _qp(value), SOFT, chunk]
    return b"".join(out)


def message_bytes(message: Message, *, date: str | None = None) -> tuple[bytes, str]:
    """The whole email of a claimed message as SMTP bytes, and its subject."""
    fast = fast_email(name=message.template, language=message.language, kind=message.kind)
    compiled = fast.compiled
    values = dict(message.context)
    headers = [f"To: {message.address}", f"Date: {date or formatdate()}"]
    headers.append(f"Message-ID: {message.message_id}")
    brand_name = brand_context(language=message.language)["brand_name"]
    for name, value in pipeline._message_headers(message, brand_name=brand_name).items():
        if name != "Message-ID":
            headers.append(
                f"{name}: {value if value.isascii() else Header(value, 'utf-8').encode()}"
            )
    if message.kind == Message.Kind.MARKETING:
        values["unsubscribe_url"] = pipeline.unsubscribe_url(message)
    missing = compiled.placeholders - values.keys()
    if missing:
        raise RenderError(f"{compiled.name}: no value for {', '.join(sorted(missing))}.")
    plain = {k: "" if v is None else str(v) for k, v in values.items()}
    subject = " ".join("".join(
        plain[p] if i % 2 else p for i, p in enumerate(compiled.subject_parts)
    ).split())  # fmt: skip
    if not fast.subject_static:
        headers.append("Subject: " + Header(subject, "utf-8").encode())
    escaped = {k: html.escape(v) for k, v in plain.items()}
    ref = message.uuid.hex
    base = tracking._base_url(None)
    signer = tracking._Signer(salt=tracking.CLICK_SALT)

    def link(index: int, url: str | None) -> str:
        target = url if url is not None else base
        token = signer.sign_object({"m": ref, "i": index, "u": target})
        return base + tracking.CLICK_PATH.format(token=token)

    def pixel() -> str:
        return tracking.open_pixel_url(ref, base_url=base)

    boundary = fast.boundary.encode()
    qp_header = b'Content-Type: text/%s; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
    body = b"".join(
        [
            fast.static_headers,
            ("\r\n".join(headers) + "\r\n\r\n").encode("utf-8"),
            b"--" + boundary + CRLF,
            qp_header % b"plain",
            _fill(fast.text, values=plain, links=link, pixel=pixel),
            CRLF + b"--" + boundary + CRLF,
            qp_header % b"html",
            _fill(fast.html, values=escaped, links=link, pixel=pixel),
            CRLF + b"--" + boundary + b"--" + CRLF,
        ]
    )
    return body, subject


# --- Claim and mark, set-based --------------------------------------------------------------


def messages_claim_batch(*, message_ids: list[int], now: datetime) -> list[Message]:
    """QUEUED and due -> SENDING, or SKIPPED with the reason, or later (quiet hours), for a
    whole batch in one short transaction; returns the claimed rows."""
    reasons = Message.SkipReason
    with transaction.atomic():
        rows = list(
            Message.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__in=message_ids, status=Message.Status.QUEUED, due_at__lte=now)
            .select_related("partner")
            .order_by("pk")
        )
        if not rows:
            return []
        quiet_end = pipeline.quiet_hours_end(at=now)
        if quiet_end is not None:
            later = [m.pk for m in rows if m.kind == Message.Kind.MARKETING]
            Message.objects.filter(pk__in=later).update(due_at=quiet_end)
            rows = [m for m in rows if m.kind != Message.Kind.MARKETING]
        skip: dict[str, list[int]] = {}
        candidates: list[Message] = []
        normalized = {m.pk: (m.address or "").strip().lower() for m in rows}
        for m in rows:
            try:
                validate_email(normalized[m.pk])
                candidates.append(m)
            except ValidationError:
                skip.setdefault(reasons.UNDELIVERABLE, []).append(m.pk)
        suppressed = set(
            Suppression.objects.filter(
                address__in={normalized[m.pk] for m in candidates}
            ).values_list("address", flat=True)
        )
        guest_ids = {m.guest_id for m in candidates if m.guest_id is not None}
        active = set(
            Guest.objects.filter(pk__in=guest_ids, status=Guest.Status.ACTIVE).values_list(
                "pk", flat=True
            )
        )
        granted: dict[tuple[str, int | None], set[int]] = {}
        for m in candidates:
            scope = (m.purpose, m.partner_id)
            if m.kind == Message.Kind.MARKETING and scope not in granted:
                ids = {c.guest_id for c in candidates if (c.purpose, c.partner_id) == scope}
                granted[scope] = set(
                    guests_with_consent(purpose=m.purpose, channel="email", partner=m.partner)
                    .filter(pk__in=ids)
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
        capped = sorted({m.guest_id for m in passed if m.kind == Message.Kind.MARKETING})
        if capped:
            # Guest rows locked in id order: two claims for one guest cannot both pass the cap.
            list(
                Guest.objects.select_for_update()
                .filter(pk__in=capped)
                .order_by("pk")
                .values_list("pk")
            )
            window = now - timedelta(days=settings.NEWSLETTER_FREQUENCY_WINDOW_DAYS)
            recent = dict(
                Message.objects.filter(
                    guest_id__in=capped,
                    kind=Message.Kind.MARKETING,
                    status__in=[
                        Message.Status.SENDING,
                        Message.Status.SENT,
                        Message.Status.IN_DOUBT,
                    ],
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
                        skip.setdefault(reasons.FREQUENCY_CAP, []).append(m.pk)
                        continue
                    recent[m.guest_id] = recent.get(m.guest_id, 0) + 1
                kept.append(m)
            passed = kept
        for reason, ids in skip.items():
            Message.objects.filter(pk__in=ids).update(
                status=Message.Status.SKIPPED, skip_reason=reason, updated_at=now
            )
        domain = settings.NEWSLETTER_LIST_ID_DOMAIN
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


def messages_sent_mark(*, messages: list[tuple[Message, str]], at: datetime) -> int:
    """SENT in one UPDATE per distinct subject, their timeline entries in one INSERT."""
    by_subject: dict[str, list[int]] = {}
    for message, subject in messages:
        by_subject.setdefault(subject, []).append(message.pk)
    done = 0
    with transaction.atomic():
        for subject, ids in by_subject.items():
            done += Message.objects.filter(
                pk__in=ids, status__in=[Message.Status.SENDING, Message.Status.IN_DOUBT]
            ).update(
                status=Message.Status.SENT,
                sent_at=at,
                subject=subject[:255],
                error="",
                updated_at=at,
            )
        with translation.override(settings.LANGUAGE_CODE):
            titles = {s: _("Email sent: %(subject)s") % {"subject": s} for s in by_subject}
        timeline_add_many(
            items=[
                TimelineItem(
                    guest_id=m.guest_id,
                    kind=TimelineEvent.Kind.MESSAGE,
                    occurred_at=at,
                    title=titles[subject],
                    partner_id=m.partner_id,
                    data={
                        "message": m.pk,
                        "source": m.source,
                        "kind": m.kind,
                        "template": m.template,
                        "message_id": m.message_id,
                    },
                    source=m,
                )
                for m, subject in messages
                if m.guest_id is not None
            ]
        )
    return done


def messages_send_fast(*, message_ids: list[int]) -> dict[str, int]:
    """Send a batch of messages at most once each; counts per resulting status.

    SMTP is a conversation of round trips: ``NEWSLETTER_SMTP_SESSIONS`` threads each hold one
    session and take the claimed messages in turn (the database work stays in this thread)."""
    backend = pipeline._connection()
    if not isinstance(backend, SMTPBackend):
        return pipeline.messages_send_batch(message_ids=message_ids)
    now = timezone.now()
    claimed = messages_claim_batch(message_ids=message_ids, now=now)
    if not claimed:
        return {}
    date = formatdate()
    # Compile (and build the MIME skeletons) here, once, before the threads share them.
    for key in {(m.template, m.language, m.kind) for m in claimed}:
        with contextlib.suppress(RenderError):
            fast_email(name=key[0], language=key[1], kind=key[2])
    # The unsubscribe URL needs the URL resolver: load it before the threads.
    pipeline.unsubscribe_url(claimed[0])
    sessions = max(1, min(getattr(settings, "NEWSLETTER_SMTP_SESSIONS", 4), len(claimed)))
    results: list[tuple[Message, str, str, str]] = []  # message, outcome, error, subject
    results_lock = threading.Lock()
    todo = iter(claimed)
    todo_lock = threading.Lock()

    def run(session: SMTPBackend) -> None:
        try:
            while True:
                with todo_lock:
                    message = next(todo, None)
                if message is None:
                    return
                try:
                    data, subject = message_bytes(message, date=date)
                except RenderError as exc:
                    outcome = (message, pipeline._Outcome.PERMANENT, str(exc), "")
                else:
                    pipeline._rate_wait()
                    sent, error = _smtp_send(session, message, data)
                    outcome = (message, sent, error, subject)
                with results_lock:
                    results.append(outcome)
        finally:
            with contextlib.suppress(Exception):  # closing a dead connection may fail too
                session.close()

    threads = [threading.Thread(target=run, args=(backend,))]
    threads += [
        threading.Thread(target=run, args=(pipeline._connection(),)) for _ in range(sessions - 1)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts: dict[str, int] = {}
    sent_ok = [(m, subject) for m, outcome, _e, subject in results if outcome == "sent"]
    if sent_ok:
        messages_sent_mark(messages=sent_ok, at=timezone.now())
        counts[Message.Status.SENT] = len(sent_ok)
    for message, outcome, error, _subject in results:
        if outcome == pipeline._Outcome.SENT:
            continue
        status = pipeline._message_unsent_mark(
            message=message, outcome=outcome, error=error, now=now
        )
        counts[status] = counts.get(status, 0) + 1
    return counts


def _smtp_send(backend: SMTPBackend, message: Message, data: bytes) -> tuple[str, str]:
    try:
        backend.open()
    except Exception as exc:  # nothing was handed over: retry later
        return pipeline._Outcome.TRANSIENT, f"connect: {exc}"
    try:
        refused = backend.connection.sendmail(_envelope_from(), [message.address], data)
    except Exception as exc:
        outcome = pipeline._classify(exc)
        with contextlib.suppress(Exception):
            backend.close()
        return outcome, f"{type(exc).__name__}: {exc}"
    if refused:
        return pipeline._Outcome.PERMANENT, f"refused: {refused}"
    return pipeline._Outcome.SENT, ""


def _envelope_from() -> str:
    return brand_context(language=settings.LANGUAGE_CODE)["sender_email"]
