"""The campaign sender's fast path: claim a batch in SQL, build each email from a MIME skeleton
made once per (email, language, kind, brand), send over one SMTP session, mark the batch in SQL.

The claim and the marks are the pipeline's own functions (``newsletters.services``), which are
set-based for one message or a batch: ``messages_claim`` locks QUEUED, due rows ``FOR UPDATE
SKIP LOCKED`` and checks every recipient at send time (address, suppression, active guest, and
for marketing consent now, quiet hours, the frequency cap), SKIPPED with the reason otherwise.
SMTP happens after that commit, in no transaction and in no thread that touches the database;
``messages_sent_mark`` then marks the batch SENT with each source's SENT hook and the timeline
entries in one INSERT; refused or broken sends are marked one by one as the pipeline does
(retry, FAILED or IN_DOUBT).

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
from email.header import Header
from email.utils import formataddr, formatdate
from typing import Any

from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.utils import timezone

from newsletters import services as pipeline
from newsletters import tracking
from newsletters.models import Message
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


def message_bytes(
    message: Message,
    *,
    date: str | None = None,
    fast: FastEmail | None = None,
    brand_name: str | None = None,
) -> tuple[bytes, str]:
    """The whole email of a claimed message as SMTP bytes, and its subject.

    Given ``fast`` and ``brand_name`` (what ``_batch_prepare`` read), it reads nothing from the
    database: the sending threads call it."""
    if fast is None:
        fast = fast_email(name=message.template, language=message.language, kind=message.kind)
    if brand_name is None:
        brand_name = brand_context(language=message.language)["brand_name"]
    compiled = fast.compiled
    values = dict(message.context)
    headers = [f"To: {message.address}", f"Date: {date or formatdate()}"]
    headers.append(f"Message-ID: {message.message_id}")
    for name, value in pipeline._message_headers(message, brand_name=brand_name).items():
        if name != "Message-ID":
            headers.append(
                f"{name}: {value if value.isascii() else Header(value, 'utf-8').encode()}"
            )
    if message.kind == Message.Kind.MARKETING:
        values["unsubscribe_url"] = pipeline.unsubscribe_url(message)
        values["preferences_url"] = pipeline.preferences_url(message)
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


@dataclass(frozen=True)
class _Batch:
    """What the sending threads need, read in the calling thread: they touch no database (a
    thread's own connection would never be closed, and would not see the caller's rows)."""

    fasts: dict[tuple[str, str, str], FastEmail | RenderError]
    brand_names: dict[str, str]
    envelope_from: str
    date: str


def _batch_prepare(claimed: list[Message]) -> _Batch:
    fasts: dict[tuple[str, str, str], FastEmail | RenderError] = {}
    for key in {(m.template, m.language, m.kind) for m in claimed}:
        try:
            fasts[key] = fast_email(name=key[0], language=key[1], kind=key[2])
        except RenderError as exc:
            fasts[key] = exc
    languages = {m.language for m in claimed} | {settings.LANGUAGE_CODE}
    brands = {language: brand_context(language=language) for language in languages}
    # The unsubscribe URL needs the URL resolver: load it before the threads.
    pipeline.unsubscribe_url(claimed[0])
    return _Batch(
        fasts=fasts,
        brand_names={language: brand["brand_name"] for language, brand in brands.items()},
        envelope_from=brands[settings.LANGUAGE_CODE]["sender_email"],
        date=formatdate(),
    )


def _message_build(message: Message, batch: _Batch) -> tuple[bytes, str]:
    fast = batch.fasts[(message.template, message.language, message.kind)]
    if isinstance(fast, RenderError):
        raise fast
    return message_bytes(
        message, date=batch.date, fast=fast, brand_name=batch.brand_names[message.language]
    )


def messages_send_fast(*, message_ids: list[int]) -> dict[str, int]:
    """Send a batch of messages at most once each; counts per resulting status.

    The claim (``messages_claim``), the marks (``messages_sent_mark`` with each source's SENT
    hook, ``_message_unsent_mark``) and the outcome rules are the pipeline's own; only building
    and handing over differ. SMTP is a conversation of round trips: ``NEWSLETTER_SMTP_SESSIONS``
    threads each hold one session and take the claimed messages in turn; the database work
    stays in this thread."""
    backend = pipeline._connection()
    if not isinstance(backend, SMTPBackend):
        return pipeline.messages_send_batch(message_ids=message_ids)
    now = timezone.now()
    claimed = pipeline.messages_claim(message_ids=message_ids, now=now)
    if not claimed:
        return {}
    batch = _batch_prepare(claimed)
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
                    data, subject = _message_build(message, batch)
                except Exception as exc:  # nothing was handed over: the message fails
                    outcome = (message, pipeline._Outcome.PERMANENT, str(exc), "")
                else:
                    pipeline._rate_wait()
                    sent, error = _smtp_send(session, message, data, sender=batch.envelope_from)
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
        counts[Message.Status.SENT] = pipeline.messages_sent_mark(sent=sent_ok, at=timezone.now())
    for message, outcome, error, _subject in results:
        if outcome == pipeline._Outcome.SENT:
            continue
        status = pipeline._message_unsent_mark(
            message=message, outcome=outcome, error=error, now=now
        )
        counts[status] = counts.get(status, 0) + 1
    return counts


def _smtp_send(
    backend: SMTPBackend, message: Message, data: bytes, *, sender: str
) -> tuple[str, str]:
    try:
        backend.open()
    except Exception as exc:  # nothing was handed over: retry later
        return pipeline._Outcome.TRANSIENT, f"connect: {exc}"
    try:
        connection = backend.connection
        assert connection is not None  # open() succeeded or raised
        refused = connection.sendmail(sender, [message.address], data)
    except Exception as exc:
        outcome = pipeline._classify(exc)
        with contextlib.suppress(Exception):
            backend.close()
        return outcome, f"{type(exc).__name__}: {exc}"
    if refused:
        return pipeline._Outcome.PERMANENT, f"refused: {refused}"
    return pipeline._Outcome.SENT, ""
