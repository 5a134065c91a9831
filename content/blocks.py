"""StreamField blocks shared by every page type: one ``BaseStreamBlock`` so editors meet the same
palette everywhere. Each block names its template, icon, description and a preview value, which
Wagtail's block picker shows (``preview_template`` loads the site's stylesheet)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.embeds.blocks import EmbedBlock
from wagtail.images import get_image_model
from wagtail.images.blocks import ImageChooserBlock

PREVIEW_TEMPLATE = "content/blocks/preview.html"


class _PreviewImageMixin:
    """Image blocks preview with any image of the library: a preview value cannot hold a row."""

    def get_preview_value(self) -> Any:
        value = super().get_preview_value()  # type: ignore[misc]  # mixed into a block class
        image = get_image_model().objects.order_by("pk").first()
        if image is None:
            return value
        return self._with_image(value, image)

    def _with_image(self, value: Any, image: Any) -> Any:
        value["image"] = image
        return value


class HeadingBlock(blocks.StructBlock):
    text = blocks.CharBlock(label=_("text"), max_length=120)
    size = blocks.ChoiceBlock(
        label=_("size"),
        choices=[("h2", _("Section heading")), ("h3", _("Sub-heading"))],
        default="h2",
    )

    class Meta:
        icon = "title"
        template = "content/blocks/heading_block.html"
        preview_template = PREVIEW_TEMPLATE
        label = _("Heading")
        description = _("A section heading that structures a long story.")
        preview_value = {"text": "Above the clouds", "size": "h2"}


class CaptionedImageBlock(_PreviewImageMixin, blocks.StructBlock):
    image = ImageChooserBlock(label=_("image"))
    caption = blocks.CharBlock(label=_("caption"), required=False, max_length=250)
    # Photographers must be credited: a separate field keeps the credit out of the caption.
    credit = blocks.CharBlock(label=_("credit"), required=False, max_length=120)

    class Meta:
        icon = "image"
        template = "content/blocks/image_block.html"
        preview_template = PREVIEW_TEMPLATE
        label = _("Image")
        description = _("A full-width photograph with a caption and the photographer's credit.")
        preview_value = {"caption": "First tracks at sunrise", "credit": "Tourist office"}


class QuoteBlock(blocks.StructBlock):
    text = blocks.TextBlock(label=_("quote"))
    attribution = blocks.CharBlock(label=_("attribution"), required=False, max_length=120)

    class Meta:
        icon = "openquote"
        template = "content/blocks/quote_block.html"
        preview_template = PREVIEW_TEMPLATE
        label = _("Quote")
        description = _("Words from a guide, a chef or a guest, set large.")
        preview_value = {
            "text": "Up here, the snow tells you what kind of day it will be.",
            "attribution": "A mountain guide",
        }


class VideoBlock(blocks.StructBlock):
    video = EmbedBlock(
        label=_("video URL"), help_text=_("A YouTube or Vimeo address."), max_width=960
    )
    caption = blocks.CharBlock(label=_("caption"), required=False, max_length=250)

    class Meta:
        icon = "media"
        template = "content/blocks/video_block.html"
        preview_template = PREVIEW_TEMPLATE
        label = _("Video")
        description = _("An embedded video with an optional caption.")
        # No preview value: previewing would call the oEmbed provider over the network.


class GalleryBlock(blocks.StructBlock):
    title = blocks.CharBlock(label=_("title"), required=False, max_length=120)
    images = blocks.ListBlock(CaptionedImageBlock(), label=_("images"), min_num=2)

    class Meta:
        icon = "image"
        template = "content/blocks/gallery_block.html"
        preview_template = PREVIEW_TEMPLATE
        label = _("Gallery")
        description = _("A grid of two or more photographs.")


class LinkTargetMixin:
    """A block value that links either to a page of the site or to an outside address."""

    @staticmethod
    def link_url(value: blocks.StructValue) -> str:
        page = value.get("page")
        if page is not None:
            # Page links are shared by both language trees: follow the reader's language.
            return page.localized.url or ""
        return value.get("url") or ""


class CallToActionBlock(blocks.StructBlock):
    title = blocks.CharBlock(label=_("title"), max_length=120)
    text = blocks.TextBlock(label=_("text"), required=False)
    button_label = blocks.CharBlock(label=_("button label"), max_length=40)
    page = blocks.PageChooserBlock(label=_("page"), required=False)
    url = blocks.URLBlock(label=_("or address"), required=False)

    class Meta:
        icon = "pick"
        template = "content/blocks/call_to_action_block.html"
        preview_template = PREVIEW_TEMPLATE
        label = _("Call to action")
        description = _("A coloured panel with a button to a page or an address.")
        preview_value = {
            "title": "Plan your stay",
            "text": "Lift passes, lessons and lodging in one place.",
            "button_label": "Get started",
            "url": "https://example.com/",
        }

    def clean(self, value: blocks.StructValue) -> blocks.StructValue:
        value = super().clean(value)
        if not value.get("page") and not value.get("url"):
            raise blocks.StructBlockValidationError(
                block_errors={
                    "page": blocks.BlockValidationError(_("Choose a page or an address."))
                }
            )
        return value

    def get_context(self, value: Any, parent_context: dict | None = None) -> dict:
        context = super().get_context(value, parent_context)
        context["link_url"] = LinkTargetMixin.link_url(value)
        return context


class OfferTeaserBlock(_PreviewImageMixin, blocks.StructBlock):
    """A hand-written teaser for an offer. Once the bookings catalogue exists, live offers get
    their own pages with a "Book" button; this block stays for editorial teasers."""

    image = ImageChooserBlock(label=_("image"), required=False)
    title = blocks.CharBlock(label=_("title"), max_length=120)
    text = blocks.TextBlock(label=_("text"), required=False)
    price_label = blocks.CharBlock(
        label=_("price"), required=False, max_length=60, help_text=_('For example "from €89".')
    )
    button_label = blocks.CharBlock(label=_("button label"), max_length=40)
    page = blocks.PageChooserBlock(label=_("page"), required=False)
    url = blocks.URLBlock(label=_("or address"), required=False)

    class Meta:
        icon = "tag"
        template = "content/blocks/offer_teaser_block.html"
        preview_template = PREVIEW_TEMPLATE
        label = _("Offer teaser")
        description = _("An offer with a picture, a price and a button.")
        preview_value = {
            "title": "Three days of ski lessons",
            "text": "Small groups, all levels, meeting point at the foot of the slopes.",
            "price_label": "from €189",
            "button_label": "See the offer",
            "url": "https://example.com/",
        }

    def get_context(self, value: Any, parent_context: dict | None = None) -> dict:
        context = super().get_context(value, parent_context)
        context["link_url"] = LinkTargetMixin.link_url(value)
        return context


class NewsletterSignupBlock(blocks.StructBlock):
    """The newsletter signup form (email, language, interests) with a title and a line of text;
    signups are confirmed by email before anything is used (``content.newsletter``)."""

    title = blocks.CharBlock(label=_("title"), max_length=120)
    text = blocks.TextBlock(label=_("text"), required=False)

    class Meta:
        icon = "mail"
        template = "content/blocks/newsletter_signup_block.html"
        preview_template = PREVIEW_TEMPLATE
        label = _("Newsletter signup")
        description = _("The newsletter signup form, confirmed by email.")
        preview_value = {
            "title": "Our newsletter",
            "text": "Stories, events and offers from the mountains, once a month.",
        }


class BaseStreamBlock(blocks.StreamBlock):
    heading = HeadingBlock()
    paragraph = blocks.RichTextBlock(
        label=_("Paragraph"),
        icon="pilcrow",
        features=["bold", "italic", "link", "ol", "ul", "h3"],
        template="content/blocks/paragraph_block.html",
        preview_template=PREVIEW_TEMPLATE,
        description=_("Body text with links and lists."),
        preview_value=(
            "<p>Fresh snow fell all night: the pistes open at nine, groomed and quiet.</p>"
        ),
    )
    image = CaptionedImageBlock()
    video = VideoBlock()
    quote = QuoteBlock()
    gallery = GalleryBlock()
    call_to_action = CallToActionBlock()
    offer_teaser = OfferTeaserBlock()
    newsletter_signup = NewsletterSignupBlock()
