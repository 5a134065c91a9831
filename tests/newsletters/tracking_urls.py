"""The project's URLs with the tracking redirector wired, as a deployment wires it."""

from destination.urls import urlpatterns as project_urlpatterns
from newsletters.tracking_views import tracking_urlpatterns

urlpatterns = [*tracking_urlpatterns(recorder=None), *project_urlpatterns]
