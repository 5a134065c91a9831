"""Tracking that tells people from machines: signed links, rewriting, classification, the privacy
rule and the two views. No network, no models: the recorder is an in-memory double."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.core import signing
from django.test import Client, override_settings

from destination.models import Purpose
from newsletters import tracking
from newsletters.tracking import (
    CLICK_SALT,
    OPEN_SALT,
    PROFILING_PURPOSE,
    TRAP_LINK_INDEX,
    Classification,
    HitKind,
    RawHit,
    Reason,
    Storage,
    TrackingPolicy,
    TrackingTokenError,
    Verdict,
    click_target,
    click_token,
    click_url,
    hit_classify,
    hit_use,
    hits_reclassify,
    link_plan,
    link_rewrite,
    networks_from_apple_egress_csv,
    open_pixel_url,
    open_target,
    open_token,
)
from newsletters.tracking_views import PIXEL_GIF, tracking_urlpatterns

BASE = "https://mail.val-neige.example"
SENT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

# Real agents, as logged by senders.
CHROME_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)
IOS_MAIL_WEBVIEW = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148"
)
ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.6778.81 Mobile Safari/537.36"
)
OUTLOOK_DESKTOP = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.18129; Pro)"
THUNDERBIRD = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0"
)
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
YAHOO_PROXY = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
APPLE_MPP = "Mozilla/5.0"
BARRACUDA = "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))"
PROOFPOINT = "Mozilla/5.0 (compatible; Proofpoint URL Defense)"
MIMECAST = "Mimecast URL Protect/1.0"
OFFICE_DISCOVERY = "Microsoft Office Existence Discovery"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
SLACKBOT = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"
HEADLESS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/131.0.0.0 Safari/537.36"
)
PY_REQUESTS = "python-requests/2.32.3"
CURL = "curl/8.11.0"

HOME_IP = "203.0.113.10"  # a person's ISP address (documentation range)
SAFE_LINKS_IP = "40.107.22.5"  # Exchange Online Protection
APPLE_IP = "17.58.100.1"
POLICY = TrackingPolicy()


def hit(
    kind=HitKind.CLICK,
    *,
    link=1,
    after=3600.0,
    method="GET",
    ip=HOME_IP,
    agent=CHROME_WIN,
    ref="m-1",
) -> RawHit:
    return RawHit(
        kind=kind,
        message_ref=ref,
        at=SENT + timedelta(seconds=after),
        method=method,
        ip=ip,
        user_agent=agent,
        link_index=link if kind == HitKind.CLICK else None,
        seconds_since_sent=after,
    )


def opened(**kwargs) -> RawHit:
    return hit(HitKind.OPEN, **kwargs)


# --- Signed links ---------------------------------------------------------------------------


def test_click_url_round_trips_to_the_signed_destination():
    url = click_url(
        "m-42", 3, "https://www.val-neige.example/offres/?utm_source=nl&x=1", base_url=BASE
    )
    assert url.startswith(f"{BASE}/t/c/") and url.endswith("/")
    token = url[len(f"{BASE}/t/c/") : -1]
    target = click_target(token)
    assert (target.message_ref, target.link_index, target.url) == (
        "m-42",
        3,
        "https://www.val-neige.example/offres/?utm_source=nl&x=1",
    )


def test_open_pixel_url_round_trips():
    url = open_pixel_url(17, base_url=BASE + "/")
    assert url.startswith(f"{BASE}/t/o/") and url.endswith(".gif")
    assert open_target(url[len(f"{BASE}/t/o/") : -len(".gif")]) == "17"


def test_the_token_does_not_show_the_destination_in_clear():
    token = click_token("m-1", 1, "https://partner.example/secret-offer")
    assert "partner.example" not in token


def test_a_tampered_token_is_refused():
    token = click_token("m-1", 1, "https://www.val-neige.example/")
    forged = signing.Signer(salt=CLICK_SALT, key="not-our-key").sign_object(
        {"m": "m-1", "i": 1, "u": "https://evil.example/"}
    )
    payload, sig = token.rsplit(":", 1)
    for bad in (forged, payload + ":" + sig[::-1], token[:-2], "x" + token):
        with pytest.raises(TrackingTokenError):
            click_target(bad)


def test_an_open_token_is_not_a_click_token_and_back():
    with pytest.raises(TrackingTokenError):
        click_target(open_token("m-1"))
    with pytest.raises(TrackingTokenError):
        open_target(click_token("m-1", 1, "https://www.val-neige.example/"))


def test_a_token_signed_with_our_key_but_a_bad_url_is_refused():
    for url in ("javascript:alert(1)", "//evil.example/", "/relative", "ftp://x.example/"):
        token = signing.Signer(salt=CLICK_SALT).sign_object({"m": "m-1", "i": 1, "u": url})
        with pytest.raises(TrackingTokenError):
            click_target(token)
    wrong_shape = signing.Signer(salt=CLICK_SALT).sign_object(["m-1", 1])
    with pytest.raises(TrackingTokenError):
        click_target(wrong_shape)


@pytest.mark.parametrize(
    "url", ["mailto:a@b.example", "javascript:alert(1)", "/relative", "https://", "https://a b/"]
)
def test_only_absolute_http_urls_are_signed(url):
    with pytest.raises(ValueError):
        click_url("m-1", 1, url, base_url=BASE)


@pytest.mark.parametrize("salt", [CLICK_SALT, OPEN_SALT])
def test_our_signer_signs_exactly_like_djangos(salt):
    payload = {"m": "m-9", "i": 4, "u": "https://www.val-neige.example/été?a=1"}
    assert tracking._Signer(salt=salt).sign_object(payload) == signing.Signer(
        salt=salt
    ).sign_object(payload)
    with override_settings(SECRET_KEY="another-" + "z" * 50):
        assert tracking._Signer(salt=salt).sign("abc") == signing.Signer(salt=salt).sign("abc")
    assert tracking._Signer(salt=salt).sign("abc") == signing.Signer(salt=salt).sign("abc")


def test_tokens_survive_a_key_rotation():
    with override_settings(SECRET_KEY="old-key-" + "x" * 50):
        token = click_token("m-1", 2, "https://www.val-neige.example/")
    with override_settings(
        SECRET_KEY="new-key-" + "y" * 50, SECRET_KEY_FALLBACKS=["old-key-" + "x" * 50]
    ):
        assert click_target(token).link_index == 2
    with (
        override_settings(SECRET_KEY="new-key-" + "y" * 50, SECRET_KEY_FALLBACKS=[]),
        pytest.raises(TrackingTokenError),
    ):
        click_target(token)


# --- Rewriting ------------------------------------------------------------------------------

EMAIL = """<!doctype html><html><head><title>Val Neige</title></head>
<body style="margin:0">
<a href="https://www.val-neige.example/">Logo</a>
<p>Story: <a class="btn" href="https://www.val-neige.example/stories/powder?utm_source=nl&amp;utm_medium=email">Read</a></p>
<a href="mailto:info@val-neige.example">Write to us</a> <a href="tel:+33479000000">Call</a>
<a href="#top">Top</a> <a href="{{ unsubscribe_url }}">Unsubscribe</a>
<a href="https://www.val-neige.example/newsletters/preferences/abc">Preferences</a>
<a data-no-track href="https://www.val-neige.example/legal">Legal</a>
<a name="bottom">no href</a>
</body></html>"""


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[dict] = []
        self.images: list[dict] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.append(dict(attrs))
        if tag == "img":
            self.images.append(dict(attrs))


def _parse(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def test_link_rewrite_wraps_only_web_links_and_keeps_the_rest():
    out = link_rewrite(
        EMAIL, "m-7", base_url=BASE, skip_prefixes=["https://www.val-neige.example/newsletters/"]
    )
    links = _parse(out).links
    _trap, logo, story, mail, tel, top, unsub, prefs, legal, named = links
    assert click_target(logo["href"].split("/t/c/")[1][:-1]).url == "https://www.val-neige.example/"
    story_target = click_target(story["href"].split("/t/c/")[1][:-1])
    # The &amp; in the HTML is one & in the URL the reader lands on.
    assert story_target.url == (
        "https://www.val-neige.example/stories/powder?utm_source=nl&utm_medium=email"
    )
    assert (story_target.message_ref, story_target.link_index) == ("m-7", 2)
    assert story["class"] == "btn"
    assert mail["href"] == "mailto:info@val-neige.example"
    assert tel["href"] == "tel:+33479000000"
    assert top["href"] == "#top"
    assert unsub["href"] == "{{ unsubscribe_url }}"
    assert prefs["href"] == "https://www.val-neige.example/newsletters/preferences/abc"
    assert legal["href"] == "https://www.val-neige.example/legal"
    assert "href" not in named
    # The text around the links is untouched.
    assert "<p>Story: " in out and ">Read</a></p>" in out and "Write to us</a>" in out


def test_the_trap_link_is_invisible_and_unreachable():
    out = link_rewrite(EMAIL, "m-7", base_url=BASE)
    trap = _parse(out).links[0]
    assert out.index('<body style="margin:0">') < out.index(trap["href"])
    assert "display:none" in trap["style"]
    assert trap["aria-hidden"] == "true" and trap["tabindex"] == "-1"
    target = click_target(trap["href"].split("/t/c/")[1][:-1])
    assert target.link_index == TRAP_LINK_INDEX
    assert re.search(r'tabindex="-1"></a>', out)  # no text a screen reader could reach


def test_the_open_pixel_goes_before_the_body_end():
    out = link_rewrite(EMAIL, "m-7", base_url=BASE)
    (img,) = _parse(out).images
    assert img["width"] == "1" and img["height"] == "1" and img["alt"] == ""
    assert open_target(img["src"].split("/t/o/")[1][: -len(".gif")]) == "m-7"
    assert out.index(img["src"]) < out.index("</body>")
    assert "<img" not in link_rewrite(EMAIL, "m-7", base_url=BASE, pixel=False)


def test_a_plan_is_made_once_and_rendered_per_recipient():
    plan = link_plan(EMAIL)
    assert plan.urls[0] == "https://www.val-neige.example/"
    assert len(plan.urls) == 3  # logo, story, preferences (not skipped here)
    first, second = plan.render("m-1", base_url=BASE), plan.render("m-2", base_url=BASE)
    assert first != second
    second_refs = {
        click_target(a["href"].split("/t/c/")[1][:-1]).message_ref
        for a in _parse(second).links
        if "/t/c/" in a.get("href", "")
    }
    assert second_refs == {"m-2"}


def test_an_email_without_body_or_links_still_gets_trap_and_pixel():
    out = link_rewrite("<p>Hello</p>", "m-1", base_url=BASE)
    parsed = _parse(out)
    assert len(parsed.links) == 1 and len(parsed.images) == 1
    assert out.endswith('.gif" width="1" height="1" alt="" style="' + tracking.PIXEL_STYLE + '">')


# --- Classification: one hit at a time -------------------------------------------------------

CASES = [
    # (name, hit, verdict, reason)
    ("person clicks in Chrome an hour later", hit(), Verdict.HUMAN, Reason.NO_MACHINE_SIGNAL),
    (
        "person clicks on iPhone the next day",
        hit(agent=SAFARI_IPHONE, after=86400),
        Verdict.HUMAN,
        Reason.NO_MACHINE_SIGNAL,
    ),
    (
        "person clicks from iOS Mail's web view",
        hit(agent=IOS_MAIL_WEBVIEW, after=600),
        Verdict.HUMAN,
        Reason.NO_MACHINE_SIGNAL,
    ),
    (
        "person clicks on Android",
        hit(agent=ANDROID_CHROME, after=120),
        Verdict.HUMAN,
        Reason.NO_MACHINE_SIGNAL,
    ),
    (
        "person clicks through iCloud Private Relay",
        hit(agent=SAFARI_IPHONE, ip=APPLE_IP),
        Verdict.HUMAN,
        Reason.NO_MACHINE_SIGNAL,
    ),
    (
        "Outlook desktop shows the images",
        opened(agent=OUTLOOK_DESKTOP, after=900),
        Verdict.HUMAN,
        Reason.NO_MACHINE_SIGNAL,
    ),
    (
        "Thunderbird shows the images",
        opened(agent=THUNDERBIRD, after=900),
        Verdict.HUMAN,
        Reason.NO_MACHINE_SIGNAL,
    ),
    (
        "Gmail's image proxy on open",
        opened(agent=GMAIL_PROXY, ip="66.249.84.1", after=1800),
        Verdict.HUMAN,
        Reason.IMAGE_PROXY,
    ),
    (
        "Yahoo's image proxy (a 'spider' to ua-parser)",
        opened(agent=YAHOO_PROXY, after=1800),
        Verdict.HUMAN,
        Reason.IMAGE_PROXY,
    ),
    (
        "Gmail proxy within seconds of sending",
        opened(agent=GMAIL_PROXY, after=2),
        Verdict.MACHINE,
        Reason.TOO_SOON,
    ),
    (
        "Apple MPP prefetch, generic agent",
        opened(agent=APPLE_MPP, ip="104.28.1.1", after=40),
        Verdict.MACHINE,
        Reason.APPLE_PRIVACY_PREFETCH,
    ),
    (
        "Apple MPP prefetch, Apple address",
        opened(agent=IOS_MAIL_WEBVIEW, ip=APPLE_IP, after=400),
        Verdict.MACHINE,
        Reason.APPLE_PRIVACY_PREFETCH,
    ),
    ("pixel fetched by HEAD", opened(method="HEAD"), Verdict.MACHINE, Reason.NOT_GET),
    ("link checked by HEAD", hit(method="HEAD", agent=CHROME_WIN), Verdict.MACHINE, Reason.NOT_GET),
    (
        "hidden trap link fetched",
        hit(link=TRAP_LINK_INDEX, after=7200),
        Verdict.MACHINE,
        Reason.TRAP_LINK,
    ),
    ("no user agent at all", hit(agent=""), Verdict.MACHINE, Reason.NO_AGENT),
    ("Barracuda names itself", hit(agent=BARRACUDA), Verdict.MACHINE, Reason.SCANNER_AGENT),
    ("Proofpoint names itself", hit(agent=PROOFPOINT), Verdict.MACHINE, Reason.SCANNER_AGENT),
    ("Mimecast names itself", hit(agent=MIMECAST), Verdict.MACHINE, Reason.SCANNER_AGENT),
    ("Office link pre-flight", hit(agent=OFFICE_DISCOVERY), Verdict.MACHINE, Reason.SCANNER_AGENT),
    (
        "Safe Links detonation: Chrome agent from Microsoft's cloud",
        hit(ip=SAFE_LINKS_IP, after=5000),
        Verdict.MACHINE,
        Reason.SCANNER_NETWORK,
    ),
    (
        "Safe Links over IPv6",
        hit(ip="2a01:111:f400:fe1e::1"),
        Verdict.MACHINE,
        Reason.SCANNER_NETWORK,
    ),
    (
        "Chrome agent 4 s after sending (delivery-time scan)",
        hit(after=4),
        Verdict.MACHINE,
        Reason.TOO_SOON,
    ),
    ("Chrome agent 29 s after sending", hit(after=29), Verdict.MACHINE, Reason.TOO_SOON),
    ("Chrome agent 31 s after sending", hit(after=31), Verdict.HUMAN, Reason.NO_MACHINE_SIGNAL),
    (
        "open 3 s after sending",
        opened(agent=OUTLOOK_DESKTOP, after=3),
        Verdict.MACHINE,
        Reason.TOO_SOON,
    ),
    ("Googlebot follows a forwarded link", hit(agent=GOOGLEBOT), Verdict.MACHINE, Reason.BOT_AGENT),
    ("Slack unfurls a shared link", hit(agent=SLACKBOT), Verdict.MACHINE, Reason.BOT_AGENT),
    ("headless Chrome sandbox", hit(agent=HEADLESS), Verdict.MACHINE, Reason.BOT_AGENT),
    ("python-requests", hit(agent=PY_REQUESTS), Verdict.MACHINE, Reason.BOT_AGENT),
    ("curl", opened(agent=CURL), Verdict.MACHINE, Reason.BOT_AGENT),
    (
        "Gmail proxy agent on a click is no image load",
        hit(agent=GMAIL_PROXY),
        Verdict.HUMAN,
        Reason.NO_MACHINE_SIGNAL,
    ),
    (
        "send time unknown: timing says nothing",
        RawHit(HitKind.CLICK, "m-1", SENT, "GET", HOME_IP, CHROME_WIN, 1, None),
        Verdict.HUMAN,
        Reason.NO_MACHINE_SIGNAL,
    ),
]


@pytest.mark.parametrize(("name", "the_hit", "verdict", "reason"), CASES, ids=[c[0] for c in CASES])
def test_single_hits(name, the_hit, verdict, reason):
    assert hit_classify(the_hit, recent_hits_for_message=[], policy=POLICY) == Classification(
        verdict, reason
    )


def test_mpp_generic_agent_counts_for_opens_only():
    # A click with the bare agent is odd but it is no image prefetch: ua-parser knows nothing.
    assert hit_classify(hit(agent=APPLE_MPP), recent_hits_for_message=[], policy=POLICY).reason == (
        Reason.NO_MACHINE_SIGNAL
    )


# --- Classification: sequences ---------------------------------------------------------------


def test_every_link_within_a_second_is_a_gateway():
    # Safe Links-style: a normal Chrome agent, two minutes after sending, every link in 0.4 s.
    burst = [hit(link=n, after=120 + n * 0.1, ip=f"52.{n}.1.1") for n in (1, 2, 3, 4)]
    verdicts = hits_reclassify(burst, policy=POLICY)
    assert [v.reason for v in verdicts] == [Reason.LINK_BURST] * 4
    # Live, the first two looked human; the settle pass catches them.
    live = [
        hit_classify(h, recent_hits_for_message=burst[:i], policy=POLICY)
        for i, h in enumerate(burst)
    ]
    assert [v.verdict for v in live] == [
        Verdict.HUMAN,
        Verdict.HUMAN,
        Verdict.MACHINE,
        Verdict.MACHINE,
    ]


def test_a_person_clicking_two_links_a_minute_apart_is_human():
    first, second = hit(link=1, after=600), hit(link=2, after=660)
    third = hit(link=3, after=661)
    assert (
        hits_reclassify([first, second, third], policy=POLICY)
        == [Classification(Verdict.HUMAN, Reason.NO_MACHINE_SIGNAL)] * 3
    )


def test_the_same_link_twice_is_no_burst():
    double = [hit(link=1, after=600), hit(link=1, after=600.3), hit(link=1, after=600.6)]
    assert {v.verdict for v in hits_reclassify(double, policy=POLICY)} == {Verdict.HUMAN}


def test_a_trap_fetcher_is_a_machine_for_its_other_hits():
    trap = hit(link=TRAP_LINK_INDEX, after=300, ip="198.51.100.7")
    scanner_click = hit(link=2, after=305, ip="198.51.100.7")
    person = hit(link=2, after=3600, ip=HOME_IP)
    assert hit_classify(scanner_click, recent_hits_for_message=[trap], policy=POLICY).reason == (
        Reason.TRAP_FETCHER
    )
    assert hit_classify(person, recent_hits_for_message=[trap], policy=POLICY).is_human
    # Scanner fetched the real link first and the trap second: the settle pass sees it.
    assert hits_reclassify([scanner_click, trap], policy=POLICY)[0].reason == Reason.TRAP_FETCHER
    # Another message's trap says nothing about this one.
    other = hit(link=TRAP_LINK_INDEX, after=300, ip="198.51.100.7", ref="m-2")
    assert hit_classify(scanner_click, recent_hits_for_message=[other], policy=POLICY).is_human


def test_the_trap_is_not_part_of_a_burst_count():
    hits = [
        hit(link=TRAP_LINK_INDEX, after=900),
        hit(link=1, after=900.2),
        hit(link=2, after=900.4),
    ]
    assert hit_classify(hits[2], recent_hits_for_message=hits[:2], policy=POLICY).reason == (
        Reason.TRAP_FETCHER  # same address as the trap, but not a 3-link burst
    )
    other_ip = [hit(link=TRAP_LINK_INDEX, after=900, ip="198.51.100.9"), hits[1]]
    assert hit_classify(hits[2], recent_hits_for_message=other_ip, policy=POLICY).is_human


def test_safe_links_scan_then_the_person():
    # Microsoft's sandbox clicks every link within seconds of delivery with Chrome's agent from
    # its cloud, then the person clicks one link 40 minutes later from home.
    scan = [hit(link=n, after=8 + n * 0.2, ip="40.107.1.1") for n in (1, 2, 3)]
    person = hit(link=2, after=2400, ip=HOME_IP)
    verdicts = hits_reclassify([*scan, person], policy=POLICY)
    assert [v.verdict for v in verdicts] == [Verdict.MACHINE] * 3 + [Verdict.HUMAN]


def test_policy_from_settings_overrides_and_refuses_unknown_keys():
    with override_settings(
        NEWSLETTER_TRACKING={"click_too_soon_seconds": 5, "scanner_networks": ["198.51.100.0/24"]}
    ):
        policy = TrackingPolicy.from_settings()
    assert hit_classify(hit(after=10), recent_hits_for_message=[], policy=policy).is_human
    assert hit_classify(
        hit(ip="198.51.100.3"), recent_hits_for_message=[], policy=policy
    ).reason == (Reason.SCANNER_NETWORK)
    with override_settings(NEWSLETTER_TRACKING={"clik_too_soon": 5}), pytest.raises(ValueError):
        TrackingPolicy.from_settings()


def test_apple_egress_csv_feeds_the_apple_networks():
    csv = (
        "172.224.226.0/27,GB,GB-EN,London,\n2a02:26f7:b3c0:4000::/64,FR,FR-IDF,Paris,\nnot,a,line\n"
    )
    prefixes = networks_from_apple_egress_csv(csv)
    assert prefixes == ["172.224.226.0/27", "2a02:26f7:b3c0:4000::/64"]
    policy = TrackingPolicy(apple_proxy_networks=tuple(prefixes))
    assert hit_classify(
        opened(agent=SAFARI_IPHONE, ip="172.224.226.9"), recent_hits_for_message=[], policy=policy
    ).reason == (Reason.APPLE_PRIVACY_PREFETCH)
    # The same relay address clicking is a person browsing through Private Relay.
    assert hit_classify(
        hit(agent=SAFARI_IPHONE, ip="172.224.226.9"), recent_hits_for_message=[], policy=policy
    ).is_human


def test_classification_is_deterministic_and_ignores_junk_addresses():
    junk = hit(ip="not-an-ip")
    assert hit_classify(junk, recent_hits_for_message=[], policy=POLICY) == hit_classify(
        junk, recent_hits_for_message=[], policy=POLICY
    )
    assert hit_classify(junk, recent_hits_for_message=[], policy=POLICY).is_human
    assert hit_classify(
        hit(ip="::ffff:40.107.3.3"), recent_hits_for_message=[], policy=POLICY
    ).reason == (Reason.SCANNER_NETWORK)


# --- What a hit may be used for --------------------------------------------------------------

HUMAN = Classification(Verdict.HUMAN, Reason.NO_MACHINE_SIGNAL)
MACHINE = Classification(Verdict.MACHINE, Reason.TOO_SOON)


def test_profiling_is_the_destination_purpose():
    assert PROFILING_PURPOSE == Purpose.PROFILING


@pytest.mark.parametrize(
    ("the_hit", "classification", "granted", "storage", "contact", "human"),
    [
        (opened(), HUMAN, True, Storage.PER_GUEST, False, True),
        (opened(), HUMAN, False, Storage.AGGREGATE, False, True),
        (opened(), MACHINE, False, Storage.AGGREGATE, False, False),
        (opened(), MACHINE, True, Storage.PER_GUEST, False, False),
        (hit(), HUMAN, False, Storage.PER_GUEST, True, True),
        (hit(), HUMAN, True, Storage.PER_GUEST, True, True),
        (hit(), MACHINE, True, Storage.PER_GUEST, False, False),
        (hit(link=TRAP_LINK_INDEX), HUMAN, True, Storage.PER_GUEST, False, True),
    ],
    ids=[
        "human open with profiling",
        "human open without profiling",
        "machine open without profiling",
        "machine open with profiling",
        "human click without profiling",
        "human click with profiling",
        "machine click",
        "trap never contact",
    ],
)
def test_hit_use(the_hit, classification, granted, storage, contact, human):
    use = hit_use(hit=the_hit, classification=classification, profiling_granted=granted)
    assert (use.storage, use.real_contact, use.counts_as_human) == (storage, contact, human)


# --- The views ------------------------------------------------------------------------------


@dataclass
class MemoryRecorder:
    """The in-memory double of the pipeline's recorder."""

    sent: dict[str, datetime] = field(default_factory=dict)
    hits: list[tuple[RawHit, Classification]] = field(default_factory=list)
    fail: bool = False

    def message_sent_at(self, message_ref: str) -> datetime | None:
        return self.sent.get(message_ref)

    def recent_hits_for_message(self, message_ref: str, *, since: datetime) -> Sequence[RawHit]:
        return [
            h
            for h, _ in self.hits
            if h.message_ref == message_ref and h.kind == HitKind.CLICK and h.at >= since
        ]

    def record_hit(self, hit: RawHit, classification: Classification) -> None:
        if self.fail:
            raise RuntimeError("database down")
        self.hits.append((hit, classification))


