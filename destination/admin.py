"""Django admin for operators (superusers): the shared guest profile and its bookkeeping.

Partner staff never come here; they use the CRM screens, which go through partners.access. The
admin still respects the core's invariants: the consent ledger, the audit log, the timeline and
the resolution bookkeeping are written by services only, so they are read-only here.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

from allauth.account.models import EmailAddress
from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from destination.errors import DomainError, form_add_domain_error
from destination.models import (
    AuditEntry,
    ConsentEvent,
    ConsentProof,
    ConsentState,
    ConsentWording,
    Destination,
    Guest,
    GuestEmail,
    GuestExternalRef,
    GuestMerge,
    GuestPhone,
    Household,
    LinkageModel,
    MatchKey,
    PossibleDuplicate,
    ResolutionKey,
    Tag,
    TimelineEvent,
    User,
)
from destination.normalize import normalize_phone
from destination.services.audit import audit_log
from destination.services.guests import (
    EDITABLE_FIELDS,
    guest_clean_data,
    guest_email_add,
    guest_email_remove,
    guest_phone_add,
    guest_phone_remove,
    guest_update,
)


class ReadOnlyAdminMixin:
    """Rows written only by services: operators may look, never add, edit or delete."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Staff accounts -------------------------------------------------------------------------


class StaffUserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("email",)
        field_classes: ClassVar[dict[str, Any]] = {}

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError(_("A user with this email address already exists."))
        return email


class StaffUserChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"
        field_classes: ClassVar[dict[str, Any]] = {}


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    form = StaffUserChangeForm
    add_form = StaffUserCreationForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "language")}),
        (
            _("Permissions"),
            {
                "fields": (
                    "is_active",
                    "is_staff",
                    "is_superuser",
                    "groups",
                    "user_permissions",
                )
            },
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "usable_password", "password1", "password2"),
            },
        ),
    )
    list_display = ("email", "first_name", "last_name", "is_staff", "is_superuser", "is_active")
    list_filter: ClassVar[tuple[str, ...]] = ("is_staff", "is_superuser", "is_active")
    search_fields = ("email", "first_name", "last_name")
    ordering = ("email",)
    readonly_fields = ("last_login", "date_joined")
    # partners.admin adds the memberships inline: the core does not know partners.
    inlines: ClassVar[tuple[type[admin.options.InlineModelAdmin[Any, Any]], ...]] = ()

    def save_model(self, request: HttpRequest, obj: User, form: forms.Form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            # An account made here signs in through allauth like any other: its address is
            # known to allauth and verified by the operator who typed it.
            EmailAddress.objects.get_or_create(
                user=obj, email=obj.email, defaults={"verified": True, "primary": True}
            )


# --- The destination ------------------------------------------------------------------------


@admin.register(Destination)
class DestinationAdmin(admin.ModelAdmin):
    list_display = ("name", "brand_name", "languages", "timezone", "contact_email")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # One destination per site; Wagtail's settings screen edits the same row.
        return super().has_add_permission(request) and not Destination.objects.exists()


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "category")
    list_filter = ("category",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


class HouseholdMemberInline(admin.TabularInline):
    model = Guest
    fk_name = "household"
    extra = 0
    fields = ("first_name", "last_name", "birth_date", "status")
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Household)
class HouseholdAdmin(admin.ModelAdmin):
    list_display = ("__str__", "created_at")
    search_fields = ("name", "members__last_name")
    inlines = (HouseholdMemberInline,)


# --- Guests ---------------------------------------------------------------------------------


class GuestEmailInline(admin.TabularInline):
    model = GuestEmail
    extra = 0
    fields = ("email", "is_primary", "verified_at", "created_at")
    readonly_fields = ("verified_at", "created_at")


class GuestPhoneInline(admin.TabularInline):
    model = GuestPhone
    extra = 0
    fields = ("phone", "is_primary", "created_at")
    readonly_fields = ("created_at",)


class GuestExternalRefInline(admin.TabularInline):
    model = GuestExternalRef
    extra = 0
    fields = ("source", "external_id", "created_at")
    readonly_fields = ("created_at",)


class GuestAdminForm(forms.ModelForm):
    """The guest services' rules, checked before saving, so a refusal lands on its field
    instead of failing in ``save_model``."""

    class Meta:
        model = Guest
        # The admin passes its own field list; these are the ones this form checks.
        fields = EDITABLE_FIELDS

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        data = {f: cleaned[f] for f in EDITABLE_FIELDS if f in cleaned and f in self.changed_data}
        if data:
            try:
                guest_clean_data(data)
            except (DomainError, ValidationError) as exc:
                form_add_domain_error(self, exc)
        return cleaned


