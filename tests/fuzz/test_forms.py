"""Property-based fuzzing of every public and portal page's forms and query parameters (issue
16): whatever a browser can send gets a 4xx or a normal page, never a server error, and nothing
holding NUL or another control character is stored.

The pages come from the URL conf (every route of the public and portal namespaces, path
arguments filled from a small world); the fields come from the page itself (each <form>'s
inputs, for its method and action) and from the view's source (``request.GET.get("...")``).
Portal pages are fetched as a partner manager, public ones anonymously."""

from __future__ import annotations

import inspect
import re
import time
from dataclasses import dataclass
from html.parser import HTMLParser

import pytest
from django.apps import apps
from django.db import models
from django.test import Client
from django.urls import URLPattern, get_resolver, reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bookings.links import booking_signed_token
from destination.middleware import has_control_characters
from partners.models import Membership
from tests.factories import (
    MembershipFactory,
    PartnerFactory,
    UserFactory,
    book,
    offer_make,
    session_make,
)

pytestmark = pytest.mark.django_db

PUBLIC = ["bookings", "content", None]  # None: the un-namespaced routes (the site search)
PORTAL = ["portal", "bookings_desk", "offers", "gdpr"]
UN_NAMESPACED = {"search"}
# Pages that change state for good go last, so the others still see the world.
LAST = re.compile(r"erase|cancel|delete|undo|merge", re.I)
EXAMPLES_PER_TARGET = 4  # 72 targets: about 25-40 s on this 2-core machine

NASTY = [
    "", " ", '"', "'", "\\", "%", "%00", "*", "(", ")", "NEAR(a", "-", "a:b", "^", "@", "a@",
    "@@", "+", "+33", "0", "-1", "1.5", "1e309", "NaN", "99999999999999999999999",
    "2026-02-30", "2026-12-31", "true", "[]", "{}", "<script>x</script>", "😀", "\u202e",
    "\x00", "a\x00b", "\x1b[31m", "\x07", "line\r\nbreak\ttab", "x" * 5000, "ab " * 2000,
]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=30),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, str, set[str]]] = []
        self._fields: set[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._fields = set()
            self.forms.append((a.get("method", "get").lower(), a.get("action", ""), self._fields))
        elif (
            tag in {"input", "select", "textarea", "button"}
            and a.get("name")
            and self._fields is not None
            and a["name"] != "csrfmiddlewaretoken"
        ):
            self._fields.add(a["name"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._fields = None


_READS = re.compile(r"request\.(GET|POST)\.(?:get|getlist)\(\s*[\"'](\w+)[\"']")


@dataclass(frozen=True)
class Target:
    method: str
    url: str
    fields: tuple[str, ...]
    as_agent: bool


def _routes() -> list[tuple[str, URLPattern, bool]]:
    resolver = get_resolver()
    found = []
    for namespace in PUBLIC + PORTAL:
        if namespace is None:
            patterns = [p for p in _flat(resolver.url_patterns) if p.name in UN_NAMESPACED]
            found += [(p.name, p, False) for p in patterns]
            continue
        sub = resolver.namespace_dict[namespace][1]
        for pattern in _flat(sub.url_patterns):
            if pattern.name:
                found.append((f"{namespace}:{pattern.name}", pattern, namespace in PORTAL))
    return found


def _flat(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            yield pattern
        elif not getattr(pattern, "namespace", None):
            yield from _flat(pattern.url_patterns)


def _source_reads(pattern: URLPattern) -> dict[str, set[str]]:
    reads: dict[str, set[str]] = {"GET": set(), "POST": set()}
    try:
        source = inspect.getsource(inspect.unwrap(pattern.callback))
    except (OSError, TypeError):
        return reads
    for method, name in _READS.findall(source):
        reads[method].add(name)
    return reads


@pytest.fixture
def world():
    school = PartnerFactory(name="Fuzz School", slug="fuzz-school")
    offer = offer_make(school)
    session = session_make(offer)
    booking = book(session)
    manager = MembershipFactory(
        partner=school, role=Membership.Role.MANAGER, user=UserFactory(email="m@fuzz.example")
    ).user
    args = {
        "guest_id": booking.booker_id,
        "pk": session.pk,
        "slug": offer.slug,
        "token": booking_signed_token(booking),
        "reference": booking.reference,
    }
    return manager, args


def _targets(world) -> list[Target]:
    manager, args = world
    agent, anonymous = Client(), Client()
    agent.force_login(manager)
    targets: set[Target] = set()
    for name, pattern, as_agent in _routes():
        kwargs = {k: args[k] for k in pattern.pattern.converters}
        url = reverse(name, kwargs=kwargs)
        client = agent if as_agent else anonymous
        response = client.get(url)
        assert response.status_code < 500, url
        reads = _source_reads(pattern)
        targets.add(Target("get", url, tuple(sorted(reads["GET"])), as_agent))
        if reads["POST"]:
            targets.add(Target("post", url, tuple(sorted(reads["POST"])), as_agent))
        if response.status_code == 200 and "html" in response.get("Content-Type", ""):
            parser = _Forms()
            parser.feed(response.content.decode())
            for method, action, fields in parser.forms:
                action = action.split("?")[0] or url
                if action.startswith("/") and fields:
                    targets.add(Target(method, action, tuple(sorted(fields)), as_agent))
    return sorted(targets, key=lambda t: (bool(LAST.search(t.url)), t.url, t.method))


_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"


def _stored_control_characters() -> list[str]:
    found = []
    for label in ("destination", "partners", "content", "bookings", "newsletters"):
        for model in apps.get_app_config(label).get_models():
            for field in model._meta.concrete_fields:
                if isinstance(field, models.CharField | models.TextField):
                    rows = model._default_manager.filter(**{f"{field.name}__regex": _CONTROL})
                    if rows.exists():
                        found.append(f"{model.__name__}.{field.name}")
    return found


def _probe(target: Target, client: Client):
    # A parameter no view reads rides along: unknown input must be harmless too.
    keys = st.sampled_from((*target.fields, "unexpected"))

    @settings(
        max_examples=EXAMPLES_PER_TARGET,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.dictionaries(keys, VALUES, max_size=6))
    def probe(data: dict[str, str]) -> None:
        send = client.get if target.method == "get" else client.post
        response = send(target.url, data)
        assert response.status_code < 500, (target, data)
        if any(has_control_characters(v) or has_control_characters(k) for k, v in data.items()):
            assert response.status_code == 400, (target, data)

    return probe


def test_no_form_or_query_parameter_makes_a_page_fail(world) -> None:
    started = time.monotonic()
    targets = _targets(world)
    assert len(targets) >= 30, targets  # the URL conf and forms were really walked
    manager, _args = world
    agent, anonymous = Client(), Client()
    agent.force_login(manager)

    for target in targets:
        _probe(target, agent if target.as_agent else anonymous)()
    assert _stored_control_characters() == []
    print(f"{len(targets)} targets fuzzed in {time.monotonic() - started:.1f} s")