RECORDER = MemoryRecorder()
urlpatterns = tracking_urlpatterns(recorder=RECORDER)


@pytest.fixture
def recorder():
    RECORDER.sent.clear()
    RECORDER.hits.clear()
    RECORDER.fail = False
    with override_settings(ROOT_URLCONF=__name__, NEWSLETTER_TRACKING_BASE_URL="http://testserver"):
        yield RECORDER


def _path(url: str) -> str:
    return url.removeprefix("http://testserver")


@pytest.fixture
def client():
    return Client(HTTP_USER_AGENT=CHROME_WIN, REMOTE_ADDR=HOME_IP)


def test_a_click_redirects_and_records_a_human(recorder, client):
    recorder.sent["m-1"] = datetime.now(UTC) - timedelta(hours=2)
    response = client.get(_path(click_url("m-1", 2, "https://www.val-neige.example/offres/")))
    assert response.status_code == 302
    assert response["Location"] == "https://www.val-neige.example/offres/"
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert not response.cookies
    ((raw, verdict),) = recorder.hits
    assert (raw.kind, raw.message_ref, raw.link_index, raw.method, raw.ip) == (
        HitKind.CLICK,
        "m-1",
        2,
        "GET",
        HOME_IP,
    )
    assert raw.user_agent == CHROME_WIN and 7100 < raw.seconds_since_sent < 7300
    assert verdict == HUMAN


