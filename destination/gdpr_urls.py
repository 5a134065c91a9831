from django.urls import path

from destination import gdpr_views

app_name = "gdpr"

urlpatterns = [
    path(
        "guests/<int:guest_id>/export.json",
        gdpr_views.guest_export_json,
        name="guest-export-json",
    ),
    path("guests/<int:guest_id>/export/", gdpr_views.guest_export_page, name="guest-export"),
]
