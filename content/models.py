"""The public website: the destination publishes stories, events and its partner directory under
one brand, in every content language (one page tree per locale, kept in step by wagtail-localize).

Listings live in ``content.selectors``; pages only wire them into their context.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db import models
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from modelcluster.models import ClusterableModel
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel, MultiFieldPanel
from wagtail.contrib.settings.models import BaseGenericSetting, register_setting
from wagtail.fields import StreamField
from wagtail.models import Orderable, Page
from wagtail.search import index

from bookings.models import Offer
from content import selectors
from content.blocks import BaseStreamBlock
from destination.models import Destination

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from partners.models import Partner


class Theme(models.TextChoices):
    SKIING = "skiing", _("Skiing")
    FAMILY = "family", _("Family")
    GASTRONOMY = "gastronomy", _("Gastronomy")
    EVENTS = "events", _("Events")
    WELLBEING = "wellbeing", _("Wellbeing")
    OUTDOORS = "outdoors", _("Outdoors")


class SeoMixin:
    """What the base template puts in ``<title>``, the meta description and Open Graph tags.

    Wagtail's own ``seo_title`` and ``search_description`` win when editors fill them in; else the
    page's title, summary and hero image stand in, so no page ships without them.
    """

    def get_meta_title(self) -> str:
        return self.seo_title or self.title  # type: ignore[attr-defined]  # a mixin of Page

    def get_meta_description(self) -> str:
        return (self.search_description or self.get_summary()).strip()  # type: ignore[attr-defined]  # a mixin of Page

    def get_summary(self) -> str:
        return ""

    def get_social_image(self) -> Any:
        return getattr(self, "hero_image", None)

    def get_og_type(self) -> str:
        return "website"


class SitePage(SeoMixin, Page):
    """Fields every page of the public site has: a hero image and a short introduction."""

    hero_image = models.ForeignKey(
        "wagtailimages.Image",
        verbose_name=_("hero image"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Landscape, at least 1600 pixels wide. Also used when the page is shared."),
    )
    intro = models.TextField(_("introduction"), blank=True, max_length=400)

    search_fields = [*Page.search_fields, index.SearchField("intro")]
    content_panels = [*Page.content_panels, FieldPanel("intro"), FieldPanel("hero_image")]

    class Meta:
        abstract = True

    def get_summary(self) -> str:
        return self.intro


class HomePage(SitePage):
    """The root of each language tree: a hero, the featured stories and upcoming events."""

    hero_title = models.CharField(_("hero title"), max_length=120, blank=True)
    hero_button_label = models.CharField(_("hero button label"), max_length=40, blank=True)
    body = StreamField(BaseStreamBlock(), verbose_name=_("body"), blank=True)

    content_panels = [
        *Page.content_panels,
        MultiFieldPanel(
            [
                FieldPanel("hero_title"),
                FieldPanel("intro"),
                FieldPanel("hero_image"),
                FieldPanel("hero_button_label"),
            ],
            heading=_("Hero"),
        ),
        FieldPanel("body"),
    ]
    search_fields = [*SitePage.search_fields, index.SearchField("body")]

    parent_page_types = ["wagtailcore.Page"]
    subpage_types = [
        "content.StoryIndexPage",
        "content.EventIndexPage",
        "content.PartnerDirectoryPage",
        "content.OfferPage",
    ]

    class Meta:
        verbose_name = _("home page")

    def get_sections(self) -> dict[type[Page], Page]:
        """The first live child of each section type (story index, event index), one query."""
        wanted = {
            ContentType.objects.get_for_model(m).pk: m for m in (StoryIndexPage, EventIndexPage)
        }
        sections: dict[type[Page], Page] = {}
        for child in self.get_children().live().filter(content_type_id__in=wanted):
            sections.setdefault(wanted[child.content_type_id], child)
        return sections

    def get_context(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context(request, *args, **kwargs)
        # The locale id, not the Locale: the listing needs no extra query for it.
        context["featured_stories"] = selectors.story_list_featured(locale=self.locale_id)
        context["upcoming_events"] = list(selectors.event_list_upcoming(locale=self.locale_id)[:3])
        sections = self.get_sections()
        context["story_index"] = sections.get(StoryIndexPage)
        context["event_index"] = sections.get(EventIndexPage)
        context["themes"] = Theme.choices
        context["offer_kinds"] = offer_kinds_bookable()
        return context


class StoryIndexPage(SitePage):
    """All stories of one language, filterable by theme (``?theme=skiing``), nine per page."""

    stories_per_page = 9

    parent_page_types = ["content.HomePage"]
    subpage_types = ["content.StoryPage"]

    class Meta:
        verbose_name = _("story index")

    def get_stories(self, theme: str = "") -> models.QuerySet[StoryPage]:
        return selectors.story_list(parent=self, theme=theme)

    def get_context(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context(request, *args, **kwargs)
        theme = request.GET.get("theme", "")
        if theme not in Theme.values:
            theme = ""
        paginator = Paginator(self.get_stories(theme), self.stories_per_page)
        try:
            stories = paginator.page(request.GET.get("page", 1))
        except PageNotAnInteger:
            stories = paginator.page(1)
        except EmptyPage:
            stories = paginator.page(paginator.num_pages)
        context.update(stories=stories, themes=Theme.choices, current_theme=theme)
        return context


class StoryPage(SitePage):
    """An article of the destination's magazine."""

    theme = models.CharField(_("theme"), max_length=16, choices=Theme.choices)
    date = models.DateField(_("date"))
    author_name = models.CharField(_("author"), max_length=120, blank=True)
    featured = models.BooleanField(
        _("feature on the home page"),
        default=False,
        help_text=_("The three latest featured stories open the home page."),
    )
    body = StreamField(BaseStreamBlock(), verbose_name=_("body"))

    content_panels = [
        *SitePage.content_panels,
        FieldRowPanel([FieldPanel("theme"), FieldPanel("date"), FieldPanel("author_name")]),
        FieldPanel("body"),
    ]
    settings_panels = [*Page.settings_panels, FieldPanel("featured")]
    search_fields = [
        *SitePage.search_fields,
        index.SearchField("body"),
        index.SearchField("author_name"),
        index.FilterField("theme"),
        index.FilterField("date"),
    ]

    parent_page_types = ["content.StoryIndexPage"]
    subpage_types: list[str] = []

    class Meta:
        verbose_name = _("story")
        verbose_name_plural = _("stories")

    def get_og_type(self) -> str:
        return "article"