def test_a_head_redirects_too_and_is_a_machine(recorder, client):
    recorder.sent["m-1"] = datetime.now(UTC) - timedelta(hours=2)
    response = client.head(_path(click_url("m-1", 1, "https://www.val-neige.example/")))
    assert response.status_code == 302
    assert response["Location"] == "https://www.val-neige.example/"
    assert recorder.hits[0][1] == Classification(Verdict.MACHINE, Reason.NOT_GET)


def test_a_click_just_after_sending_is_a_machine(recorder, client):
    recorder.sent["m-1"] = datetime.now(UTC) - timedelta(seconds=3)
    client.get(_path(click_url("m-1", 1, "https://www.val-neige.example/")))
    assert recorder.hits[0][1].reason == Reason.TOO_SOON


def test_the_views_see_the_burst_through_the_recorder(recorder, client):
    recorder.sent["m-1"] = datetime.now(UTC) - timedelta(hours=1)
    for n in (1, 2, 3):
        client.get(_path(click_url("m-1", n, f"https://www.val-neige.example/{n}")))
    assert [c.verdict for _, c in recorder.hits] == [Verdict.HUMAN, Verdict.HUMAN, Verdict.MACHINE]
    assert recorder.hits[2][1].reason == Reason.LINK_BURST


def test_a_foreign_or_tampered_click_is_a_400_and_records_nothing(recorder, client):
    forged = signing.Signer(salt=CLICK_SALT, key="k" * 50).sign_object(
        {"m": "m-1", "i": 1, "u": "https://evil.example/"}
    )
    for token in (
        forged,
        open_token("m-1"),
        "abc",
        click_token("m-1", 1, "https://a.example/")[:-3],
    ):
        response = client.get(f"/t/c/{token}/")
        assert response.status_code == 400
        assert "Location" not in response
        assert b"This link does not work" in response.content
    assert recorder.hits == []


