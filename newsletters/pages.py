"""Newsletters composed in Wagtail: a ``NewsletterPage`` under a "Newsletters" index page.

They live in their own tree under the root (one per locale, translated with wagtail-localize like
the site's pages), outside every site's home page: never in a menu, never publicly routed (their
``serve`` is a 404); an email is what they are. The page's blocks render to MJML inside the one
branded layout, compiled by the pipeline (``newsletters.rendering``) as the email
"newsletter:<revision id>": a campaign pins the revision of each language when it starts, so
every recipient of one language gets the same email, compiled once.

Editors preview the email in the admin at desktop and phone width (``preview_sizes``) and send a
test to themselves ("Send a test to me" in the page's action menu, ``wagtail_hooks``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.fields import StreamField
from wagtail.models import Page, Revision

from newsletters.blocks import NewsletterStreamBlock, stream_render_email
from newsletters.rendering import (
    EmailSource,
    RenderError,
    brand_context,
    click_route_wired,
    mjml_to_html,
    tracking_skip_prefixes,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

SOURCE_PREFIX = "newsletter"
# Sample values of the preview (a recipient's values come from the message).
PREVIEW_VALUES = {"first_name": "Camille", "unsubscribe_url": "#", "preferences_url": "#"}


def newsletter_languages() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def recipient_language(language: str | None) -> str:
    """The guest's language when newsletters are written in it, else the default."""
    language = (language or "").split("-")[0].lower()
    return language if language in newsletter_languages() else settings.LANGUAGE_CODE


class NewsletterIndexPage(Page):
    """The folder of newsletters in the page explorer (one per locale); not a web page."""

    parent_page_types = ["wagtailcore.Page"]
    subpage_types = ["newsletters.NewsletterPage"]
    max_count_per_parent = 1

    class Meta:
        verbose_name = _("newsletters folder")
        verbose_name_plural = _("newsletters folders")

    def serve(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        raise Http404

    def get_sitemap_urls(self, request: HttpRequest | None = None) -> list[dict[str, Any]]:
        return []


class NewsletterPage(Page):
    subject = models.CharField(_("subject"), max_length=150)
    preheader = models.CharField(
        _("preview text"),
        max_length=150,
        blank=True,
        help_text=_("Shown after the subject in most inboxes."),
    )
    body = StreamField(NewsletterStreamBlock(), verbose_name=_("body"))

    content_panels = [
        *Page.content_panels,
        FieldPanel("subject"),
        FieldPanel("preheader"),
        FieldPanel("body"),
    ]
    promote_panels: list[Any] = []

    parent_page_types = ["newsletters.NewsletterIndexPage"]
    subpage_types: list[str] = []

    class Meta:
        verbose_name = _("newsletter")
        verbose_name_plural = _("newsletters")

    def serve(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        raise Http404  # an email, not a web page: seen in the admin preview and in inboxes

    def get_sitemap_urls(self, request: HttpRequest | None = None) -> list[dict[str, Any]]:
        return []

    # --- The email ---

    def email_source(self, *, language: str, kind: str, context: dict[str, Any]) -> EmailSource:
        blocks_mjml, blocks_text = stream_render_email(self.body, language=language)
        values = {**context, "subject": self.subject, "preheader": self.preheader}
        values.update(blocks_mjml=blocks_mjml, blocks_text=blocks_text)
        return EmailSource(
            mjml=render_to_string("newsletters/email/_newsletter_page.mjml", values),
            text=render_to_string("newsletters/email/_newsletter_page.txt", values),
            subject=self.subject,
            track_links=kind == "marketing" and click_route_wired(),
            track_skip=tracking_skip_prefixes(),
        )

    def email_preview_html(self, *, language: str | None = None, kind: str = "marketing") -> str:
        """This (possibly unsaved) version compiled as the email, with sample values."""
        language = recipient_language(language or self.locale.language_code)
        context = {
            "brand": brand_context(language=language),
            "language": language,
            "marketing": kind == "marketing",
            "email_name": "preview",
        }
        with translation.override(language):
            source = self.email_source(language=language, kind="preview", context=context)
        html = mjml_to_html(source.mjml)
        for name, value in PREVIEW_VALUES.items():
            html = html.replace(f"[[{name}]]", value).replace(f"[[ {name} ]]", value)
        return html

    @property
    def preview_modes(self) -> list[tuple[str, StrOrPromise]]:
        return [("", _("Email"))]

    @property
    def preview_sizes(self) -> list[dict[str, Any]]:
        return [
            {
                "name": "desktop",
                "icon": "desktop",
                "device_width": 800,
                "label": _("Preview at desktop width"),
            },
            {
                "name": "mobile",
                "icon": "mobile-alt",
                "device_width": 375,
                "label": _("Preview at phone width (375 px)"),
            },
        ]

    @property
    def default_preview_size(self) -> str:
        return "desktop"

    def serve_preview(self, request: HttpRequest, mode_name: str) -> HttpResponse:
        try:
            html = self.email_preview_html()
        except RenderError as exc:
            return HttpResponse(str(exc), content_type="text/plain; charset=utf-8", status=200)
        return HttpResponse(html)


def newsletter_revision_source(
    *, ref: str, language: str, kind: str, context: dict[str, Any]
) -> EmailSource:
    """The email "newsletter:<revision id>": that revision of a newsletter page."""
    try:
        revision = Revision.page_revisions.get(pk=int(ref))
    except (ValueError, Revision.DoesNotExist) as exc:
        raise RenderError(f"No newsletter revision {ref!r}.") from exc
    page = revision.as_object()
    if not isinstance(page, NewsletterPage):
        raise RenderError(f"Revision {ref} is not a newsletter.")
    return page.email_source(language=language, kind=kind, context=context)


def newsletter_email_name(revision_id: int) -> str:
    return f"{SOURCE_PREFIX}:{revision_id}"


def newsletter_revisions(page: NewsletterPage, *, live: bool = True) -> dict[str, int]:
    """For each newsletter language, the revision a recipient of that language gets: the
    translation's (live or latest), falling back to the page's own in the default language, then
    to this page's. Empty when nothing is there to send."""
    pages = {
        p.locale.language_code: p
        for p in NewsletterPage.objects.filter(translation_key=page.translation_key).select_related(
            "locale"
        )
    }
    if live:
        pages = {code: p for code, p in pages.items() if p.live and p.live_revision_id}

    def revision_of(p: NewsletterPage) -> int | None:
        revision_id: int | None = p.live_revision_id if live else p.latest_revision_id
        return revision_id

    fallback = pages.get(settings.LANGUAGE_CODE) or pages.get(page.locale.language_code)
    result: dict[str, int] = {}
    for code in newsletter_languages():
        chosen = pages.get(code) or fallback
        rev = revision_of(chosen) if chosen is not None else None
        if rev:
            result[code] = rev
    return result