class EventIndexPage(SitePage):
    """Upcoming events of one language, soonest first."""

    parent_page_types = ["content.HomePage"]
    subpage_types = ["content.EventPage"]

    class Meta:
        verbose_name = _("event index")

    def get_events(self) -> models.QuerySet[EventPage]:
        return selectors.event_list_upcoming(parent=self)

    def get_context(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context(request, *args, **kwargs)
        context["events"] = self.get_events()
        return context


class EventPage(SitePage):
    start_at = models.DateTimeField(_("starts at"))
    end_at = models.DateTimeField(_("ends at"))
    place_name = models.CharField(_("place"), max_length=150)
    address = models.CharField(_("address"), max_length=250, blank=True)
    partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("organising partner"),
        null=True,
        blank=True,
        # Deleting a partner must not delete pages editors wrote: the event just loses the link.
        on_delete=models.SET_NULL,
        related_name="+",
    )
    body = StreamField(BaseStreamBlock(), verbose_name=_("body"), blank=True)

    content_panels = [
        *SitePage.content_panels,
        MultiFieldPanel(
            [
                FieldRowPanel([FieldPanel("start_at"), FieldPanel("end_at")]),
                FieldRowPanel([FieldPanel("place_name"), FieldPanel("address")]),
                FieldPanel("partner"),
            ],
            heading=_("When and where"),
        ),
        FieldPanel("body"),
    ]
    search_fields = [
        *SitePage.search_fields,
        index.SearchField("place_name"),
        index.SearchField("body"),
        index.FilterField("start_at"),
        index.FilterField("end_at"),
    ]

    parent_page_types = ["content.EventIndexPage"]
    subpage_types: list[str] = []

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")

    def clean(self) -> None:
        super().clean()
        if self.start_at and self.end_at and self.end_at < self.start_at:
            raise ValidationError({"end_at": _("An event cannot end before it starts.")})