@pytest.mark.parametrize(
    "token",
    [
        "%00",
        "a%00b:c",
        "x" * 5000,
        "." + "A" * 3000 + ":" + "B" * 10 + ":" + "C" * 27,
        "%FF%FE",
        "%E2%80%AE",
        ":::",
        "..",
        signing.Signer(salt=OPEN_SALT).sign_object("x"),
        signing.dumps({"m": "m-1", "i": 1, "u": "https://a.example/"}, salt=CLICK_SALT),
    ],
    ids=[
        "nul",
        "nul-inside",
        "huge",
        "fake-compressed",
        "bad-utf8",
        "rtl-mark",
        "colons",
        "dots",
        "other-salt",
        "timestamped",
    ],
)
def test_junk_never_breaks_the_views(recorder, client, token):
    response = client.get(f"/t/c/{token}/")
    assert response.status_code in (400, 404)
    pixel = client.get(f"/t/o/{token}.gif")
    # A control character in the path is refused by the input check before any view (400).
    assert pixel.status_code in (200, 404) or ("%00" in token and pixel.status_code == 400)
    if pixel.status_code == 200:
        assert pixel.content == PIXEL_GIF
    assert recorder.hits == []


@override_settings(LANGUAGE_CODE="fr")
def test_the_bad_link_page_speaks_french(recorder):
    response = Client(HTTP_ACCEPT_LANGUAGE="fr").get("/t/c/junk/")
    assert response.status_code == 400
    assert "Ce lien ne fonctionne pas" in response.content.decode()
    assert "Ouvrez-le à nouveau depuis" in response.content.decode()


