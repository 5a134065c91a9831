"""The project's URLs without the open pixel and click redirector: a deployment where tracking
is not mounted, for the test that links then stay as written."""

from destination.urls import urlpatterns as project_urlpatterns


def _is_tracking(pattern: object) -> bool:
    module = getattr(pattern, "urlconf_name", None)
    return getattr(module, "__name__", "") == "newsletters.tracking_urls"


urlpatterns = [p for p in project_urlpatterns if not _is_tracking(p)]
