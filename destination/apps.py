from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DestinationConfig(AppConfig):
    name = "destination"
    verbose_name = _("Destination")

    def ready(self) -> None:
        from destination import checks  # noqa: F401  (registers the deploy checks; models load after AppConfig)