@admin.register(Guest)
class GuestAdmin(admin.ModelAdmin):
    form = GuestAdminForm
    list_display = (
        "id",
        "__str__",
        "primary_email",
        "primary_phone",
        "country",
        "language",
        "status",
        "source",
        "created_by_partner",
        "last_contact_at",
    )
    list_display_links = ("id", "__str__")
    list_filter = ("status", "source", "language", "country", "created_by_partner", "tags")
    list_select_related = ("created_by_partner", "household")
    search_fields = (
        "first_name",
        "last_name",
        "name_folded",
        "emails__email_normalized",
        "phones__phone",
    )
    raw_id_fields = ("household", "merged_into", "created_by")
    autocomplete_fields = ("created_by_partner",)
    filter_horizontal = ("tags",)
    date_hierarchy = "created_at"
    ordering = ("-id",)
    readonly_fields = (
        "uuid",
        "name_folded",
        "source",
        "source_detail",
        "created_by",
        "created_by_partner",
        "status",
        "merged_into",
        "merged_at",
        "erased_at",
        "last_contact_at",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("uuid", "first_name", "last_name", "name_folded", "birth_date")}),
        (_("Preferences"), {"fields": ("language", "country", "household", "tags")}),
        (
            _("Origin"),
            {"fields": ("source", "source_detail", "created_by", "created_by_partner")},
        ),
        (
            _("Lifecycle"),
            {
                "fields": (
                    "status",
                    "merged_into",
                    "merged_at",
                    "erased_at",
                    "last_contact_at",
                    "created_at",
                    "updated_at",
                )
            },
        ),
    )
    inlines = (GuestEmailInline, GuestPhoneInline, GuestExternalRefInline)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Guest]:
        # The primary email and phone as subqueries: one query for the whole page, not two per row.
        emails = GuestEmail.objects.filter(guest=OuterRef("pk")).order_by("-is_primary", "id")
        phones = GuestPhone.objects.filter(guest=OuterRef("pk")).order_by("-is_primary", "id")
        return (
            super()
            .get_queryset(request)
            .annotate(
                _primary_email=Subquery(emails.values("email")[:1]),
                _primary_phone=Subquery(phones.values("phone")[:1]),
            )
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Guest], search_term: str
    ) -> tuple[QuerySet[Guest], bool]:
        unsearched = queryset
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # Phones are stored E.164: "06 12 34 56 78" must find "+33612345678".
        term = search_term.strip()
        if term and sum(ch.isdigit() for ch in term) >= 6:
            try:
                e164 = normalize_phone(term)
            except ValidationError:
                e164 = ""
            if e164:
                owners = GuestPhone.objects.filter(phone=e164).values("guest_id")
                queryset |= unsearched.filter(pk__in=owners)
        return queryset, may_have_duplicates

    @admin.display(description=_("email"), ordering="_primary_email")
    def primary_email(self, obj: Guest) -> str:
        return getattr(obj, "_primary_email", None) or ""

    @admin.display(description=_("phone"), ordering="_primary_phone")
    def primary_phone(self, obj: Guest) -> str:
        return str(getattr(obj, "_primary_phone", None) or "")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # New guests go through identity resolution (the CRM screens, imports, the API), which
        # finds the existing profile instead of creating a duplicate.
        return False

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Guest | None = None,
    ) -> Any:
        # Opening a guest here is a viewing like any other: audited (not the re-display of a
        # form with errors, which is the same viewing).
        if change and obj is not None and request.method == "GET":
            audit_log(
                guest=obj,
                action=AuditEntry.Action.VIEW,
                actor=cast(User, request.user),  # the admin is for staff only
                details={"via": "admin"},
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request: HttpRequest, obj: Guest, form: forms.Form, change: bool) -> None:
        # Through the guest service: it audits each change and refreshes the match keys.
        changed = [f for f in EDITABLE_FIELDS if f in form.changed_data]
        if changed:
            before = Guest.objects.get(pk=obj.pk)
            data = {f: getattr(obj, f) for f in changed}
            for f in changed:
                setattr(obj, f, getattr(before, f))
            updated = guest_update(guest=obj, data=data, actor=request.user, partner=None)
            for f in [*changed, "name_folded"]:
                setattr(obj, f, getattr(updated, f))
        if "household" in form.changed_data:
            obj.save(update_fields=["household", "updated_at"])

    def save_formset(
        self, request: HttpRequest, form: forms.Form, formset: Any, change: bool
    ) -> None:
        if formset.model not in (GuestEmail, GuestPhone):
            super().save_formset(request, form, formset, change)
            return
        # Contact points are resolution keys: add and remove them through the guest service.
        guest = cast(forms.ModelForm[Guest], form).instance
        field = "email" if formset.model is GuestEmail else "phone"
        add = guest_email_add if field == "email" else guest_phone_add
        remove = guest_email_remove if field == "email" else guest_phone_remove
        # What the admin's history message reads ("Added email address ...").
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for sub in formset.deleted_forms:
            if sub.instance.pk:
                remove(
                    guest=guest,
                    actor=request.user,
                    partner=None,
                    **{field: str(sub.initial[field])},
                )
                formset.deleted_objects.append(sub.instance)
        for sub in formset.forms:
            if sub in formset.deleted_forms or not sub.has_changed():
                continue
            if sub.instance.pk and field in sub.changed_data:
                remove(
                    guest=guest,
                    actor=request.user,
                    partner=None,
                    **{field: str(sub.initial[field])},
                )
            row = add(
                guest=guest,
                make_primary=bool(sub.cleaned_data.get("is_primary")),
                actor=request.user,
                partner=None,
                **{field: str(sub.cleaned_data[field])},
            )
            if sub.instance.pk:
                formset.changed_objects.append((row, sub.changed_data))
            else:
                formset.new_objects.append(row)


