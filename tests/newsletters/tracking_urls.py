"""The project's URLs, which mount the tracking redirector (kept as a name for the tests that
set it explicitly)."""

from destination.urls import urlpatterns as urlpatterns
