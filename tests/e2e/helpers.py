"""What several browser tests do the same way."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.test import Client
from playwright.sync_api import Page

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def staff_sign_in(page: Page, live_server, user) -> None:
    """Sign a staff member in by session cookie (the sign-in form has its own browser test,
    in test_portal)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
    )


# axe-core, vendored (tests/e2e/vendor/README.md says which version and under which licence).
AXE_PATH = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
AXE_BLOCKING = ("serious", "critical")


def axe_violations(page: Page, *, include: str | None = None) -> list[dict]:
    """Runs axe-core on the page as it stands (WCAG 2.x A/AA and best practices) and returns
    its serious and critical violations, each with the selectors of the nodes at fault."""
    # Evaluated through the DevTools protocol rather than added as a <script> tag: the site's
    # Content-Security-Policy allows scripts by nonce only and would block an injected tag.
    page.evaluate(f"() => {{ {AXE_PATH.read_text(encoding='utf-8')}\n}}")
    results = page.evaluate(
        """async (include) => {
            const context = include ? { include: [include] } : document;
            return await axe.run(context, { resultTypes: ["violations"] });
        }""",
        include,
    )
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in results["violations"]
        if violation["impact"] in AXE_BLOCKING
    ]


def seed_site_for_browser(live_server, *, stories: int = 4) -> None:
    """The demo website (a few stories) with the Wagtail Site pointed at the live server.

    Transactional tests flush what data migrations created (Wagtail's root page and root
    collection, locales, the moderation workflow's permissions), so this puts those back
    first."""
    from urllib.parse import urlsplit

    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType
    from django.core.cache import cache
    from django.core.management import call_command
    from wagtail.models import Site

    from tests.content.helpers import wagtail_roots_ensure

    cache.clear()
    for app_label, model, codename, name in [
        ("wagtailadmin", "admin", "access_admin", "Can access Wagtail admin"),
        ("wagtail_localize", "translation", "submit_translation", "Can submit translations"),
    ]:
        content_type, _created = ContentType.objects.get_or_create(app_label=app_label, model=model)
        Permission.objects.get_or_create(
            content_type=content_type, codename=codename, defaults={"name": name}
        )
    wagtail_roots_ensure()
    call_command("seed_content", stories=stories, verbosity=0)
    address = urlsplit(live_server.url)
    Site.objects.filter(is_default_site=True).update(hostname=address.hostname, port=address.port)


def offer_with_sessions_make(partner, *, days: tuple[int, ...] = (5, 6), **fields):
    """A published offer with a session of ten places on each of ``days`` from now."""
    import datetime as dt
    import time

    from django.utils import timezone

    from bookings.models import Offer, Session

    defaults = {
        "kind": Offer.Kind.GROUP_LESSON,
        "slug": f"offer-{time.monotonic_ns()}",
        "title_en": "Group ski lesson",
        "title_fr": "Cours de ski collectif",
        "price_cents": 5000,
        "is_published": True,
        "needs_participant_names": False,
    }
    offer = Offer.objects.create(partner=partner, **{**defaults, **fields})
    for day in days:
        start = (timezone.now() + dt.timedelta(days=day)).replace(microsecond=0)
        Session.objects.create(
            offer=offer, starts_at=start, ends_at=start + dt.timedelta(hours=3), capacity=10
        )
    return offer
