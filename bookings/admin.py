"""Django admin for operators: offers with their sessions, bookings with party and payments.
Seat counts and payments are read-only here: they change only through the services. Once a row
exists, its owner does not move: an offer's partner, a session's offer, a booking's session and
partner (``fixed_once_saved``). Seats were taken on that session, and a booking's partner is its
offer's: newsletters' segments reach a partner kind's bookings through the session's offer."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from bookings.models import Booking, BookingEvent, Offer, Participant, Payment, Session, StripeEvent


class _FixedOnceSaved:
    """Adds ``fixed_once_saved`` to the read-only fields of an existing row (not on "add")."""

    fixed_once_saved: tuple[str, ...] = ()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))  # type: ignore[misc]
        return fields + list(self.fixed_once_saved) if obj is not None else fields


class SessionInline(admin.TabularInline):
    model = Session
    extra = 0
    fields = ["starts_at", "ends_at", "capacity", "seats_taken"]
    readonly_fields = ["seats_taken"]
    show_change_link = True


@admin.register(Offer)
class OfferAdmin(_FixedOnceSaved, admin.ModelAdmin):
    fixed_once_saved = ("partner",)
    list_display = ["title_en", "partner", "kind", "price_cents", "pricing", "is_published"]
    list_filter = ["kind", "is_published", "partner"]
    search_fields = ["title_en", "title_fr", "slug", "partner__name"]
    prepopulated_fields = {"slug": ["title_en"]}
    list_select_related = ["partner"]
    inlines = [SessionInline]


@admin.register(Session)
class SessionAdmin(_FixedOnceSaved, admin.ModelAdmin):
    fixed_once_saved = ("offer",)
    list_display = ["offer", "starts_at", "ends_at", "capacity", "seats_taken"]
    list_filter = ["offer__kind", "offer__partner"]
    date_hierarchy = "starts_at"
    readonly_fields = ["seats_taken"]
    list_select_related = ["offer__partner"]
    search_fields = ["offer__title_en"]


class ParticipantInline(admin.TabularInline):
    model = Participant
    extra = 0
    raw_id_fields = ["guest"]


class PaymentInline(admin.TabularInline):
    model = Payment
    extra = 0
    can_delete = False
    fields = ("kind", "provider", "status", "amount_cents", "stripe_checkout_session_id",
              "stripe_payment_intent_id", "created_at")  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Booking)
class BookingAdmin(_FixedOnceSaved, admin.ModelAdmin):
    fixed_once_saved = ("session", "partner")
    list_display = ["reference", "session", "booker", "status", "seats", "total_cents",
                    "paid_cents", "balance", "balance_overdue_at", "created_at"]  # fmt: skip
    list_filter = ["status", "payment_method", "channel", "partner"]
    search_fields = ["reference", "contact_name", "contact_email"]
    raw_id_fields = ["booker", "session", "created_by"]
    list_select_related = ["session__offer", "booker"]
    readonly_fields = ["reference", "status", "seats", "total_cents", "deposit_cents",
                       "paid_cents", "refunded_cents", "hold_expires_at", "confirmed_at",
                       "cancelled_at", "checked_in_at", "confirmation_sent_at",
                       "balance_requested_at", "balance_reminded_at", "balance_overdue_at"]  # fmt: skip
    inlines = [ParticipantInline, PaymentInline]

    @admin.display(description=_("balance"))
    def balance(self, obj: Booking) -> str:
        return f"{obj.balance_cents / 100:.2f}"


@admin.register(BookingEvent)
class BookingEventAdmin(admin.ModelAdmin):
    list_display = ["id", "booking", "kind", "status", "created_at"]
    list_filter = ["kind"]
    raw_id_fields = ["booking"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "type", "object_id", "received_at"]
    search_fields = ["event_id", "object_id"]
