"""The marketing team's screens in Wagtail (/cms/): segments and campaigns as snippets, a campaign
report with its live progress and its actions, and "Send a test to me" on newsletter pages."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from wagtail import hooks
from wagtail.admin.action_menu import ActionMenuItem
from wagtail.admin.panels import (
    FieldPanel,
    FieldRowPanel,
    InlinePanel,
    MultiFieldPanel,
    PageChooserPanel,
)
from wagtail.admin.widgets import ListingButton
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet, SnippetViewSetGroup

from destination.errors import DomainError
from newsletters import campaign_services as cs
from newsletters import reports
from newsletters.http import StaffRequest
from newsletters.models import Campaign, Journey, Segment
from newsletters.pages import NewsletterPage
from newsletters.segments import segment_count, segment_rules_validate
from partners.models import Partner

SEND_TEST = "action-send-test"


# --- Send a test to me ---------------------------------------------------------------------


class SendTestMenuItem(ActionMenuItem):
    name = SEND_TEST
    label = gettext_lazy("Save and send a test to me")
    icon_name = "mail"
    order = 90

    def is_shown(self, context: dict[str, Any]) -> bool:
        page = context.get("page")
        return (
            context["view"] == "edit"
            and isinstance(page, NewsletterPage)
            and not context.get("locked_for_user")
        )


@hooks.register("register_page_action_menu_item")
def register_send_test_menu_item() -> ActionMenuItem:
    return SendTestMenuItem()


@hooks.register("after_edit_page")
def send_test_after_save(request: StaffRequest, page: Any) -> HttpResponse | None:
    """The edit form saved a draft revision; send that revision to the editor."""
    if not request.POST.get(SEND_TEST) or not isinstance(page.specific, NewsletterPage):
        return None
    page = NewsletterPage.objects.get(pk=page.pk)
    try:
        message, created = cs.newsletter_test_send(page=page, user=request.user)
    except DomainError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("A test of this version is on its way to %(address)s.") % {"address": message.address}
            if created
            else _("This version was already sent to you as a test."),
        )
    return redirect("wagtailadmin_pages:edit", page.pk)


# --- Segments: the rules and their size, live ------------------------------------------------


class SegmentRulesWidget(forms.Textarea):
    """The rule tree as JSON, with its size under it counted as the editor types."""

    template_name = "newsletters/admin/segment_rules_widget.html"

    class Media:
        js = ["newsletters/segment_size.js"]

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["size_url"] = reverse("newsletters_segment_size")
        return context

    def format_value(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)


class SegmentViewSet(SnippetViewSet):
    model = Segment
    icon = "group"
    menu_label = gettext_lazy("Segments")
    list_display = ["name", "partner", "updated_at"]
    search_fields = ["name"]
    panels = [
        FieldPanel("name"),
        FieldPanel("partner"),
        FieldPanel("rules", widget=SegmentRulesWidget(attrs={"rows": 12})),
    ]


def segment_size(request: HttpRequest) -> JsonResponse:
    """{"count": n} or {"count": null, "unavailable": true} (statement timeout), or the
    problems of an invalid tree: never a wrong 0."""
    try:
        rules = json.loads(request.GET.get("rules") or "{}")
    except ValueError:
        return JsonResponse({"errors": [_("This is not valid JSON.")]})
    partner = None
    if request.GET.get("partner", "").isdigit():
        partner = Partner.objects.filter(pk=int(request.GET["partner"])).first()
    errors = segment_rules_validate(rules)
    if errors:
        return JsonResponse({"errors": [f"{p or '-'}: {m}" for p, m in errors]})
    count = segment_count(rules, partner=partner, timeout_ms=2000)
    if count is None:
        return JsonResponse({"count": None, "unavailable": True, "label": _("unavailable")})
    return JsonResponse(
        {"count": count, "label": _("%(n)d guests") % {"n": count}, "unavailable": False}
    )


# --- Campaigns -------------------------------------------------------------------------------


class CampaignViewSet(SnippetViewSet):
    model = Campaign
    icon = "mail"
    menu_label = gettext_lazy("Campaigns")
    list_display = ["name", "status", "sender_partner", "scheduled_at", "started_at"]
    list_filter = ["status"]
    search_fields = ["name"]
    panels = [
        FieldPanel("name"),
        PageChooserPanel("page", page_type="newsletters.NewsletterPage"),
        FieldPanel("segment"),
        FieldPanel("sender_partner"),
    ]


class CampaignsGroup(SnippetViewSetGroup):
    items = (CampaignViewSet, SegmentViewSet)
    menu_icon = "mail"
    menu_label = gettext_lazy("Campaigns")
    menu_name = "campaigns"


register_snippet(CampaignsGroup)


@hooks.register("register_snippet_listing_buttons")
def campaign_report_button(
    snippet: Any, user: Any, next_url: str | None = None
) -> list[ListingButton]:
    if isinstance(snippet, Journey):
        return [
            ListingButton(
                _("Report"),
                reverse("newsletters_journey_report", args=[snippet.pk]),
                icon_name="view",
                priority=5,
            )
        ]
    if not isinstance(snippet, Campaign):
        return []
    return [
        ListingButton(
            _("Report and send"),
            reverse("newsletters_campaign_report", args=[snippet.pk]),
            icon_name="view",
            priority=5,
        )
    ]


def _can_change(request: HttpRequest) -> None:
    if not request.user.has_perm("newsletters.change_campaign"):
        raise PermissionDenied


def campaign_report(request: StaffRequest, pk: int) -> TemplateResponse:
    campaign = get_object_or_404(
        Campaign.objects.select_related("page", "segment", "sender_partner", "approved_by"), pk=pk
    )
    steward = cs.user_is_steward(request.user)
    return TemplateResponse(
        request,
        "newsletters/admin/campaign_report.html",
        {
            "campaign": campaign,
            "progress": cs.campaign_progress(campaign),
            # A partner's staff reading its campaign see its own bookings' revenue only.
            "tracking": reports.campaign_report(
                campaign,
                revenue_of_partner=None if steward else campaign.sender_partner_id,
            ),
            "progress_url": reverse("newsletters_campaign_progress", args=[campaign.pk]),
            "can_approve": steward,
            "edit_url": reverse("wagtailsnippets_newsletters_campaign:edit", args=[campaign.pk]),
            "statuses": Campaign.Status,
        },
    )


def campaign_progress_json(request: HttpRequest, pk: int) -> JsonResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    progress = cs.campaign_progress(campaign)
    return JsonResponse(
        {
            "campaign_status": campaign.status,
            "campaign_status_label": campaign.get_status_display(),
            **progress,
        }
    )


def journey_report(request: StaffRequest, pk: int) -> TemplateResponse:
    """A journey's figures per step (delivered, human opens and clicks, machine events apart,
    unsubscribes, bounces, complaints) and its revenue per partner."""
    if not request.user.has_perm("newsletters.view_journey") and not request.user.has_perm(
        "newsletters.change_journey"
    ):
        raise PermissionDenied
    journey = get_object_or_404(Journey, pk=pk)
    return TemplateResponse(
        request,
        "newsletters/admin/journey_report.html",
        {
            "journey": journey,
            "report": reports.journey_report(journey),
            "edit_url": reverse("wagtailsnippets_newsletters_journey:edit", args=[journey.pk]),
        },
    )


@require_POST
def campaign_action(request: StaffRequest, pk: int, action: str) -> HttpResponse:
    _can_change(request)
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        if action == "submit":
            cs.campaign_submit(campaign=campaign, actor=request.user)
        elif action == "approve":
            cs.campaign_approve(campaign=campaign, actor=request.user)
        elif action == "send":
            cs.campaign_send_now(campaign=campaign, actor=request.user)
        elif action == "schedule":
            at = parse_datetime(request.POST.get("scheduled_at", ""))
            if at is None:
                raise cs.CampaignError(_("Give a date and time to send at."))
            if timezone.is_naive(at):
                at = timezone.make_aware(at)
            cs.campaign_schedule(campaign=campaign, at=at, actor=request.user)
        elif action == "pause":
            cs.campaign_pause(campaign=campaign, actor=request.user)
        elif action == "resume":
            cs.campaign_resume(campaign=campaign, actor=request.user)
        else:
            raise cs.CampaignError(_("Unknown action."))
    except DomainError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("newsletters_campaign_report", campaign.pk)


@hooks.register("register_admin_urls")
def register_campaign_urls() -> list[URLPattern]:
    return [
        path("newsletters/segment-size/", segment_size, name="newsletters_segment_size"),
        path(
            "newsletters/campaigns/<int:pk>/report/",
            campaign_report,
            name="newsletters_campaign_report",
        ),
        path(
            "newsletters/campaigns/<int:pk>/progress/",
            campaign_progress_json,
            name="newsletters_campaign_progress",
        ),
        path(
            "newsletters/journeys/<int:pk>/report/",
            journey_report,
            name="newsletters_journey_report",
        ),
        path(
            "newsletters/campaigns/<int:pk>/<slug:action>/",
            campaign_action,
            name="newsletters_campaign_action",
        ),
    ]


# --- Journeys: a snippet with its steps inline ------------------------------------------------


class JourneyViewSet(SnippetViewSet):
    model = Journey
    icon = "mail"
    menu_label = gettext_lazy("Journeys")
    menu_order = 300
    add_to_admin_menu = True
    list_display = ["name", "trigger", "is_active", "updated_at"]
    list_filter = ["trigger", "is_active"]
    search_fields = ["name"]
    panels = [
        MultiFieldPanel(
            [
                FieldPanel("name"),
                FieldPanel("slug"),
                FieldPanel("trigger"),
                FieldRowPanel([FieldPanel("partner_kind"), FieldPanel("offer_kind")]),
                FieldPanel("inactive_months"),
                FieldPanel("is_active"),
            ],
            heading=gettext_lazy("Trigger"),
        ),
        InlinePanel(
            "steps",
            heading=gettext_lazy("Steps"),
            label=gettext_lazy("Step"),
            panels=[
                FieldPanel("name"),
                # Two fields a row at most: with three or four, the wait ("offset in days") and
                # the partner's select were squeezed to a few pixels beside the long anchor.
                FieldPanel("anchor"),
                FieldRowPanel([FieldPanel("offset_days"), FieldPanel("send_time")]),
                FieldRowPanel([FieldPanel("kind"), FieldPanel("purpose")]),
                FieldRowPanel([FieldPanel("partner"), FieldPanel("promoted_offer")]),
                FieldPanel("conditions"),
                FieldPanel("subject_fr"),
                FieldPanel("body_fr"),
                FieldPanel("subject_en"),
                FieldPanel("body_en"),
            ],
        ),
    ]


register_snippet(JourneyViewSet)
