"""Open and click tracking that tells people from machines. Pure logic: no models, no I/O.

- **Signed links.** ``click_url`` and ``open_pixel_url`` carry an opaque token made with
  ``django.core.signing`` under a salt of their own (a click token is no open token and the
  reverse). The destination URL is inside the signed payload, so the redirector only ever sends a
  browser where we sent it: a tampered, foreign or truncated token is a 400, never a redirect.
  Tokens are signed, not encrypted: they hold the message reference (an opaque id, never the
  address), the link's position and the URL. ``SECRET_KEY_FALLBACKS`` keeps old links working
  across a key rotation; links never expire (they sit in inboxes for years).
- **Rewriting.** ``link_plan(html)`` parses a compiled email once (per template version and
  language) and ``LinkPlan.render(message_ref)`` signs each link per recipient with string joins
  only; ``link_rewrite`` does both. It leaves alone ``mailto:``, ``tel:``, anchors, anything that
  is not an absolute http(s) URL (so a ``{{ unsubscribe_url }}`` placeholder is never wrapped),
  URLs under ``skip_prefixes`` (the unsubscribe and preference pages) and links marked
  ``data-no-track``. It adds one hidden trap link no person can see or reach (``display:none``,
  ``aria-hidden``, ``tabindex=-1``, index ``TRAP_LINK_INDEX``) and, unless told not to, the open
  pixel.
- **Classification.** ``hit_classify(hit, recent_hits_for_message=...)`` says ``human`` or
  ``machine`` with one reason, deterministically, from the hit itself and the message's other
  click hits (see ``docs/newsletters-tracking.md`` for the table of signals and their limits).
- **Use of a hit.** ``hit_use(...)`` is the privacy rule the recorder applies: an open is kept per
  guest only when the guest granted ``Purpose.PROFILING``, counted in aggregate otherwise; only a
  human click is real contact (``guest_contact_touch``); an open never is.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from html import escape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.db.models import Q
from django.utils.encoding import force_bytes, force_str
from ua_parser import parse_device, parse_user_agent

from destination.models import Purpose

CLICK_SALT = "newsletters.tracking.click"
OPEN_SALT = "newsletters.tracking.open"
# The URL layout the views answer on (``tracking_views.tracking_urlpatterns`` builds the
# patterns from the same strings, so a link we write always resolves).
CLICK_PATH = "t/c/{token}/"
OPEN_PATH = "t/o/{token}.gif"
# Index 0 is the hidden trap; real links are numbered from 1 in document order.
TRAP_LINK_INDEX = 0
# No token we make comes near this; anything longer is refused before any decoding.
TOKEN_MAX_LENGTH = 4096
URL_MAX_LENGTH = 2048
# The consent purpose that per-recipient open tracking needs (a profiling use).
PROFILING_PURPOSE = Purpose.PROFILING


class TrackingTokenError(ValueError):
    """A token we did not make, or made for another use."""


# --- Signed links ---------------------------------------------------------------------------


def _base_url(base_url: str | None) -> str:
    base = base_url
    if base is None:
        base = getattr(settings, "NEWSLETTER_TRACKING_BASE_URL", None) or getattr(
            settings, "WAGTAILADMIN_BASE_URL", ""
        )
    return str(base or "").rstrip("/") + "/"


def _check_url(url: str) -> str:
    if not isinstance(url, str) or len(url) > URL_MAX_LENGTH:
        raise ValueError("A tracked URL is a string of at most 2048 characters.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"Only absolute http(s) URLs are tracked, not {url[:80]!r}.")
    if any(ch in url for ch in "\x00\r\n\t "):
        raise ValueError("A tracked URL holds no whitespace or control characters.")
    return url


def _check_ref(message_ref: str | int) -> str:
    ref = str(message_ref)
    if not ref or len(ref) > 64:
        raise ValueError("A message reference is 1 to 64 characters.")
    return ref


# (salt, key) -> an HMAC primed with Django's derived key, copied per signature.
_PRIMED: dict[tuple[str, bytes], Any] = {}


class _Signer(signing.Signer):
    """Django's ``Signer`` (same tokens, same ``SECRET_KEY_FALLBACKS`` handling in ``unsign``)
    that derives its HMAC key once per key instead of once per signature: a newsletter signs
    every link for every recipient. ``test_our_signer_signs_exactly_like_djangos`` holds it to
    Django's output."""

    def signature(self, value: str | bytes, key: str | bytes | None = None) -> str:
        secret = force_bytes(key or self.key)
        salt = force_str(self.salt) + "signer"
        primed = _PRIMED.get((salt, secret))
        if primed is None:
            hasher = getattr(hashlib, self.algorithm)
            derived = hasher(force_bytes(salt) + secret).digest()
            primed = hmac.new(derived, digestmod=hasher)
            if len(_PRIMED) > 64:
                _PRIMED.clear()
            _PRIMED[(salt, secret)] = primed
        mac = primed.copy()
        mac.update(force_bytes(value))
        return signing.b64_encode(mac.digest()).decode()


