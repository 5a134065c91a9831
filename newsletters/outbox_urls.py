"""The demo's outbox pages (``newsletters.outbox_views``), mounted at /outbox/."""

from django.urls import path

from newsletters import outbox_views

app_name = "outbox"

urlpatterns = [
    path("", outbox_views.outbox_list, name="list"),
    path("<int:message_id>/", outbox_views.outbox_detail, name="detail"),
    path("<int:message_id>/body.html", outbox_views.outbox_html, name="html"),
]
