"""The public booking pages, mounted at /<lang>/book/ (before Wagtail's catch-all)."""

from django.urls import path

from bookings import views

app_name = "bookings"

urlpatterns = [
    path("", views.offer_list, name="offer-list"),
    path("my-bookings/", views.my_bookings, name="my-bookings"),
    path("booking/<str:token>/", views.booking_detail, name="booking-detail"),
    # The name the core's emails reverse for their "manage my booking" link.
    path("booking/<str:token>/", views.booking_detail, name="manage"),
    path("booking/<str:token>/cancel/", views.booking_cancel, name="booking-cancel"),
    path("booking/<str:token>/paid/", views.booking_paid, name="booking-paid"),
    path("booking/<str:token>/status/", views.booking_status, name="booking-status"),
    path("booking/<str:token>/pay/", views.booking_pay, name="booking-pay"),
    path(
        "booking/<str:token>/payment-cancelled/",
        views.booking_payment_cancelled,
        name="booking-payment-cancelled",
    ),
    path("<slug:slug>/", views.offer_detail, name="offer-detail"),
    path("<slug:slug>/party/", views.offer_party, name="offer-party"),
]
