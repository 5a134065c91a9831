"""Staff views of the pipeline: every message with its status, and the in-doubt ones to
resolve by hand (never resent automatically)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from destination.errors import DomainError
from newsletters.http import StaffRequest
from newsletters.models import Message, Suppression, TrackingCount, TrackingHit
from newsletters.services import message_in_doubt_resolve


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "created_at", "address", "template", "source", "kind", "status", "skip_reason",
        "attempts", "sent_at",
    ]  # fmt: skip
    list_filter = ["status", "kind", "source", "skip_reason"]
    search_fields = ["address", "dedupe_key", "message_id"]
    list_select_related = ["guest", "partner"]
    raw_id_fields = ["guest", "partner"]
    readonly_fields = [f.name for f in Message._meta.fields]
    actions = ["resend_in_doubt", "mark_in_doubt_sent"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # messages are written by the pipeline only

    def has_delete_permission(self, request: HttpRequest, obj: Message | None = None) -> bool:
        return False

    def _resolve(self, request: StaffRequest, queryset: QuerySet[Message], *, resend: bool) -> int:
        done = 0
        for message in queryset.filter(status=Message.Status.IN_DOUBT):
            try:
                message_in_doubt_resolve(message=message, resend=resend, actor=request.user)
                done += 1
            except DomainError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
        skipped = queryset.exclude(status=Message.Status.IN_DOUBT).count() if not done else 0
        if skipped:
            self.message_user(
                request, _("Only messages in doubt can be resolved."), messages.WARNING
            )
        return done

    @admin.action(description=_("Resend (checked: it did not arrive)"))
    def resend_in_doubt(self, request: StaffRequest, queryset: QuerySet[Message]) -> None:
        done = self._resolve(request, queryset, resend=True)
        self.message_user(
            request,
            ngettext("%(n)d message queued again.", "%(n)d messages queued again.", done)
            % {"n": done},
        )

    @admin.action(description=_("Mark as sent (checked: it arrived)"))
    def mark_in_doubt_sent(self, request: StaffRequest, queryset: QuerySet[Message]) -> None:
        done = self._resolve(request, queryset, resend=False)
        self.message_user(
            request,
            ngettext("%(n)d message marked sent.", "%(n)d messages marked sent.", done)
            % {"n": done},
        )


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ["address", "reason", "created_at", "provider_event_id"]
    list_filter = ["reason"]
    search_fields = ["address", "provider_event_id"]
    readonly_fields = ["created_at"]


# --- Journeys (edited in Wagtail: newsletters/wagtail_hooks.py) ------------------------------

from newsletters.models import (  # noqa: E402
    Enrolment,
    EnrolmentStep,
    OutboxCursor,
    SurveyAnswer,
)


@admin.register(OutboxCursor)
class OutboxCursorAdmin(admin.ModelAdmin):
    list_display = ["consumer", "last_event_id", "failing_event_id", "last_error", "updated_at"]
    readonly_fields = ["consumer", "updated_at", "failing_event_id", "last_error"]


STEP_FIELDS = ("step", "due_at", "status", "reason", "message", "promoted_partner")


class EnrolmentStepInline(admin.TabularInline):
    model = EnrolmentStep
    fields = STEP_FIELDS
    readonly_fields = STEP_FIELDS
    extra = 0
    can_delete = False


@admin.register(Enrolment)
class EnrolmentAdmin(admin.ModelAdmin):
    list_display = ["journey", "guest", "booking", "key", "status", "enrolled_at", "exit_reason"]
    list_filter = ["journey", "status"]
    list_select_related = ["journey", "guest", "booking"]
    raw_id_fields = ["guest", "booking"]
    readonly_fields = ["enrolled_at", "exited_at", "exit_reason", "key"]
    inlines = [EnrolmentStepInline]


@admin.register(SurveyAnswer)
class SurveyAnswerAdmin(admin.ModelAdmin):
    """Survey answers per partner (filter), newest first."""

    list_display = ["created_at", "partner", "score", "comment", "guest", "booking", "language"]
    list_filter = ["partner", "score", "language"]
    list_select_related = ["partner", "guest", "booking"]
    search_fields = ["comment"]
    readonly_fields = [f.name for f in SurveyAnswer._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


# --- Tracking: the raw hits, read only (written by newsletters.tracking_record) -------------


@admin.register(TrackingHit)
class TrackingHitAdmin(admin.ModelAdmin):
    list_display = ["at", "kind", "verdict", "reason", "link_index", "campaign", "settled"]
    list_filter = ["kind", "verdict", "reason", "settled"]
    list_select_related = ["campaign"]
    raw_id_fields = ["message", "campaign", "journey_step"]
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(TrackingCount)
class TrackingCountAdmin(admin.ModelAdmin):
    list_display = ["scope", "kind", "verdict", "reason", "count"]
    list_filter = ["kind", "verdict"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
