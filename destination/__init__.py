"""The project (settings, URLs, the Celery app) and the shared guest core.

The core depends on nothing above it: partners, bookings, content and newsletters extend it
through ``destination.registry`` from their ``AppConfig.ready()``; only the project wiring
(``destination/urls.py``, ``destination/settings/``, ``destination/celery.py``) and the demo
seeder that fills every app (``management/commands/seed_demo.py``) name them.

One declared exception: the core reads two models of the partners app, because the consent
ledger is scoped per partner and "a partner received the guest's data" is a core fact:

- ``partners.models.Partner``: consent scope (``services/consent.py``, ``consent_selectors.py``,
  ``forms.py``) and the partner a resolution or an import acts for (``services/resolution.py``,
  ``management/commands/import_guests.py``);
- ``partners.models.PartnerGuestLink``: linking a partner to a guest
  (``services/partner_links.py``, ``services/consent.py``, ``services/resolution.py``).

Each such import is marked "layering exception" (``grep -rn "layering exception"
destination``); imports under ``TYPE_CHECKING`` are for types only. Nothing else of
``partners`` is imported by the core, not even inside a function.
"""

from .celery import app as celery_app

__all__ = ["celery_app"]
