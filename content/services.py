"""Writes of the content app: locales, the editorial groups, images, the site root and page
translations through wagtail-localize."""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.files.images import ImageFile
from django.db import transaction
from wagtail.images import get_image_model
from wagtail.models import (
    Collection,
    GroupCollectionPermission,
    GroupPagePermission,
    Locale,
    Page,
    Site,
    Workflow,
    WorkflowPage,
)
from wagtail_localize.models import (
    LocaleSynchronization,
    StringSegment,
    StringTranslation,
    Translation,
    TranslationSource,
)
from wagtail_localize.strings import StringValue

from content.models import PartnerPage
from destination.models import User

if TYPE_CHECKING:
    from partners.models import Partner

logger = logging.getLogger(__name__)

EDITORS = "Editors"
MODERATORS = "Moderators"

# Editors write and submit; moderators also publish (through the moderation workflow, which
# sends editors' submissions to them), lock and unlock. Both work on every language tree.
PAGE_PERMISSIONS = {
    EDITORS: ["add_page", "change_page"],
    MODERATORS: ["add_page", "change_page", "publish_page", "lock_page", "unlock_page"],
}
IMAGE_PERMISSIONS = ["add_image", "change_image", "choose_image"]
# Both may start a translation of a page with wagtail-localize.
GLOBAL_PERMISSIONS = [
    ("wagtailadmin", "access_admin"),
    ("wagtail_localize", "submit_translation"),
]


def locales_ensure() -> dict[str, Locale]:
    """One Wagtail locale per content language (en, fr), each other language's tree synchronised
    from the default one (wagtail-localize's "sync from"): a page created in the English tree in
    the admin appears at once in the French tree, as an alias showing the English text, until a
    translator translates it (wagtail-localize then turns the alias into the translation)."""
    locales = {
        code: Locale.objects.get_or_create(language_code=code)[0]
        for code, _name in settings.WAGTAIL_CONTENT_LANGUAGES
    }
    source = locales.get(settings.LANGUAGE_CODE)
    if source is not None:
        for code, locale in locales.items():
            if code != settings.LANGUAGE_CODE:
                LocaleSynchronization.objects.get_or_create(
                    locale=locale, defaults={"sync_from": source}
                )
    return locales


@transaction.atomic
def editorial_groups_ensure() -> dict[str, Group]:
    """The tourist office's marketing editors and moderators, with rights on the whole page tree
    (the root, so every language tree) and the image library, and the moderation workflow on.

    Wagtail creates both groups in its first migrations; this re-creates what a deployment may
    have deleted and adds the translation right, so it is safe to run on every seed."""
    root = Page.get_first_root_node()
    root_collection = Collection.get_first_root_node()
    groups: dict[str, Group] = {}
    for name, codenames in PAGE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=name)
        for codename in codenames:
            permission = Permission.objects.get(
                content_type__app_label="wagtailcore", codename=codename
            )
            GroupPagePermission.objects.get_or_create(group=group, page=root, permission=permission)
        for codename in IMAGE_PERMISSIONS:
            permission = Permission.objects.get(
                content_type__app_label="wagtailimages", codename=codename
            )
            GroupCollectionPermission.objects.get_or_create(
                group=group, collection=root_collection, permission=permission
            )
        for app_label, codename in [*GLOBAL_PERMISSIONS, ("content", "choose_partner")]:
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        groups[name] = group
    # Wagtail's default "Moderators approval" workflow, on the root so it covers every tree.
    if not WorkflowPage.objects.filter(page=root).exists():
        workflow = Workflow.objects.filter(active=True).first()
        if workflow is not None:
            WorkflowPage.objects.create(page=root, workflow=workflow)
    return groups


PARTNER_GROUP_PREFIX = "Partner editors: "


@transaction.atomic
def partner_page_editors_ensure(*, partner: Partner) -> Group | None:
    """The Wagtail group of one partner's staff: they may edit that partner's pages (every
    language) and nothing else, and may not publish. Saving gives a draft, "Submit for
    moderation" sends it through the moderation workflow on the tree's root, and a moderator
    of the tourist office publishes it.

    Safe to run again: the group's page rights and members are set to exactly the partner's
    pages and its active staff (someone who left loses access). Returns None for a partner
    without a page and without a group."""
    name = f"{PARTNER_GROUP_PREFIX}{partner.slug}"[:150]
    pages = list(PartnerPage.objects.filter(partner=partner))
    group = Group.objects.filter(name=name).first()
    if group is None:
        if not pages:
            return None
        group = Group.objects.create(name=name)
    change_page = Permission.objects.get(
        content_type__app_label="wagtailcore", codename="change_page"
    )
    for page in pages:
        GroupPagePermission.objects.get_or_create(group=group, page=page, permission=change_page)
    GroupPagePermission.objects.filter(group=group).exclude(
        page__in=[page.pk for page in pages]
    ).delete()
    group.permissions.add(
        Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin")
    )
    # Pictures for their page: they choose from, and add to, their own collection only.
    collection = _partner_collection(partner)
    for codename in IMAGE_PERMISSIONS:
        permission = Permission.objects.get(
            content_type__app_label="wagtailimages", codename=codename
        )
        GroupCollectionPermission.objects.get_or_create(
            group=group, collection=collection, permission=permission
        )
    group.user_set.set(
        User.objects.filter(
            memberships__partner=partner, memberships__is_active=True, is_active=True
        )
    )
    return group


