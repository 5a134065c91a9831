"""Emails rendered from MJML, compiled once and personalised per recipient.

An email named ``<name>`` is three Django templates under ``newsletters/email/``:
``<name>.mjml`` (extends ``base.mjml``, the one branded layout), ``<name>.txt`` (extends
``base.txt``, the plain-text part) and ``<name>.subject.txt``. They are rendered with the brand
and the language only (never with a recipient's data) and the MJML is compiled by the Rust
``mrml`` binding in-process; the result is cached per (name, language, kind, brand version).

What differs per recipient is written ``[[ name ]]`` in the templates: Django leaves it alone,
mrml passes it through, and ``Compiled.personalise`` substitutes the message's JSON scalars,
HTML-escaped in the HTML part, as they are in the text part. A placeholder without a value is
an error (fail closed), never an empty hole in an email.

mrml is given no include loader (editor-written MJML must never read files or URLs) and no
fonts (no Google Fonts link). Its panics (``pyo3_runtime.PanicException``) derive from
``BaseException``, not ``Exception``: they are caught here by name and turned into
``RenderError`` so a bad template fails its message, not the worker.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import mrml
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve
from django.utils import translation

from content.models import legal_footer_for
from destination.models import HEX_COLOUR, Destination
from newsletters.tracking import CLICK_PATH, link_plan

PLACEHOLDER = re.compile(r"\[\[\s*([a-z_][a-z0-9_]*)\s*\]\]")
CACHE_SIZE = 256
Scalar = str | int | float | bool | None


class RenderError(Exception):
    """A template that cannot be compiled or personalised: the message fails, nothing is sent."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


def _split(source: str) -> tuple[str, ...]:
    """``"a [[x]] b"`` -> ``("a ", "x", " b")``: literals at even indexes, names at odd ones."""
    return tuple(PLACEHOLDER.split(source))


def _join(parts: tuple[str, ...], values: Mapping[str, str]) -> str:
    out = list(parts)
    for i in range(1, len(parts), 2):
        out[i] = values[parts[i]]
    return "".join(out)


@dataclass(frozen=True)
class Compiled:
    """One email compiled for one language and brand, ready to personalise."""

    name: str
    language: str
    subject_parts: tuple[str, ...]
    html_parts: tuple[str, ...]
    text_parts: tuple[str, ...]
    compile_ms: float
    # Emails whose links are tracked (campaigns): the compiled HTML cut once around its links
    # (``newsletters.tracking.LinkPlan``, placeholders kept), signed per recipient.
    link_plan: Any = None

    @property
    def placeholders(self) -> frozenset[str]:
        return frozenset(
            parts[i]
            for parts in (self.subject_parts, self.html_parts, self.text_parts)
            for i in range(1, len(parts), 2)
        )

    def personalise(
        self, values: Mapping[str, Scalar], *, tracking_ref: str | None = None
    ) -> Rendered:
        missing = self.placeholders - values.keys()
        if missing:
            raise RenderError(f"{self.name}: no value for {', '.join(sorted(missing))}.")
        plain = {k: "" if v is None else str(v) for k, v in values.items()}
        escaped = {k: html.escape(v) for k, v in plain.items()}
        # A subject is one header line: no recipient value may add a line to it.
        subject = " ".join(_join(self.subject_parts, plain).split())
        html_parts = self.html_parts
        if self.link_plan is not None and tracking_ref is not None:
            html_parts = _split(self.link_plan.render(tracking_ref))
        return Rendered(
            subject=subject,
            html=_join(html_parts, escaped),
            text=_join(self.text_parts, plain),
        )


# --- The brand ------------------------------------------------------------------------------


def _absolute(url: str) -> str:
    if url.startswith(("http://", "https://")):
        return url
    return settings.NEWSLETTER_SITE_URL.rstrip("/") + "/" + url.lstrip("/")


BRAND_TTL_SECONDS = 30
_brands: dict[str, tuple[float, dict[str, Any]]] = {}


def brand_context(*, language: str) -> dict[str, Any]:
    """The brand settings every email is laid out with, as plain values (hashable in JSON).

    Kept BRAND_TTL_SECONDS in the process: a send must not cost the brand's queries per
    recipient, and a change in the admin reaches every email within that time."""
    now = time.monotonic()
    hit = _brands.get(language)
    if hit is not None and now - hit[0] < BRAND_TTL_SECONDS:
        return hit[1]
    values = _brand_load(language=language)
    _brands[language] = (now, values)
    return values


def brand_forget(**kwargs: Any) -> None:
    """Connected to Destination's post_save: this process restyles at once, others within
    BRAND_TTL_SECONDS."""
    _brands.clear()


def _brand_load(*, language: str) -> dict[str, Any]:
    brand = Destination.load()
    logo_url = ""
    if brand.logo is not None:
        try:
            logo_url = _absolute(brand.logo.get_rendition("max-360x120").url)
        except Exception:  # a missing image file must not stop every email
            logo_url = ""
    return {
        "name": brand.name,
        "brand_name": brand.brand_name,
        # Only a hex colour goes into the CSS: a value saved before the validator existed (or
        # written around it) must not break out of the style attribute of every email.
        "primary_color": _colour(brand.primary_color, "#0b5cad"),
        "accent_color": _colour(brand.accent_color, "#f2a900"),
        "website": brand.website or settings.NEWSLETTER_SITE_URL,
        "logo_url": logo_url,
        "legal_footer": legal_footer_for(language),
        "sender_name": brand.default_sender_name or brand.brand_name,
        "sender_email": brand.default_sender_email or settings.DEFAULT_FROM_EMAIL,
        "timezone": brand.timezone,
    }