class PartnerDirectoryPage(SitePage):
    """The destination's partner businesses, read live from the partners data, by kind."""

    parent_page_types = ["content.HomePage"]
    subpage_types = ["content.PartnerPage"]
    max_count_per_parent = 1

    class Meta:
        verbose_name = _("partner directory")

    def get_partner_groups(self) -> list[tuple[StrOrPromise, list[Partner]]]:
        return selectors.partner_list_by_kind()

    def get_context(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context(request, *args, **kwargs)
        context["partner_groups"] = self.get_partner_groups()
        # Partners with a page of their own link to it: one query for all of them.
        context["partner_pages"] = {
            page.partner_id: page
            for page in PartnerPage.objects.live().public().child_of(self).select_related("locale")
        }
        return context


# Kinds of offer a visitor looks for together: "ski lessons" are group and private lessons.
LESSONS = "lessons"
OFFER_KIND_GROUPS: dict[str, tuple[str, ...]] = {
    LESSONS: (Offer.Kind.GROUP_LESSON, Offer.Kind.PRIVATE_LESSON),
}
OFFER_PAGE_KINDS = [(LESSONS, _("Ski lessons (group and private)")), *Offer.Kind.choices]

# How the home page names each kind of offer it links to (plural, as a heading).
OFFER_KIND_HEADINGS: dict[str, StrOrPromise] = {
    Offer.Kind.GROUP_LESSON: _("Group ski lessons"),
    Offer.Kind.PRIVATE_LESSON: _("Private lessons"),
    Offer.Kind.STAY: _("Stays"),
    Offer.Kind.PASS: _("Lift passes"),
    Offer.Kind.RENTAL: _("Equipment rental"),
}


class OfferPage(SitePage):
    """Live bookable offers (read from the bookings catalogue at each view) of one kind (or
    group of kinds) and/or one partner, each with its seats left and a "Book" button into the
    booking pages."""

    offer_kind = models.CharField(
        _("kind of offers"),
        max_length=16,
        blank=True,
        help_text=_("Empty: every kind."),
        choices=OFFER_PAGE_KINDS,
    )
    partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("only this partner's offers"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    body = StreamField(BaseStreamBlock(), verbose_name=_("body"), blank=True)

    content_panels = [
        *SitePage.content_panels,
        FieldRowPanel([FieldPanel("offer_kind"), FieldPanel("partner")]),
        FieldPanel("body"),
    ]
    search_fields = [*SitePage.search_fields, index.SearchField("body")]

    parent_page_types = ["content.HomePage"]
    subpage_types: list[str] = []

    class Meta:
        verbose_name = _("offer page")
        verbose_name_plural = _("offer pages")

    def get_offers(self) -> list[Any]:
        group = OFFER_KIND_GROUPS.get(self.offer_kind)
        if group:
            return selectors.offer_list_bookable(kinds=group, partner_id=self.partner_id)
        return selectors.offer_list_bookable(kind=self.offer_kind, partner_id=self.partner_id)

    def get_context(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context(request, *args, **kwargs)
        context["offers"] = offers_with_book_urls(self.get_offers())
        return context


def offers_with_book_urls(offers: list[Any]) -> list[Any]:
    """Adds what an offer card shows: its booking page's address and its price in euros."""
    for offer in offers:
        offer.book_url = offer_book_url(offer.slug)
        offer.price_euros = offer.price_cents / 100
    return offers


def offer_kinds_bookable() -> list[dict[str, Any]]:
    """One entry per kind of offer open for booking, in the catalogue's order: its heading,
    how many offers, the lowest price and the catalogue filtered to it (one query)."""
    by_kind: dict[str, list[Any]] = {}
    for offer in selectors.offer_list_bookable(limit=500):
        by_kind.setdefault(offer.kind, []).append(offer)
    catalogue = reverse("bookings:offer-list")
    return [
        {
            "kind": kind,
            "heading": OFFER_KIND_HEADINGS.get(kind, label),
            "count": len(by_kind[kind]),
            "price_from": min(offer.price_cents for offer in by_kind[kind]) / 100,
            "url": f"{catalogue}?kind={kind}",
        }
        for kind, label in Offer.Kind.choices
        if kind in by_kind
    ]


def offer_book_url(slug: str) -> str:
    """The booking page of an offer, in the reader's language. The booking pages live at
    /<lang>/book/<slug>/; the address is written out if their URLs are not installed."""
    try:
        return reverse("bookings:offer-detail", kwargs={"slug": slug})
    except NoReverseMatch:
        return f"/{translation.get_language() or settings.LANGUAGE_CODE}/book/{slug}/"


class PartnerPage(SitePage):
    """A partner's own page in the directory. The partner's staff may write it (each partner's
    Wagtail group can edit its page only) and submit it; a moderator of the tourist office
    publishes it (``content.services.partner_page_editors_ensure``)."""

    partner = models.ForeignKey(
        "partners.Partner",
        verbose_name=_("partner"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    body = StreamField(BaseStreamBlock(), verbose_name=_("body"), blank=True)

    # Staff of a partner may change their words, not which partner the page is about: the field
    # shows only to those holding "choose_partner" (the tourist office's editors and moderators).
    content_panels = [
        FieldPanel("partner", permission="content.choose_partner"),
        *SitePage.content_panels,
        FieldPanel("body"),
    ]
    search_fields = [*SitePage.search_fields, index.SearchField("body")]

    parent_page_types = ["content.PartnerDirectoryPage"]
    subpage_types: list[str] = []

    class Meta:
        verbose_name = _("partner page")
        verbose_name_plural = _("partner pages")
        permissions = [("choose_partner", _("Can choose the partner a partner page is about"))]

    def clean(self) -> None:
        super().clean()
        # One page per partner and language (a constraint cannot span the page table's locale).
        others = PartnerPage.objects.filter(partner_id=self.partner_id, locale_id=self.locale_id)
        if self.partner_id and others.exclude(pk=self.pk).exists():
            raise ValidationError({"partner": _("This partner has a page in this language.")})


class NewsletterSignup(models.Model):
    """A newsletter signup waiting for (or past) its double opt-in confirmation.

    The form's evidence (page, wording shown, address, browser) is kept here until the person
    clicks the link in the confirmation email. Only then is the address resolved to a guest and
    the consent granted in the ledger (``destination.services.consent``), proved by the click and
    carrying this evidence: an address someone typed is never attached to a profile, nor used,
    before its owner confirms. Unconfirmed signups are deleted once their link has expired.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for confirmation")
        CONFIRMED = "confirmed", _("Confirmed")

    email = models.EmailField(_("email address"), max_length=254)
    # Lower-cased: at most one pending signup per address, so repeats update it.
    email_normalized = models.CharField(max_length=254, editable=False)
    language = models.CharField(_("language"), max_length=8)
    interests = models.JSONField(_("interests"), default=list, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    wording = models.ForeignKey(
        "destination.ConsentWording",
        verbose_name=_("wording shown"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    page_url = models.CharField(_("page"), max_length=500, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)
    guest = models.ForeignKey(
        "destination.Guest",
        verbose_name=_("guest"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="newsletter_signups",
    )
    proof = models.ForeignKey(
        "destination.ConsentProof",
        verbose_name=_("consent proof"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("signed up at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The task sends when a confirmation was requested after the last one it sent: idempotent.
    confirmation_requested_at = models.DateTimeField(null=True, blank=True)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    # Caps the emails one address gets: at most NEWSLETTER_CONFIRM_MAX_SENDS per window of
    # CONFIRM_MAX_AGE, counted from the first email of the window.
    confirmation_window_started_at = models.DateTimeField(null=True, blank=True)
    confirmations_in_window = models.PositiveSmallIntegerField(default=0)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("newsletter signup")
        verbose_name_plural = _("newsletter signups")
        constraints = [
            models.UniqueConstraint(
                fields=["email_normalized"],
                condition=models.Q(status="pending"),
                name="newsletter_signup_one_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.status})"


# --- Per-language texts of the brand ---------------------------------------------------------


@register_setting(icon="doc-full")
class WebsiteTexts(BaseGenericSetting, ClusterableModel):
    """Brand texts that differ per language. The brand itself (name, logo, colours, default
    legal footer) is the ``Destination`` setting; a language without a text here uses it."""

    panels = [InlinePanel("legal_footers", label=_("Legal footer per language"))]

    class Meta:
        verbose_name = _("website texts")


class LegalFooter(Orderable):
    texts = ParentalKey(WebsiteTexts, on_delete=models.CASCADE, related_name="legal_footers")
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    text = models.TextField(
        _("legal footer"), help_text=_("Shown at the foot of the website and of emails.")
    )

    panels = [FieldPanel("language"), FieldPanel("text")]

    class Meta(Orderable.Meta):
        verbose_name = _("legal footer")
        constraints = [
            models.UniqueConstraint(fields=["texts", "language"], name="legal_footer_per_language")
        ]

    def __str__(self) -> str:
        return self.language


LEGAL_FOOTERS_CACHE_KEY = "content:legal-footers"


def legal_footer_for(language: str | None, request: HttpRequest | None = None) -> str:
    """The legal footer in ``language``, else the brand's default (``Destination``). The texts
    are cached (every page's footer shows one) and dropped from the cache when edited."""
    texts = cache.get(LEGAL_FOOTERS_CACHE_KEY)
    if texts is None:
        texts = {footer.language: footer.text for footer in LegalFooter.objects.all()}
        cache.set(LEGAL_FOOTERS_CACHE_KEY, texts, 60 * 60)
    text = texts.get(language or "")
    if text:
        return text
    return Destination.load(request_or_site=request).legal_footer


def legal_footers_forget(**kwargs: Any) -> None:
    cache.delete(LEGAL_FOOTERS_CACHE_KEY)
