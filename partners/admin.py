"""Django admin for operators: partners, their staff, relationships, interactions and sharing
rules. Interactions and relationships are written by services (timeline, audit, last contact),
so the admin only lets an operator moderate them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from destination.admin import ReadOnlyAdminMixin, StaffUserAdmin
from destination.models import TimelineEvent
from partners.api_keys import partner_api_key_revoke
from partners.models import (
    AccessFlag,
    Interaction,
    Membership,
    Partner,
    PartnerApiKey,
    PartnerGuestLink,
    Section,
    SharingRule,
)


class MembershipOfUserInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("partner",)
    fields = ("partner", "role", "is_active")


# The core's staff account page shows the partners a user works for.
StaffUserAdmin.inlines = (*StaffUserAdmin.inlines, MembershipOfUserInline)
StaffUserAdmin.list_filter = (*StaffUserAdmin.list_filter, "memberships__partner")


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)
    fields = ("user", "role", "is_active", "created_at")
    readonly_fields = ("created_at",)


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "kind", "is_active", "email", "phone")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "slug", "email")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (MembershipInline,)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "partner", "role", "is_active", "created_at")
    list_filter = ("role", "is_active", "partner")
    list_select_related = ("user", "partner")
    search_fields = ("user__email", "user__last_name", "partner__name")
    autocomplete_fields = ("user", "partner")


@admin.register(PartnerGuestLink)
class PartnerGuestLinkAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Relationships come from evidence only (``partners.access``): a booking with the partner
    (or made by it at the booking desk), the guest's consent with proof, a profile the partner
    created or imported from its own customer file, or a contact point its staff typed and that
    matched. Written by services, never here; "resolved" rows (an API match) open nothing."""

    list_display = (
        "partner",
        "guest",
        "reason",
        "has_booked",
        "first_seen_at",
        "last_seen_at",
        "evidence",
    )
    list_filter = ("reason", "has_booked", "partner")
    list_select_related = ("partner", "guest")
    search_fields = ("guest__last_name", "guest__emails__email_normalized", "partner__name")
    raw_id_fields = ("guest",)


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "guest", "partner", "staff", "kind", "channel", "visibility")
    list_filter = ("kind", "channel", "visibility", "partner")
    list_select_related = ("guest", "partner", "staff")
    search_fields = ("summary", "guest__last_name", "staff__email")
    raw_id_fields = ("guest",)
    date_hierarchy = "occurred_at"
    fields = (
        "guest",
        "partner",
        "staff",
        "kind",
        "channel",
        "occurred_at",
        "visibility",
        "summary",
    )
    readonly_fields = ("guest", "partner", "staff", "kind", "occurred_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Logged by partner staff through interaction_log (timeline, relationship, last contact).
        return False

    def _timeline_entries(self, obj: Interaction) -> QuerySet[TimelineEvent]:
        return TimelineEvent.objects.filter(
            content_type=ContentType.objects.get_for_model(Interaction), object_id=obj.pk
        )

    def save_model(
        self, request: HttpRequest, obj: Interaction, form: forms.Form, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        # The timeline copy must follow a moderation edit: a note made private here must stop
        # showing in other partners' timelines.
        self._timeline_entries(obj).update(
            body=obj.summary,
            visibility=obj.visibility,
            data={"kind": obj.kind, "channel": obj.channel},
        )

    def delete_model(self, request: HttpRequest, obj: Interaction) -> None:
        self._timeline_entries(obj).delete()
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Interaction]) -> None:
        TimelineEvent.objects.filter(
            content_type=ContentType.objects.get_for_model(Interaction),
            object_id__in=list(queryset.values_list("pk", flat=True)),
        ).delete()
        super().delete_queryset(request, queryset)


class SharingRuleForm(forms.ModelForm):
    sections = forms.MultipleChoiceField(
        label=_("sections"),
        choices=Section.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("Parts of the guest profile this rule opens to the partner."),
    )

    class Meta:
        model = SharingRule
        fields = ("level", "partner_kind", "sections")

    def clean_sections(self) -> list[str]:
        chosen = set(self.cleaned_data.get("sections") or [])
        # Stored in the order of Section, so two equal rules compare equal.
        return [value for value in Section.values if value in chosen]


@admin.register(SharingRule)
class SharingRuleAdmin(admin.ModelAdmin):
    form = SharingRuleForm
    list_display = ("level", "partner_kind_display", "sections_display", "updated_at")
    list_filter = ("level", "partner_kind")
    ordering = ("partner_kind", "level")

    @admin.display(description=_("partner kind"), ordering="partner_kind")
    def partner_kind_display(self, obj: SharingRule) -> Any:
        return obj.get_partner_kind_display() or _("Every kind")

    @admin.display(description=_("sections"))
    def sections_display(self, obj: SharingRule) -> str:
        labels = dict(Section.choices)
        return ", ".join(str(labels.get(s, s)) for s in obj.sections or [])


@admin.register(PartnerApiKey)
class PartnerApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "partner", "name", "created_at", "revoked_at")
    list_filter = ("partner", "revoked_at")
    list_select_related = ("partner",)
    search_fields = ("prefix", "name", "partner__name")
    fields = ("partner", "name", "prefix", "created_at", "revoked_at")
    readonly_fields = ("partner", "prefix", "created_at", "revoked_at")
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # The full key is shown once: `manage.py partner_api_key_create SLUG NAME`.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Revoked keys stay, so the audit log's key prefixes keep meaning something.
        return False

    @admin.action(description=_("Revoke the selected keys"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[PartnerApiKey]) -> None:
        for key in queryset.filter(revoked_at__isnull=True):
            partner_api_key_revoke(key=key)


@admin.register(AccessFlag)
class AccessFlagAdmin(admin.ModelAdmin):
    """Unusual patterns of gaining access, flagged to the tourist office's managers (also listed
    on their portal home): a staff member who proved many new guests or typed many contacts
    that did not match in a day, an API key that matched many existing guests in a day. The
    limits are the settings ``PARTNER_PROOFS_PER_STAFF_DAY``,
    ``PARTNER_PROOF_FAILURES_PER_STAFF_DAY`` and ``PARTNER_API_RESOLVES_PER_KEY_DAY``; beyond
    them the action is refused for the rest of the day."""

    list_display = ("day", "kind", "partner", "staff", "api_key", "limit", "refused", "reviewed_at")
    list_filter = ("kind", "reviewed_at", "partner")
    list_select_related = ("partner", "staff", "api_key")
    readonly_fields = ("kind", "partner", "staff", "api_key", "day", "limit", "refused")
    actions = ("mark_reviewed",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Mark the selected flags as reviewed"))
    def mark_reviewed(self, request: HttpRequest, queryset: QuerySet[AccessFlag]) -> None:
        queryset.filter(reviewed_at__isnull=True).update(reviewed_at=timezone.now())