def _colour(value: str, fallback: str) -> str:
    return value if value and HEX_COLOUR.match(value) else fallback


def brand_version(brand: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(brand, sort_keys=True).encode()).hexdigest()[:16]


# --- Compiling ------------------------------------------------------------------------------


def mjml_to_html(source: str) -> str:
    """Compile MJML with mrml: no include loader, no web fonts; the output is linted."""
    try:
        output = mrml.to_html(
            source,
            parser_options=mrml.ParserOptions(include_loader=mrml.noop_loader()),
            render_options=mrml.RenderOptions(fonts={}),
        )
    except Exception as exc:
        raise RenderError(f"MJML does not compile: {exc}") from exc
    except BaseException as exc:  # pyo3_runtime.PanicException is not an Exception
        if type(exc).__name__ != "PanicException":
            raise
        raise RenderError(f"MJML compiler panicked: {exc}") from exc
    result = output.content
    lint = html_lint(result)
    if lint:
        raise RenderError("; ".join(lint))
    return result


def html_lint(compiled: str) -> list[str]:
    """What is wrong with compiled HTML: MJML left in it (an unknown tag mrml passed through),
    a web font link, or no viewport (the phone layout)."""
    problems = []
    leftover = re.search(r"</?mj-[a-z-]*", compiled)
    if leftover:
        problems.append(f"MJML left in the output: {leftover.group(0)}")
    if "fonts.googleapis.com" in compiled:
        problems.append("a Google Fonts link")
    if 'name="viewport"' not in compiled:
        problems.append("no viewport meta")
    return problems


_cache: OrderedDict[tuple[str, ...], Compiled] = OrderedDict()
_cache_lock = threading.Lock()


def cache_clear() -> None:
    with _cache_lock:
        _cache.clear()
        _brands.clear()


# Emails whose MJML is not a template file but data (a newsletter page's revision) are named
# "<prefix>:<ref>"; the app that owns them registers a source for the prefix.
@dataclass(frozen=True)
class EmailSource:
    mjml: str
    text: str
    subject: str
    # Track the links of the compiled HTML (skipping URLs under these prefixes).
    track_links: bool = False
    track_skip: tuple[str, ...] = ()


def click_route_wired() -> bool:
    """Whether the click redirector answers on the path tracked links use
    (``newsletters.tracking_urls``, mounted by the project's URLs). Until it is wired, links stay
    as written: an email whose links 404 is worse than an untracked one."""
    try:
        match = resolve("/" + CLICK_PATH.replace("{token}", "probe"))
    except Resolver404:
        return False
    return match.url_name == "tracking_click"


def tracking_skip_prefixes() -> tuple[str, ...]:
    """URLs never tracked: the unsubscribe and preference pages all live under /newsletters/
    (the unsubscribe link itself is a ``[[unsubscribe_url]]`` placeholder, never wrapped)."""
    return (settings.NEWSLETTER_SITE_URL.rstrip("/") + "/newsletters/",)


SourceFn = Callable[..., EmailSource]
_sources: dict[str, SourceFn] = {}


def email_source_register(prefix: str, fn: SourceFn) -> None:
    """``fn(ref=..., language=..., kind=..., context=...)`` returns the ``EmailSource`` of the
    email "<prefix>:<ref>" (``context`` holds the brand, the language and ``marketing``)."""
    _sources[prefix] = fn


def email_source_for(name: str) -> SourceFn | None:
    prefix, sep, _ref = name.partition(":")
    return _sources.get(prefix) if sep else None


def email_compile(*, name: str, language: str, kind: str) -> Compiled:
    """The email ``name`` compiled for ``language`` and ``kind`` (marketing adds the
    unsubscribe footer) with the current brand; cached per brand version, so one change of the
    brand in the admin restyles every email from the next send on."""
    brand = brand_context(language=language)
    key = (name, language, kind, brand_version(brand))
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    started = time.perf_counter()
    context = {
        "brand": brand,
        "language": language,
        "marketing": kind == "marketing",
        "email_name": name,
    }
    source_fn = email_source_for(name)
    source: EmailSource | None = None
    with translation.override(language):
        try:
            if source_fn is not None:
                source = source_fn(
                    ref=name.partition(":")[2], language=language, kind=kind, context=context
                )
                mjml_source, text, subject = source.mjml, source.text, source.subject
            else:
                mjml_source = render_to_string(f"newsletters/email/{name}.mjml", context)
                text = render_to_string(f"newsletters/email/{name}.txt", context)
                subject = render_to_string(f"newsletters/email/{name}.subject.txt", context)
        except RenderError:
            raise
        except Exception as exc:
            raise RenderError(f"{name}: {exc}") from exc
    compiled_html = mjml_to_html(mjml_source)
    # Marketing email is tracked (its links signed per recipient, a trap link, the open pixel);
    # a source that is data says so itself (a newsletter page), a template file by its kind.
    if source is not None:
        track, skip = source.track_links, source.track_skip
    else:
        track, skip = kind == "marketing" and click_route_wired(), tracking_skip_prefixes()
    plan = link_plan(compiled_html, skip_prefixes=skip) if track else None
    compiled = Compiled(
        name=name,
        language=language,
        subject_parts=_split(subject.strip()),
        html_parts=_split(compiled_html),
        text_parts=_split(text.strip() + "\n"),
        compile_ms=(time.perf_counter() - started) * 1000,
        link_plan=plan,
    )
    with _cache_lock:
        _cache[key] = compiled
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled
