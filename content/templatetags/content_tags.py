"""Template tags of the public site: the brand, the language switcher and hreflang links, the
main navigation. Each costs a fixed number of queries whatever the size of the site."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template
from django.conf import settings
from django.http import HttpRequest
from django.urls import translate_url
from django.utils import translation
from wagtail.models import Page, Site

from content.models import legal_footer_for
from content.selectors import brand_name_cached
from destination import registry
from destination.models import HEX_COLOUR, Destination

register = template.Library()


@register.simple_tag(takes_context=True)
def brand(context: template.Context) -> Destination:
    """The destination's brand settings, loaded once per request (Wagtail caches it there)."""
    request: HttpRequest | None = context.get("request")
    return Destination.load(request_or_site=request)


@register.filter
def css_colour(value: str, fallback: str = "#0b5cad") -> str:
    """Only a hex colour goes into the inline style: the setting is free text typed by staff."""
    return value if value and HEX_COLOUR.match(value) else fallback


# Open Graph wants a territory (Facebook ignores a bare "en"): the site writes British English
# and the French of France.
OG_LOCALES = {"en": "en_GB", "fr": "fr_FR"}


@register.filter
def og_locale(language_code: str) -> str:
    """ "fr" -> "fr_FR": the Open Graph locale of a site language."""
    return OG_LOCALES.get(language_code) or translation.to_locale(language_code or "")


@dataclass(frozen=True)
class LanguageLink:
    code: str
    name: str
    url: str
    full_url: str
    is_current: bool
    # False when the page has no translation and the link falls back to that language's home.
    is_translation: bool


def _current_page(context: template.Context) -> Page | None:
    page = context.get("page")
    return page if isinstance(page, Page) else None


@register.simple_tag(takes_context=True)
def language_links(context: template.Context) -> list[LanguageLink]:
    """One link per site language: the translation of the current page when there is a live one,
    else that language's home page. Non-page views (search) switch by URL prefix."""
    request: HttpRequest = context["request"]
    current = translation.get_language()
    page = _current_page(context)
    if page is None:
        return [
            LanguageLink(
                code=code,
                name=translation.get_language_info(code)["name_local"],
                url=translate_url(request.get_full_path(), code),
                full_url=request.build_absolute_uri(translate_url(request.get_full_path(), code)),
                is_current=code == current,
                is_translation=True,
            )
            for code, _name in settings.LANGUAGES
        ]
    site = Site.find_for_request(request)
    keys = [page.pk] + ([site.root_page_id] if site else [])
    # One query: every live translation of this page and of the site's home page.
    candidates = (
        # No .public(): it costs a query of its own, and a restricted translation still asks
        # for a login rather than leaking anything.
        Page.objects.live()
        .filter(translation_key__in=Page.objects.filter(pk__in=keys).values("translation_key"))
        .select_related("locale")
    )
    translations: dict[str, Page] = {}
    homes: dict[str, Page] = {}
    for candidate in candidates:
        if candidate.translation_key != page.translation_key:
            homes[candidate.locale.language_code] = candidate
        elif candidate.alias_of_id is None:
            # An alias (wagtail-localize's "sync from") still shows the source language's text:
            # not a translation, so no hreflang, and a reader who asks for French gets the
            # French home page rather than English text under a French menu.
            translations[candidate.locale.language_code] = candidate
    links = []
    for code, _name in settings.LANGUAGES:
        target = translations.get(code) or homes.get(code)
        if target is None:
            continue
        links.append(
            LanguageLink(
                code=code,
                name=translation.get_language_info(code)["name_local"],
                url=target.get_url(request) or "",
                full_url=target.get_full_url(request) or "",
                is_current=code == current,
                is_translation=code in translations,
            )
        )
    return links


@register.simple_tag(takes_context=True)
def site_navigation(context: template.Context) -> dict[str, Any]:
    """The home page of the reader's language and its children shown in menus."""
    request: HttpRequest = context["request"]
    site = Site.find_for_request(request)
    if site is None:
        return {"home": None, "items": []}
    language = translation.get_language()
    home = (
        Page.objects.live()
        .filter(
            translation_key__in=Page.objects.filter(pk=site.root_page_id).values("translation_key"),
            locale__language_code=language,
        )
        .first()
    )
    if home is None:
        home = Page.objects.filter(pk=site.root_page_id).first()
    if home is None:
        return {"home": None, "items": []}
    items = list(home.get_children().live().in_menu())
    current = _current_page(context)
    for item in items:
        item.is_active = bool(current and current.path.startswith(item.path))
    return {"home": home, "items": items}


@dataclass(frozen=True)
class PageSeo:
    canonical_url: str
    # The language of the page's text: an alias shows its original's, whatever its tree.
    language: str
    is_alias: bool


@register.simple_tag(takes_context=True)
def page_seo(context: template.Context, page: Any) -> PageSeo | None:
    """Canonical address and text language of a page. An alias of an untranslated page is a
    copy of its original: search engines are pointed at the original (one query, aliases only)."""
    if not isinstance(page, Page):
        return None
    request: HttpRequest | None = context.get("request")
    if page.alias_of_id:
        original = Page.objects.live().filter(pk=page.alias_of_id).select_related("locale").first()
        if original is not None:
            return PageSeo(
                canonical_url=original.get_full_url(request) or "",
                language=original.locale.language_code,
                is_alias=True,
            )
    return PageSeo(
        canonical_url=page.get_full_url(request) or "",
        language=translation.get_language(),
        is_alias=bool(page.alias_of_id),
    )


@register.simple_tag
def x_default_link(links: list[LanguageLink]) -> LanguageLink | None:
    """hreflang="x-default": the default language's version, else the first translation."""
    translated = [link for link in links if link.is_translation]
    for link in translated:
        if link.code == settings.LANGUAGE_CODE:
            return link
    return translated[0] if translated else None


@register.filter
def absolute_url(url: str, request: HttpRequest | None) -> str:
    """Open Graph wants absolute addresses; renditions give paths under MEDIA_URL. The base is
    the Wagtail Site's hostname and port, like canonical links, not the request's Host header."""
    if not url or url.startswith(("http://", "https://")):
        return url
    site = Site.find_for_request(request) if request is not None else None
    if site is None:
        site = Site.objects.filter(is_default_site=True).first()
    if site is None:
        return url
    return site.root_url.rstrip("/") + url


@register.simple_tag(takes_context=True)
def newsletter_signup_form(context: template.Context, variant: str = "footer") -> str:
    """The newsletter signup form for the footer or a signup block, rendered by the app that
    owns the signup (``destination.registry.register_signup_form``; nothing when none did).
    Ids carry the variant (and a counter for blocks) so two forms on one page stay distinct."""
    render = registry.signup_form()
    if render is None:
        return ""
    counter = (context.render_context.get("newsletter_forms") or 0) + 1
    context.render_context["newsletter_forms"] = counter
    page = _current_page(context)
    return render(
        request=context.get("request"),
        variant=variant,
        auto_id=f"nl-{variant}-{counter}-%s",
        page_id=page.pk if page is not None and page.pk else None,
    )


@register.simple_tag(takes_context=True)
def legal_footer(context: template.Context) -> str:
    """The legal footer in the reader's language, else the brand's default one."""
    request: HttpRequest | None = context.get("request")
    return legal_footer_for(translation.get_language(), request=request)


@register.filter
def get_item(mapping: dict, key: Any) -> Any:
    return mapping.get(key) if mapping else None


@register.simple_tag
def brand_name() -> str:
    """The brand name where no page context loads the settings (Wagtail's admin), cached."""
    return brand_name_cached()