def test_other_methods_on_the_redirector_are_refused(recorder, client):
    url = _path(click_url("m-1", 1, "https://www.val-neige.example/"))
    assert client.post(url).status_code == 405
    assert recorder.hits == []


def test_the_pixel_is_a_gif_for_good_and_bad_tokens(recorder, client):
    recorder.sent["m-1"] = datetime.now(UTC) - timedelta(hours=1)
    good = client.get(_path(open_pixel_url("m-1")))
    bad = client.get("/t/o/not-a-token.gif")
    for response in (good, bad):
        assert response.status_code == 200
        assert response["Content-Type"] == "image/gif"
        assert response.content == PIXEL_GIF
        assert "no-store" in response["Cache-Control"]
        assert not response.cookies
    ((raw, verdict),) = recorder.hits
    assert (raw.kind, raw.message_ref, raw.link_index) == (HitKind.OPEN, "m-1", None)
    assert verdict == HUMAN


def test_an_apple_prefetch_of_the_pixel_is_recorded_as_a_machine(recorder):
    recorder.sent["m-1"] = datetime.now(UTC) - timedelta(minutes=2)
    Client(HTTP_USER_AGENT=APPLE_MPP, REMOTE_ADDR="104.28.40.1").get(_path(open_pixel_url("m-1")))
    assert recorder.hits[0][1] == Classification(Verdict.MACHINE, Reason.APPLE_PRIVACY_PREFETCH)


