"""The request of the staff screens (the Django admin's and Wagtail's, ``newsletters.admin`` and
``newsletters.wagtail_hooks``): both sites let only signed-in staff in, so ``request.user`` is a
``User`` there, never anonymous. An annotation only: the views receive Django's request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from destination.models import User


class StaffRequest(HttpRequest):
    user: User