@admin.register(GuestEmail)
class GuestEmailAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("email", "guest", "is_primary", "verified_at", "created_at")
    list_filter = ("is_primary",)
    list_select_related = ("guest",)
    search_fields = ("email_normalized", "guest__last_name")
    raw_id_fields = ("guest",)


@admin.register(GuestPhone)
class GuestPhoneAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("phone", "guest", "is_primary", "created_at")
    list_filter = ("is_primary",)
    list_select_related = ("guest",)
    search_fields = ("phone", "guest__last_name")
    raw_id_fields = ("guest",)


@admin.register(GuestExternalRef)
class GuestExternalRefAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("source", "external_id", "guest", "created_at")
    list_filter = ("source",)
    list_select_related = ("guest",)
    search_fields = ("external_id", "guest__last_name")
    raw_id_fields = ("guest",)


# --- Identity resolution bookkeeping -------------------------------------------------------


@admin.register(ResolutionKey)
class ResolutionKeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("key", "created_at")
    search_fields = ("key",)


@admin.register(MatchKey)
class MatchKeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("key", "guest")
    list_select_related = ("guest",)
    search_fields = ("key",)
    raw_id_fields = ("guest",)


@admin.register(PossibleDuplicate)
class PossibleDuplicateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # Merging and dismissing go through the review screens (merge service, audit, undo).
    list_display = ("__str__", "guest_a", "guest_b", "score", "status", "detected_by", "created_at")
    list_filter = ("status", "detected_by")
    list_select_related = ("guest_a", "guest_b", "resolved_by")
    search_fields = ("guest_a__last_name", "guest_b__last_name")
    raw_id_fields = ("guest_a", "guest_b", "resolved_by")
    ordering = ("status", "-score")


@admin.register(GuestMerge)
class GuestMergeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "survivor", "merged", "merged_by", "created_at", "undone_at")
    list_filter = ("undone_at",)
    list_select_related = ("survivor", "merged", "merged_by")
    raw_id_fields = ("survivor", "merged", "merged_by", "undone_by", "acting_partner")


# --- Consent ledger (append-only, read-only here) ------------------------------------------


@admin.register(ConsentWording)
class ConsentWordingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("purpose", "version", "language", "created_at")
    list_filter = ("purpose", "language")
    search_fields = ("text", "version")


class ConsentEventOfProofInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ConsentEvent
    extra = 0
    fields = ("guest", "purpose", "partner", "channel", "granted")
    readonly_fields = fields


@admin.register(ConsentProof)
class ConsentProofAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "method",
        "is_objection",
        "wording",
        "recorded_by_partner",
        "recorded_by",
        "occurred_at",
    )
    list_filter = ("method", "is_objection", "recorded_by_partner")
    list_select_related = ("wording", "recorded_by_partner", "recorded_by")
    date_hierarchy = "occurred_at"
    inlines = (ConsentEventOfProofInline,)


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("guest", "purpose", "partner", "channel", "granted", "created_at")
    list_filter = ("purpose", "channel", "granted", "partner")
    list_select_related = ("guest", "partner")
    search_fields = ("guest__last_name", "guest__emails__email_normalized")
    raw_id_fields = ("guest", "proof")


@admin.register(ConsentState)
class ConsentStateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("guest", "purpose", "partner", "channel", "granted", "updated_at")
    list_filter = ("purpose", "channel", "granted", "partner")
    list_select_related = ("guest", "partner")
    search_fields = ("guest__last_name", "guest__emails__email_normalized")
    raw_id_fields = ("guest", "event")


# --- Timeline and audit ---------------------------------------------------------------------


@admin.register(TimelineEvent)
class TimelineEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("occurred_at", "guest", "kind", "partner", "visibility", "title")
    list_filter = ("kind", "visibility", "partner")
    list_select_related = ("guest", "partner")
    search_fields = ("title", "guest__last_name")
    raw_id_fields = ("guest",)
    date_hierarchy = "occurred_at"


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "action", "guest", "actor", "acting_partner")
    list_filter = ("action", "acting_partner")
    list_select_related = ("guest", "actor", "acting_partner")
    search_fields = ("guest__last_name", "actor__email")
    raw_id_fields = ("guest", "actor")
    date_hierarchy = "created_at"


@admin.register(LinkageModel)
class LinkageModelAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # Versions are written by manage.py linkage_train only, never edited.
    list_display = ("version", "trained_at", "auto_match_weight", "review_match_weight")
    list_select_related = ("trained_by",)
    date_hierarchy = "trained_at"