def _partner_collection(partner: Partner) -> Collection:
    root = Collection.get_first_root_node()
    name = f"Partner: {partner.name}"[:255]
    existing = root.get_children().filter(name=name).first()
    return existing or root.add_child(name=name)


def image_import(path: Path, title: str) -> object:
    """Imports a picture into Wagtail's library once (matched by title)."""
    image_model = get_image_model()
    existing = image_model.objects.filter(title=title).first()
    if existing is not None:
        return existing
    with path.open("rb") as handle:
        image = image_model(title=title, file=ImageFile(handle, name=path.name))
        image.save()
    return image


def site_address_from_settings() -> tuple[str, int]:
    """The public site's hostname and port, from WAGTAILADMIN_BASE_URL (the deployment's public
    address, e.g. https://www.example.com)."""
    parts = urlsplit(settings.WAGTAILADMIN_BASE_URL)
    default_port = 443 if parts.scheme == "https" else 80
    return parts.hostname or "localhost", parts.port or default_port


@transaction.atomic
def site_root_set(home: Page) -> Site:
    """Makes ``home`` the default site's root and deletes Wagtail's placeholder welcome page."""
    site = Site.objects.filter(is_default_site=True).first()
    hostname, port = site_address_from_settings()
    if site is None:
        site = Site.objects.create(
            hostname=hostname, port=port, root_page=home, is_default_site=True
        )
    elif (site.hostname, site.port) == ("localhost", 80):
        # Wagtail's placeholder address: canonical links, og:url and links in emails are built
        # from the Site, so give it the public address (editors may change it in Settings > Sites).
        site.hostname, site.port = hostname, port
    previous = site.root_page
    site.root_page = home
    site.site_name = home.title
    site.save()
    if previous.pk != home.pk and type(previous.specific) is Page:
        # With the French tree synced from English, the placeholder has a French alias too.
        placeholders = Page.objects.filter(
            translation_key=previous.translation_key, content_type=previous.content_type
        ).order_by("-pk")
        for placeholder in placeholders:
            if placeholder.pk != home.pk and not placeholder.get_children().exists():
                placeholder.delete()
    return site


@transaction.atomic
def page_translate(*, page: Page, locale: Locale, strings: dict[str, str], user=None) -> Page:
    """Creates or updates the ``locale`` translation of ``page`` with wagtail-localize and
    publishes it.

    ``strings`` maps source text to translated text. The translations go into wagtail-localize's
    translation memory, so the page stays linked to its source: translators see and edit every
    string in its editor or a PO file, and a change to the source is synced to them. A string
    without a translation keeps the source text (names, addresses).
    """
    source, _created = TranslationSource.get_or_create_from_instance(page)
    if not _created:
        source.update_from_db()
    translation, _created = Translation.objects.get_or_create(
        source=source, target_locale=locale, defaults={"enabled": True}
    )
    lookup = {html.unescape(key): value for key, value in strings.items()}
    missing = 0
    segments = StringSegment.objects.filter(source=source).select_related("string", "context")
    for segment in segments:
        translated = lookup.get(html.unescape(segment.string.data))
        if translated is None:
            missing += 1
            data = segment.string.data
        else:
            data = StringValue.from_plaintext(translated).data
        StringTranslation.objects.update_or_create(
            translation_of=segment.string,
            locale=locale,
            context=segment.context,
            defaults={
                "data": data,
                "translation_type": StringTranslation.TRANSLATION_TYPE_MANUAL,
                "last_translated_by": user,
            },
        )
    if missing:
        logger.debug("%s: %d strings kept in the source language", page, missing)
    # wagtail-localize publishes in transaction.on_commit, from the revision's snapshot: inside a
    # longer transaction (the seed) that snapshot would be stale by then and reset the parent's
    # child count. Save a draft and publish it now instead.
    translation.save_target(user=user, publish=False)
    page.get_translation(locale).get_latest_revision().publish(user=user)
    return page.get_translation(locale)
