"""The blocks a newsletter page is built from. Each renders to MJML (``mjml_template``, laid into
the one branded layout ``newsletters/email/base.mjml``) and to plain text (``text_template``, the
text part). Blocks that pull live data (a story, an offer with its next dates and price, the
upcoming events, a partner) read it when the email is compiled: once per campaign and language,
never per recipient.

Values differing per recipient are ``[[ name ]]`` placeholders (``[[ first_name ]]`` in the
intro); everything else is escaped by Django's templates. Links are absolute (an email has no
base URL) and in the language being compiled.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.images.blocks import ImageChooserBlock
from wagtail.models import Locale

from bookings.selectors import offer_list_published, session_list_bookable
from content.selectors import event_list_upcoming
from partners.models import Partner


def absolute(url: str) -> str:
    if not url or url.startswith(("http://", "https://")):
        return url
    return settings.NEWSLETTER_SITE_URL.rstrip("/") + "/" + url.lstrip("/")


def image_url(image: Any, spec: str = "width-1200") -> str:
    if image is None:
        return ""
    try:
        return absolute(image.get_rendition(spec).url)
    except Exception:  # a missing image file must not stop the email: it goes without
        return ""


def euros(cents: int | None) -> str:
    if cents is None:
        return ""
    return formats.number_format(cents / 100, decimal_pos=2, use_l10n=True) + " €"


def offer_choices() -> list[tuple[str, str]]:
    return [(str(o.pk), f"{o.title} ({o.partner.name})") for o in offer_list_published()]


def partner_choices() -> list[tuple[str, str]]:
    return [(str(p.pk), p.name) for p in Partner.objects.filter(is_active=True).order_by("name")]


class EmailBlockMixin:
    """A block that renders to MJML and to text with the same context, from the templates
    named after its name in ``NewsletterStreamBlock``: ``newsletters/blocks/<name>.mjml`` and
    ``.txt`` (the name its values are stored under in a page's body)."""

    name: str  # set by the stream block that declares it (wagtail's Block.set_name)

    def email_context(self, value: Any, *, language: str) -> dict[str, Any]:
        return {"value": value}

    def render_email(self, value: Any, *, language: str) -> tuple[str, str]:
        context = self.email_context(value, language=language)
        return (
            render_to_string(f"newsletters/blocks/{self.name}.mjml", context),
            render_to_string(f"newsletters/blocks/{self.name}.txt", context),
        )


class IntroBlock(EmailBlockMixin, blocks.StructBlock):
    heading = blocks.CharBlock(label=_("heading"), max_length=120, required=False)
    text = blocks.TextBlock(label=_("text"))
    greet = blocks.BooleanBlock(
        label=_("greet the recipient by first name"), required=False, default=True
    )

    class Meta:
        icon = "openquote"
        label = _("Introduction")
        description = _("A heading and a few words, with the recipient's first name.")
        preview_value = {
            "heading": "Winter is here",
            "text": "The lifts open on Saturday.",
            "greet": True,
        }


class StoryTeaserBlock(EmailBlockMixin, blocks.StructBlock):
    story = blocks.PageChooserBlock(label=_("story"), page_type="content.StoryPage")
    button_label = blocks.CharBlock(label=_("button label"), max_length=40, required=False)

    class Meta:
        icon = "doc-full"
        label = _("Story teaser")
        description = _("A story of the magazine: its image, title, introduction and a link.")

    def email_context(self, value: Any, *, language: str) -> dict[str, Any]:
        story = value["story"]
        if story is not None:
            story = story.specific.localized  # the translation in this language, if live
        url = absolute(story.get_url() or "") if story is not None else ""
        return {
            "story": story,
            "url": url,
            "image_url": image_url(getattr(story, "hero_image", None)),
            "button_label": value.get("button_label") or _("Read the story"),
        }


class OfferTeaserBlock(EmailBlockMixin, blocks.StructBlock):
    offer = blocks.ChoiceBlock(label=_("offer"), choices=offer_choices)
    text = blocks.TextBlock(label=_("text"), required=False)

    class Meta:
        icon = "tag"
        label = _("Offer teaser")
        description = _("A live offer with its next dates and price, and a booking link.")

    def email_context(self, value: Any, *, language: str) -> dict[str, Any]:
        offer = offer_list_published().filter(pk=value.get("offer") or 0).first()
        if offer is None:  # unpublished since: the block says nothing rather than a dead link
            return {"offer": None}
        sessions = list(session_list_bookable(offer)[:3])
        zone = timezone.get_current_timezone()
        dates = [formats.date_format(s.starts_at.astimezone(zone), "DATE_FORMAT") for s in sessions]
        try:
            url = absolute(reverse("bookings:offer-detail", kwargs={"slug": offer.slug}))
        except NoReverseMatch:
            url = ""
        return {
            "offer": offer,
            "title": offer.title,
            "text": value.get("text", ""),
            "partner": offer.partner.name,
            "price": euros(offer.price_cents),
            "dates": dates,
            "url": url,
        }


class EventListBlock(EmailBlockMixin, blocks.StructBlock):
    heading = blocks.CharBlock(label=_("heading"), max_length=120, required=False)
    count = blocks.IntegerBlock(label=_("how many"), min_value=1, max_value=8, default=3)

    class Meta:
        icon = "date"
        label = _("Upcoming events")
        description = _("The next events of the destination's calendar, in this language.")

    def email_context(self, value: Any, *, language: str) -> dict[str, Any]:
        locale = Locale.objects.filter(language_code=language).first()
        events = list(event_list_upcoming(locale=locale)[: value.get("count") or 3])
        zone = timezone.get_current_timezone()
        return {
            "heading": value.get("heading") or _("Coming up"),
            "events": [
                {
                    "title": e.title,
                    "when": formats.date_format(e.start_at.astimezone(zone), "DATE_FORMAT"),
                    "place": getattr(e, "place_name", ""),
                    "url": absolute(e.get_url() or ""),
                }
                for e in events
            ],
        }


class PartnerSpotlightBlock(EmailBlockMixin, blocks.StructBlock):
    partner = blocks.ChoiceBlock(label=_("partner"), choices=partner_choices)
    text = blocks.TextBlock(label=_("text"))
    image = ImageChooserBlock(label=_("image"), required=False)

    class Meta:
        icon = "group"
        label = _("Partner spotlight")
        description = _("One partner of the destination, in a few words.")

    def email_context(self, value: Any, *, language: str) -> dict[str, Any]:
        partner = Partner.objects.filter(pk=value.get("partner") or 0, is_active=True).first()
        return {
            "partner": partner,
            "text": value.get("text", ""),
            "image_url": image_url(value.get("image"), "fill-1200x600"),
            "url": absolute(partner.website) if partner is not None else "",
        }


class ImageBlock(EmailBlockMixin, blocks.StructBlock):
    image = ImageChooserBlock(label=_("image"))
    alt = blocks.CharBlock(label=_("description for screen readers"), max_length=200)
    link = blocks.URLBlock(label=_("link"), required=False)

    class Meta:
        icon = "image"
        label = _("Image")

    def email_context(self, value: Any, *, language: str) -> dict[str, Any]:
        return {"value": value, "image_url": image_url(value.get("image"))}


class ButtonBlock(EmailBlockMixin, blocks.StructBlock):
    label = blocks.CharBlock(label=_("label"), max_length=40)
    url = blocks.URLBlock(label=_("link"))

    class Meta:
        icon = "link"
        label = _("Button")
        preview_value = {"label": "Book now", "url": "https://example.org/"}


class NewsletterStreamBlock(blocks.StreamBlock):
    intro = IntroBlock()
    story_teaser = StoryTeaserBlock()
    offer_teaser = OfferTeaserBlock()
    event_list = EventListBlock()
    partner_spotlight = PartnerSpotlightBlock()
    image = ImageBlock()
    button = ButtonBlock()


def stream_render_email(stream: Any, *, language: str) -> tuple[str, str]:
    """The MJML and text of every block of a newsletter's body, in order, in ``language``."""
    mjml_parts: list[str] = []
    text_parts: list[str] = []
    with translation.override(language):
        for child in stream:
            block = child.block
            if not isinstance(block, EmailBlockMixin):
                continue
            mjml, text = block.render_email(child.value, language=language)
            mjml_parts.append(mjml)
            text_parts.append(text.strip())
    return "\n".join(mjml_parts), "\n\n".join(p for p in text_parts if p)
