"""The editors' Wagtail: translations out of step with their source say so where editors look
(the page listing and the editor), and the dashboard opens on the work waiting for them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail import hooks
from wagtail.admin import messages
from wagtail.admin.ui.components import Component
from wagtail.admin.widgets import ListingButton
from wagtail.models import Locale, Page

from content import selectors

SYNC_PERMISSION = "wagtail_localize.submit_translation"


def _language_names(codes: tuple[str, ...]) -> str:
    names = {locale.language_code: locale.get_display_name() for locale in Locale.objects.all()}
    return ", ".join(str(names.get(code, code)) for code in codes)


def _sync_url(source_id: int, next_url: str | None = None) -> str:
    url = reverse("wagtail_localize:update_translations", args=[source_id])
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def sync_label(*, page: Page, sync: selectors.TranslationSync) -> str:
    """What an out-of-date page says, from the point of view of the page shown."""
    if sync.is_source:
        return _("Translation out of date: %(languages)s") % {
            "languages": _language_names(sync.stale_locales)
        }
    return _("Out of date: the source page changed")


@hooks.register("register_page_listing_buttons")
def page_listing_sync_warning(
    page: Page, user: Any, next_url: str | None = None, **kwargs: Any
) -> Iterator[ListingButton]:
    """A visible button on the page's row when it or its translations are out of date; it
    opens wagtail-localize's sync screen (otherwise hidden in the row's "More" menu)."""
    if page.is_root():
        return
    sync = selectors.translation_sync_get(page=page)
    if sync is None or not sync.is_stale:
        return
    can_sync = user.has_perm(SYNC_PERMISSION)
    yield ListingButton(
        sync_label(page=page, sync=sync),
        _sync_url(sync.source_id, next_url) if can_sync else None,
        icon_name="warning",
        classname="content-sync-warning",
        priority=5,
        attrs={"data-translation-sync": "stale"},
    )


@hooks.register("before_edit_page", order=-1)
def editor_sync_notice(request: HttpRequest, page: Page) -> None:
    """A warning at the top of the editor (Wagtail's own or wagtail-localize's translation
    editor, which this hook runs before) when the page is out of step with its source."""
    if request.method != "GET":
        return None
    sync = selectors.translation_sync_get(page=page)
    if sync is None or not sync.is_stale:
        return None
    if sync.is_source:
        message = _(
            "This page was published after its last sync: the %(languages)s translation does "
            "not have these changes yet."
        ) % {"languages": _language_names(sync.stale_locales)}
    else:
        message = _(
            "The source page was published after this translation was last synced: its latest "
            "changes are not here yet."
        )
    buttons = []
    if request.user.has_perm(SYNC_PERMISSION):
        buttons.append(
            messages.button(_sync_url(sync.source_id, request.get_full_path()), _("Sync now"))
        )
    messages.warning(request, message, buttons=buttons)
    return None


# --- The dashboard ------------------------------------------------------------------------------


class PageListPanel(Component):
    """A dashboard panel listing pages, each linked to its editor."""

    template_name = "content/admin/dashboard_panel.html"
    name = ""
    heading = gettext_lazy("Pages")
    empty = gettext_lazy("Nothing here.")
    order = 100

    def get_rows(self, request: HttpRequest) -> list[tuple[Page, str, Any]]:
        """(page, a note, a date or datetime) per row."""
        raise NotImplementedError

    def more_link(self) -> tuple[str, str] | None:
        return None

    def get_context_data(self, parent_context: dict | None = None) -> dict[str, Any]:
        context = super().get_context_data(parent_context)
        request = (parent_context or {}).get("request")
        context.update(
            panel_id=f"dashboard-{self.name}",
            heading=self.heading,
            empty=self.empty,
            rows=self.get_rows(request) if request is not None else [],
            more=self.more_link(),
        )
        return context


class RecentStoriesPanel(PageListPanel):
    name = "recent-stories"
    heading = gettext_lazy("Recent stories")
    empty = gettext_lazy("No story yet.")
    order = 110

    def get_rows(self, request: HttpRequest) -> list[tuple[Page, str, Any]]:
        return [
            (story, "" if story.live else _("Draft"), story.date)
            for story in selectors.story_list_recent()
        ]


class AwaitingApprovalPanel(PageListPanel):
    name = "awaiting-approval"
    heading = gettext_lazy("Pages waiting for approval")
    empty = gettext_lazy("No page is waiting for approval.")
    order = 90

    def get_rows(self, request: HttpRequest) -> list[tuple[Page, str, Any]]:
        return [
            (page, _("Submitted"), page.submitted_at)
            for page in selectors.page_list_awaiting_approval()
        ]

    def more_link(self) -> tuple[str, str] | None:
        return reverse("wagtailadmin_reports:workflow"), _("All workflows")


class UpcomingEventsPanel(PageListPanel):
    name = "upcoming-events"
    heading = gettext_lazy("Upcoming events")
    empty = gettext_lazy("No event is announced.")
    order = 120

    def get_rows(self, request: HttpRequest) -> list[tuple[Page, str, Any]]:
        return [
            (event, "" if event.live else _("Draft"), event.start_at)
            for event in selectors.event_list_next()
        ]


class StaleTranslationsPanel(PageListPanel):
    name = "stale-translations"
    heading = gettext_lazy("Translations to sync")
    empty = gettext_lazy("Every translation is up to date.")
    order = 100

    def get_rows(self, request: HttpRequest) -> list[tuple[Page, str, Any]]:
        return [
            (page, _("Published after its last sync"), page.last_published_at)
            for page in selectors.translation_list_stale()
        ]


@hooks.register("construct_homepage_panels")
def dashboard_panels(request: HttpRequest, panels: list[Component]) -> None:
    panels.extend(
        [
            AwaitingApprovalPanel(),
            StaleTranslationsPanel(),
            RecentStoriesPanel(),
            UpcomingEventsPanel(),
        ]
    )
    panels.sort(key=lambda panel: getattr(panel, "order", 0))
