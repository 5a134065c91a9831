"""The catalogue, mounted at /<lang>/portal/offers/ inside the partner portal."""

from django.urls import path
from django.utils.translation import gettext_lazy as _

from bookings import catalogue_views
from partners.nav import nav_register

app_name = "offers"

nav_register("offers", _("Offers"), "offers:list", order=35)

urlpatterns = [
    path("", catalogue_views.offer_list, name="list"),
    path("new/", catalogue_views.offer_new, name="new"),
    path("sessions/<int:pk>/capacity/", catalogue_views.session_capacity, name="capacity"),
    path("sessions/<int:pk>/delete/", catalogue_views.session_delete, name="session-delete"),
    path("<slug:slug>/", catalogue_views.offer_edit, name="edit"),
    path("<slug:slug>/sessions/", catalogue_views.sessions_add, name="sessions-add"),
]
