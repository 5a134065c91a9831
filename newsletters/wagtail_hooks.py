"""The marketing team edits journeys in Wagtail (/cms/): a snippet with its steps inline."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel, MultiFieldPanel
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from newsletters.models import Journey


class JourneyViewSet(SnippetViewSet):
    model = Journey
    icon = "mail"
    menu_label = _("Journeys")
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
            heading=_("Trigger"),
        ),
        InlinePanel(
            "steps",
            heading=_("Steps"),
            label=_("Step"),
            panels=[
                FieldPanel("name"),
                FieldRowPanel(
                    [FieldPanel("anchor"), FieldPanel("offset_days"), FieldPanel("send_time")]
                ),
                FieldRowPanel(
                    [
                        FieldPanel("kind"),
                        FieldPanel("purpose"),
                        FieldPanel("partner"),
                        FieldPanel("promoted_offer"),
                    ]
                ),
                FieldPanel("conditions"),
                FieldPanel("subject_fr"),
                FieldPanel("body_fr"),
                FieldPanel("subject_en"),
                FieldPanel("body_en"),
            ],
        ),
    ]


register_snippet(JourneyViewSet)