def test_a_failing_recorder_costs_the_reader_nothing(recorder, client):
    recorder.fail = True
    response = client.get(_path(click_url("m-1", 1, "https://www.val-neige.example/")))
    assert response.status_code == 302
    assert client.get(_path(open_pixel_url("m-1"))).content == PIXEL_GIF


def test_the_trap_redirects_like_any_link_and_is_recorded_as_the_trap(recorder, client):
    recorder.sent["m-1"] = datetime.now(UTC) - timedelta(hours=1)
    out = link_rewrite("<body><p>x</p></body>", "m-1")
    trap_href = _parse(out).links[0]["href"]
    response = client.get(_path(trap_href))
    assert response.status_code == 302
    assert recorder.hits[0][1] == Classification(Verdict.MACHINE, Reason.TRAP_LINK)
    # The same fetcher then clicks a real link: a machine too.
    client.get(_path(click_url("m-1", 1, "https://www.val-neige.example/")))
    assert recorder.hits[1][1].reason == Reason.TRAP_FETCHER


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_the_address_is_the_one_our_proxy_saw(recorder):
    recorder.sent["m-1"] = datetime.now(UTC) - timedelta(hours=1)
    Client(
        HTTP_USER_AGENT=CHROME_WIN,
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="1.2.3.4, 40.107.9.9",
    ).get(_path(click_url("m-1", 1, "https://www.val-neige.example/")))
    assert recorder.hits[0][0].ip == "40.107.9.9"
    assert recorder.hits[0][1].reason == Reason.SCANNER_NETWORK


def test_rewriting_keeps_offsets_with_crlf_uppercase_and_entities():
    html = (
        "<HTML>\r\n<BODY>\r\n<p>Caf&eacute; &amp; ski</p>\r\n"
        '<A HREF="https://www.val-neige.example/a?x=1&amp;y=2" TARGET=_blank>A</A>\r\n'
        "<!--[if mso]><p>Outlook only</p><![endif]-->\r\n"
        "<a href='https://www.val-neige.example/b'>B</a>\r\n</BODY></HTML>"
    )
    out = link_rewrite(html, "m-3", base_url=BASE)
    links = [a for a in _parse(out).links if "/t/c/" in a.get("href", "")]
    targets = [click_target(a["href"].split("/t/c/")[1][:-1]) for a in links]
    assert [(t.link_index, t.url) for t in targets] == [
        (0, BASE + "/"),
        (1, "https://www.val-neige.example/a?x=1&y=2"),
        (2, "https://www.val-neige.example/b"),
    ]
    assert "<p>Caf&eacute; &amp; ski</p>" in out
    assert "<!--[if mso]><p>Outlook only</p><![endif]-->" in out
    assert ">A</A>" in out and ">B</a>" in out
    assert out.index("/t/o/") < out.index("</BODY>")