def _sign(payload: dict[str, Any], salt: str) -> str:
    return _Signer(salt=salt).sign_object(payload)


def click_token(message_ref: str | int, link_index: int, url: str) -> str:
    """The signed token of one link of one message."""
    if not isinstance(link_index, int) or isinstance(link_index, bool) or link_index < 0:
        raise ValueError("A link index is an integer >= 0.")
    payload = {"m": _check_ref(message_ref), "i": link_index, "u": _check_url(url)}
    return _sign(payload, CLICK_SALT)


def open_token(message_ref: str | int) -> str:
    """The signed token of one message's open pixel."""
    return _sign({"m": _check_ref(message_ref)}, OPEN_SALT)


def click_url(
    message_ref: str | int, link_index: int, url: str, *, base_url: str | None = None
) -> str:
    """The absolute tracking URL that redirects to ``url`` (base: ``NEWSLETTER_TRACKING_BASE_URL``,
    else ``WAGTAILADMIN_BASE_URL``)."""
    return _base_url(base_url) + CLICK_PATH.format(token=click_token(message_ref, link_index, url))


def open_pixel_url(message_ref: str | int, *, base_url: str | None = None) -> str:
    """The absolute URL of the message's 1x1 open pixel."""
    return _base_url(base_url) + OPEN_PATH.format(token=open_token(message_ref))


@dataclass(frozen=True)
class ClickTarget:
    message_ref: str
    link_index: int
    url: str


def _loads(token: object, salt: str) -> dict[str, Any]:
    if not isinstance(token, str) or not token or len(token) > TOKEN_MAX_LENGTH:
        raise TrackingTokenError("malformed")
    try:
        payload = _Signer(salt=salt).unsign_object(token)
    except Exception as exc:  # BadSignature for junk; anything else from a token we signed
        # Django checks the signature before decoding anything: junk never reaches zlib/json.
        raise TrackingTokenError("bad signature") from exc
    if not isinstance(payload, dict):
        raise TrackingTokenError("bad payload")
    return payload


def click_target(token: object) -> ClickTarget:
    """Where a click token leads, or TrackingTokenError for any token we did not sign for a click
    (an open token, a tampered one, junk). The URL is re-checked as when it was signed."""
    payload = _loads(token, CLICK_SALT)
    ref, index, url = payload.get("m"), payload.get("i"), payload.get("u")
    if not isinstance(ref, str) or not isinstance(index, int) or not isinstance(url, str):
        raise TrackingTokenError("bad payload")
    try:
        _check_url(url)
    except ValueError as exc:
        raise TrackingTokenError("bad url") from exc
    return ClickTarget(message_ref=ref, link_index=index, url=url)


def open_target(token: object) -> str:
    """The message reference of an open token, or TrackingTokenError."""
    ref = _loads(token, OPEN_SALT).get("m")
    if not isinstance(ref, str):
        raise TrackingTokenError("bad payload")
    return ref


# --- Rewriting a compiled email --------------------------------------------------------------

TRAP_STYLE = (
    "display:none !important;mso-hide:all;visibility:hidden;max-height:0;max-width:0;"
    "overflow:hidden;font-size:0;line-height:0;opacity:0"
)
PIXEL_STYLE = "display:block;border:0;outline:none;width:1px;height:1px"
NO_TRACK_ATTR = "data-no-track"


