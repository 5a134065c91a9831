from django.urls import path

from portal import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("partner/", views.pick, name="pick"),
    path("language/", views.language, name="language"),
    path("guests/new/", views.guest_create, name="guest_create"),
    path("guests/<int:guest_id>/", views.guest, name="guest"),
    path("guests/<int:guest_id>/timeline/", views.timeline, name="timeline"),
    path(
        "guests/<int:guest_id>/interactions/", views.interaction_create, name="interaction_create"
    ),
    path("guests/<int:guest_id>/prove/", views.relationship_prove, name="relationship_prove"),
    path("guests/<int:guest_id>/contact/", views.contact, name="contact"),
    path("guests/<int:guest_id>/identity/", views.identity, name="identity"),
    path("guests/<int:guest_id>/consents/", views.consent, name="consent"),
    path("guests/<int:guest_id>/export/", views.guest_export_view, name="guest_export"),
    path("guests/<int:guest_id>/erase/", views.guest_erase_view, name="guest_erase"),
    path("duplicates/", views.duplicates, name="duplicates"),
    path("duplicates/<int:pk>/", views.duplicate_detail, name="duplicate"),
    path(
        "duplicates/<int:pk>/household-dismiss/",
        views.duplicate_household_dismiss_view,
        name="duplicate_household_dismiss",
    ),
    path("merges/<int:pk>/undo/", views.merge_undo_view, name="merge_undo"),
]
