"""The open pixel ``/t/o/<token>.gif`` and the click redirector ``/t/c/<token>/``, mounted at the
root of the project's URLs outside the language prefix (``destination/urls.py``), with the
pipeline's recorder."""

from newsletters.tracking_record import MessageHitRecorder
from newsletters.tracking_views import tracking_urlpatterns

urlpatterns = tracking_urlpatterns(recorder=MessageHitRecorder())