class _AnchorFinder(HTMLParser):
    """Start and end offsets and attributes of every ``<a>`` tag, and the end of ``<body ...>``."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self._line_starts = [0]
        for match in re.finditer("\n", html):
            self._line_starts.append(match.end())
        self.anchors: list[tuple[int, int, list[tuple[str, str | None]]]] = []
        self.body_open_end: int | None = None

    def _offset(self) -> int:
        line, col = self.getpos()
        return self._line_starts[line - 1] + col

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        text = self.get_starttag_text() or ""
        start = self._offset()
        if tag == "a":
            self.anchors.append((start, start + len(text), attrs))
        elif tag == "body" and self.body_open_end is None:
            self.body_open_end = start + len(text)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


def _should_track(
    href: str | None, attrs: Sequence[tuple[str, str | None]], skip: Sequence[str]
) -> bool:
    if not href:
        return False
    if any(name == NO_TRACK_ATTR for name, _ in attrs):
        return False
    href = href.strip()
    try:
        _check_url(href)
    except ValueError:
        # mailto:, tel:, sms:, #anchor, relative links and template placeholders stay as written.
        return False
    return not any(href.startswith(prefix) for prefix in skip)


def _tag(attrs: Sequence[tuple[str, str | None]], href_slot: str) -> str:
    parts = ["<a"]
    for name, value in attrs:
        if name == "href":
            parts.append(f' href="{href_slot}"')
        elif value is None:
            parts.append(f" {name}")
        else:
            parts.append(f' {name}="{escape(value, quote=True)}"')
    parts.append(">")
    return "".join(parts)


@dataclass(frozen=True)
class LinkPlan:
    """A compiled email cut around its tracked links: ``segments`` has one more entry than
    ``urls``; link ``n`` (from 1) goes between ``segments[n-1]`` and ``segments[n]``. The trap
    and the pixel are added at render time."""

    segments: tuple[str, ...]
    urls: tuple[str, ...]
    body_open_at: int  # position in segments[0] after <body ...> (0 when there is none)
    body_close_at: int  # position in segments[-1] of </body> (its length when there is none)

    def render(
        self, message_ref: str | int, *, base_url: str | None = None, pixel: bool = True
    ) -> str:
        """The email for one message: every tracked link signed for it, the trap link after
        ``<body>`` and the open pixel before ``</body>``."""
        base = _base_url(base_url)
        ref = _check_ref(message_ref)
        # One signer for the whole message; the URLs were checked when the plan was made. Tokens
        # are URL-safe base64 and ":", nothing to escape.
        signer = _Signer(salt=CLICK_SALT)

        def link(index: int, url: str) -> str:
            token = signer.sign_object({"m": ref, "i": index, "u": url})
            return base + CLICK_PATH.format(token=token)

        trap = (
            f'<a href="{link(TRAP_LINK_INDEX, _check_url(base))}"'
            f' style="{TRAP_STYLE}" aria-hidden="true" tabindex="-1"></a>'
        )
        out: list[str] = []
        for index, segment in enumerate(self.segments):
            if index == 0:
                segment = segment[: self.body_open_at] + trap + segment[self.body_open_at :]
            if index == len(self.segments) - 1 and pixel:
                shift = len(trap) if index == 0 else 0
                at = self.body_close_at + shift
                img = (
                    f'<img src="{open_pixel_url(ref, base_url=base)}" width="1"'
                    f' height="1" alt="" style="{PIXEL_STYLE}">'
                )
                segment = segment[:at] + img + segment[at:]
            out.append(segment)
            if index < len(self.urls):
                out.append(link(index + 1, self.urls[index]))
        return "".join(out)


def link_plan(html: str, *, skip_prefixes: Iterable[str] = ()) -> LinkPlan:
    """Parse a compiled email once; see the module docstring for what is tracked."""
    skip = tuple(prefix for prefix in skip_prefixes if prefix)
    finder = _AnchorFinder(html)
    finder.feed(html)
    finder.close()
    segments: list[str] = []
    urls: list[str] = []
    current = ""
    cursor = 0
    first_tracked_at: int | None = None
    for start, end, attrs in finder.anchors:
        href = next((value for name, value in attrs if name == "href"), None)
        if href is None or not _should_track(href, attrs, skip):
            continue
        if first_tracked_at is None:
            first_tracked_at = start
        slot = "\x00HREF\x00"
        before, after = _tag(attrs, slot).split(slot)
        segments.append(current + html[cursor:start] + before)
        urls.append(href.strip())
        current = after
        cursor = end
    segments.append(current + html[cursor:])
    body_open = finder.body_open_end or 0
    if first_tracked_at is not None and body_open > first_tracked_at:
        body_open = 0  # a link before <body> (malformed mail): put the trap first
    last = segments[-1]
    close = last.lower().rfind("</body")  # <BODY> in upper case is still a body
    if close < 0:
        close = len(last)
    return LinkPlan(
        segments=tuple(segments), urls=tuple(urls), body_open_at=body_open, body_close_at=close
    )


def link_rewrite(
    html: str,
    message_ref: str | int,
    *,
    skip_prefixes: Iterable[str] = (),
    base_url: str | None = None,
    pixel: bool = True,
) -> str:
    """``link_plan(html).render(message_ref)``: for one-off emails. A campaign plans once per
    template version and language and renders per recipient."""
    return link_plan(html, skip_prefixes=skip_prefixes).render(
        message_ref, base_url=base_url, pixel=pixel
    )


# --- Hits and their classification -----------------------------------------------------------


class HitKind(StrEnum):
    OPEN = "open"
    CLICK = "click"


class Verdict(StrEnum):
    HUMAN = "human"
    MACHINE = "machine"


# A click that counts as a person's, once stored (``TrackingHit``): human after the settle pass,
# never the trap link. The one definition the reports, the revenue attribution and the
# ``clicked`` segment rule filter with.
REAL_CLICK = Q(
    kind=HitKind.CLICK, verdict=Verdict.HUMAN, settled=True, link_index__gt=TRAP_LINK_INDEX
)


class Reason(StrEnum):
    """Why a hit got its verdict: the first signal that matched, in this order."""

    TRAP_LINK = "trap_link"  # the hidden link no person can see was fetched
    NOT_GET = "not_get"  # HEAD (or any method but GET): link checkers, never a person
    NO_AGENT = "no_agent"  # every mail client and browser sends a User-Agent
    SCANNER_AGENT = "scanner_agent"  # Proofpoint, Mimecast, Barracuda, ... name themselves
    SCANNER_NETWORK = "scanner_network"  # from a security vendor's published ranges
    TRAP_FETCHER = "trap_fetcher"  # same address that fetched this message's trap link
    APPLE_PRIVACY_PREFETCH = "apple_privacy_prefetch"  # Mail Privacy Protection (opens only)
    TOO_SOON = "too_soon"  # within seconds of sending: delivery-time scanning
    LINK_BURST = "link_burst"  # several links of the message within a second or two
    BOT_AGENT = "bot_agent"  # ua-parser says spider, or an HTTP library / headless browser
    IMAGE_PROXY = "image_proxy"  # human: Gmail/Yahoo fetch images when the reader opens
    NO_MACHINE_SIGNAL = "no_machine_signal"  # human: nothing says machine


@dataclass(frozen=True)
class RawHit:
    """One request to the pixel or the redirector, as received (the recorder keeps it raw)."""

    kind: HitKind
    message_ref: str
    at: datetime
    method: str
    ip: str | None
    user_agent: str
    link_index: int | None = None  # clicks only; TRAP_LINK_INDEX for the trap
    seconds_since_sent: float | None = None  # None when the send time is unknown
    url: str = ""  # clicks: the signed destination (kept for the report; no signal reads it)

    @property
    def is_trap(self) -> bool:
        return self.kind == HitKind.CLICK and self.link_index == TRAP_LINK_INDEX


@dataclass(frozen=True)
class Classification:
    verdict: Verdict
    reason: Reason

    @property
    def is_human(self) -> bool:
        return self.verdict == Verdict.HUMAN


def _networks(values: Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values if value)


# Security gateways that fetch links at delivery and say so in their agent. Microsoft Safe Links
# does not (a plain Chrome agent): timing, bursts and the trap catch it. Matched case-insensitively.
SCANNER_AGENT_PATTERNS: tuple[str, ...] = (
    r"proofpoint",
    r"urldefense",
    r"mimecast",
    r"barracuda",
    r"cudasvc",
    r"ironport",
    r"cisco ?secure",
    r"fortiguard|fortimail",
    r"sophos",
    r"symantec|messagelabs",
    r"trend ?micro|\btmes\b",
    r"forcepoint",
    r"zscaler",
    r"safelinks",
    r"microsoft office existence discovery",
    r"\bscanner\b",
    r"link ?(checker|preview|protect)",
)

# Exchange Online Protection's mail-flow ranges, from Microsoft's published "Office 365 URLs and
# IP address ranges" (Exchange Online, SMTP) list: Safe Links / Safe Attachments detonation
# comes from Microsoft's cloud, and no person's browser does. A seed: the operator replaces or
# extends it (and adds Proofpoint/Mimecast/Barracuda customer ranges) with
# NEWSLETTER_TRACKING["scanner_networks"]; vendors change these lists, check them yearly.
DEFAULT_SCANNER_NETWORKS: tuple[str, ...] = (
    "40.92.0.0/15",
    "40.107.0.0/16",
    "52.100.0.0/14",
    "104.47.0.0/17",
    "2a01:111:f400::/48",
    "2a01:111:f403::/48",
)

# Apple owns 17.0.0.0/8. Mail Privacy Protection fetches through the iCloud Private Relay egress
# network (Akamai, Cloudflare, Fastly addresses Apple lists in its egress-ip-ranges.csv): load that
# file into NEWSLETTER_TRACKING["apple_proxy_networks"] with ``networks_from_apple_egress_csv``.
# Used for opens only: Private Relay also carries people's Safari clicks.
DEFAULT_APPLE_PROXY_NETWORKS: tuple[str, ...] = ("17.0.0.0/8",)

# MPP's proxy sends exactly this agent, nothing after it. Real clients always add a platform.
APPLE_PROXY_AGENT = "Mozilla/5.0"

# Mail providers' image proxies fetch when the reader opens the message (not at delivery) and
# cache afterwards: evidence that a mail client displayed the message, with Google's or Yahoo's
# address. ua-parser calls YahooMailProxy a spider; it is not a scanner.
IMAGE_PROXY_PATTERNS: tuple[str, ...] = (
    r"GoogleImageProxy",
    r"ggpht\.com",
    r"YahooMailProxy",
)

# ua-parser families that are programs, not people (its "Spider" device covers crawlers).
AUTOMATION_FAMILIES = frozenset(
    {
        "HeadlessChrome",
        "PhantomJS",
        "Python Requests",
        "Python-urllib",
        "curl",
        "Wget",
        "Go-http-client",
        "Apache-HttpClient",
        "Java",
        "libwww-perl",
        "Scrapy",
    }
)


@dataclass(frozen=True)
class TrackingPolicy:
    """The thresholds and lists the classifier reads. Override any field in settings:
    ``NEWSLETTER_TRACKING = {"click_too_soon_seconds": 20, "scanner_networks": [...]}``."""

    open_too_soon_seconds: float = 10.0
    click_too_soon_seconds: float = 30.0
    burst_seconds: float = 2.0
    burst_links: int = 3  # distinct links of one message (this hit included)
    trap_memory_seconds: float = 24 * 3600.0  # how long a trap fetcher stays a machine
    scanner_agent_patterns: tuple[str, ...] = SCANNER_AGENT_PATTERNS
    scanner_networks: tuple[str, ...] = DEFAULT_SCANNER_NETWORKS
    apple_proxy_networks: tuple[str, ...] = DEFAULT_APPLE_PROXY_NETWORKS
    image_proxy_patterns: tuple[str, ...] = IMAGE_PROXY_PATTERNS
    _compiled: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        compiled = {
            "scanner_agent": re.compile("|".join(self.scanner_agent_patterns), re.IGNORECASE)
            if self.scanner_agent_patterns
            else None,
            "image_proxy": re.compile("|".join(self.image_proxy_patterns), re.IGNORECASE)
            if self.image_proxy_patterns
            else None,
            "scanner_networks": _networks(self.scanner_networks),
            "apple_networks": _networks(self.apple_proxy_networks),
        }
        self._compiled.update(compiled)

    @classmethod
    def from_settings(cls, overrides: Mapping[str, Any] | None = None) -> TrackingPolicy:
        values = dict(getattr(settings, "NEWSLETTER_TRACKING", {}) or {})
        values.update(overrides or {})
        known = {name for name in cls.__dataclass_fields__ if not name.startswith("_")}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"Unknown NEWSLETTER_TRACKING keys: {sorted(unknown)}")
        for name, value in values.items():
            if isinstance(value, list):
                values[name] = tuple(value)
        return cls(**values)

    def is_scanner_agent(self, user_agent: str) -> bool:
        pattern = self._compiled["scanner_agent"]
        return bool(pattern and pattern.search(user_agent))

    def is_image_proxy(self, user_agent: str) -> bool:
        pattern = self._compiled["image_proxy"]
        return bool(pattern and pattern.search(user_agent))

    def in_scanner_network(self, ip: str | None) -> bool:
        return _in_networks(ip, self._compiled["scanner_networks"])

    def in_apple_network(self, ip: str | None) -> bool:
        return _in_networks(ip, self._compiled["apple_networks"])


def networks_from_apple_egress_csv(text: str) -> list[str]:
    """The prefixes of Apple's iCloud Private Relay ``egress-ip-ranges.csv`` (one
    ``prefix,country,region,city,`` per line), for ``apple_proxy_networks``. Lines that are not
    a network are skipped."""
    prefixes = []
    for line in text.splitlines():
        prefix = line.split(",", 1)[0].strip()
        try:
            ipaddress.ip_network(prefix, strict=False)
        except ValueError:
            continue
        prefixes.append(prefix)
    return prefixes


def _in_networks(ip: str | None, networks: Sequence[Any]) -> bool:
    if not ip or not networks:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address.version == net.version and address in net for net in networks)


@lru_cache(maxsize=4096)
def _ua_is_bot(user_agent: str) -> bool:
    device = parse_device(user_agent)
    if device is not None and device.family == "Spider":
        return True
    agent = parse_user_agent(user_agent)
    return agent is not None and agent.family in AUTOMATION_FAMILIES


_DEFAULT_POLICY: TrackingPolicy | None = None


def tracking_policy() -> TrackingPolicy:
    """The policy from settings (built once per process; tests pass their own)."""
    global _DEFAULT_POLICY
    if _DEFAULT_POLICY is None:
        _DEFAULT_POLICY = TrackingPolicy.from_settings()
    return _DEFAULT_POLICY


def _machine(reason: Reason) -> Classification:
    return Classification(Verdict.MACHINE, reason)


def hit_classify(
    hit: RawHit,
    *,
    recent_hits_for_message: Iterable[RawHit],
    policy: TrackingPolicy | None = None,
) -> Classification:
    """Human or machine, and why. Pure and deterministic: the same hit and context give the same
    answer. ``recent_hits_for_message`` are the message's other click hits (the recorder passes
    those of the last ``trap_memory_seconds``; later hits are welcome too, see
    ``hits_reclassify``); hits of other messages and the hit itself are ignored."""
    policy = policy or tracking_policy()
    agent = (hit.user_agent or "").strip()
    others = [
        other
        for other in recent_hits_for_message
        if other.message_ref == hit.message_ref and other is not hit and other != hit
    ]
    if hit.is_trap:
        return _machine(Reason.TRAP_LINK)
    if hit.method.upper() != "GET":
        return _machine(Reason.NOT_GET)
    if not agent:
        return _machine(Reason.NO_AGENT)
    if policy.is_scanner_agent(agent):
        return _machine(Reason.SCANNER_AGENT)
    if policy.in_scanner_network(hit.ip):
        return _machine(Reason.SCANNER_NETWORK)
    memory = timedelta(seconds=policy.trap_memory_seconds)
    if hit.ip and any(
        other.is_trap and other.ip == hit.ip and abs(other.at - hit.at) <= memory
        for other in others
    ):
        return _machine(Reason.TRAP_FETCHER)
    if hit.kind == HitKind.OPEN and (agent == APPLE_PROXY_AGENT or policy.in_apple_network(hit.ip)):
        return _machine(Reason.APPLE_PRIVACY_PREFETCH)
    too_soon = (
        policy.open_too_soon_seconds if hit.kind == HitKind.OPEN else policy.click_too_soon_seconds
    )
    if hit.seconds_since_sent is not None and hit.seconds_since_sent < too_soon:
        return _machine(Reason.TOO_SOON)
    if hit.kind == HitKind.CLICK:
        window = timedelta(seconds=policy.burst_seconds)
        links = {hit.link_index}
        links.update(
            other.link_index
            for other in others
            if other.kind == HitKind.CLICK
            and not other.is_trap
            and abs(other.at - hit.at) <= window
        )
        if len(links) >= policy.burst_links:
            return _machine(Reason.LINK_BURST)
    if hit.kind == HitKind.OPEN and policy.is_image_proxy(agent):
        return Classification(Verdict.HUMAN, Reason.IMAGE_PROXY)
    if _ua_is_bot(agent):
        return _machine(Reason.BOT_AGENT)
    return Classification(Verdict.HUMAN, Reason.NO_MACHINE_SIGNAL)


def hits_reclassify(
    hits: Sequence[RawHit], *, policy: TrackingPolicy | None = None
) -> list[Classification]:
    """Every hit of one message classified against all the others, earlier and later. A scanner
    that fetches a real link first and the trap second, or the first two links of a burst, looks
    human at the moment of its hit; a settle pass (a task some seconds after the hit, before
    anything counts it as contact) catches them. Order of the answers follows ``hits``."""
    return [hit_classify(hit, recent_hits_for_message=hits, policy=policy) for hit in hits]


# --- What a hit may be used for (the privacy rule) --------------------------------------------


class Storage(StrEnum):
    PER_GUEST = "per_guest"  # kept with the message, so with the guest
    AGGREGATE = "aggregate"  # only a count per campaign/journey step, verdict and reason


@dataclass(frozen=True)
class HitUse:
    storage: Storage
    real_contact: bool  # call guest_contact_touch(guest_ids=[...], at=hit.at)
    counts_as_human: bool  # in the report's human opens/clicks (machine events shown apart)


def hit_use(*, hit: RawHit, classification: Classification, profiling_granted: bool) -> HitUse:
    """The rule the recorder applies to each classified hit.

    - An open, human or machine, says something about the person's habits (when they read, which
      client they use): it is a profiling use, kept per guest only when the guest currently
      grants ``Purpose.PROFILING`` (``consent_is_granted(guest=..., purpose=PROFILING_PURPOSE)``),
      otherwise counted in aggregate with nothing that leads back to the guest. An open is never
      real contact.
    - A click is the guest's own request for a page: kept per message (the segment rule "clicked
      a campaign", attribution and the burst/trap signals need it). Only a human click is real
      contact for the retention clock.
    """
    if hit.kind == HitKind.OPEN:
        return HitUse(
            storage=Storage.PER_GUEST if profiling_granted else Storage.AGGREGATE,
            real_contact=False,
            counts_as_human=classification.is_human,
        )
    return HitUse(
        storage=Storage.PER_GUEST,
        real_contact=classification.is_human and not hit.is_trap,
        counts_as_human=classification.is_human,
    )


def hit_with_send_time(hit: RawHit, sent_at: datetime | None) -> RawHit:
    """The hit with ``seconds_since_sent`` filled from the message's send time."""
    if sent_at is None:
        return hit
    return replace(hit, seconds_since_sent=(hit.at - sent_at).total_seconds())
