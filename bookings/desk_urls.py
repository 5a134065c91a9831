"""The booking desk, mounted at /<lang>/portal/bookings/ inside the partner portal."""

from django.urls import path
from django.utils.translation import gettext_lazy as _

from bookings import desk_views
from partners.nav import nav_register

app_name = "bookings_desk"

# Registered here rather than in AppConfig.ready: the entry only means something where these
# URLs are mounted, and the URLconf is loaded before any portal page renders its navigation.
nav_register("bookings", _("Bookings"), "bookings_desk:list", order=30)

urlpatterns = [
    path("", desk_views.desk_list, name="list"),
    path("new/", desk_views.desk_new, name="new"),
    path("new/<slug:slug>/", desk_views.desk_create, name="create"),
    path("new/<slug:slug>/party/", desk_views.desk_party, name="party"),
    path("<str:reference>/", desk_views.desk_detail, name="detail"),
    path("<str:reference>/payment/", desk_views.desk_payment, name="payment"),
    path("<str:reference>/payment-link/", desk_views.desk_payment_link, name="payment-link"),
    path("<str:reference>/check-in/", desk_views.desk_check_in, name="check-in"),
    path("<str:reference>/cancel/", desk_views.desk_cancel, name="cancel"),
]
