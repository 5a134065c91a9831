"""GDPR export pages: the complete subject-access export for superusers (the destination's
data-protection officer), a partner-scoped one for staff whose acting partner may export."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from destination.models import Guest

if TYPE_CHECKING:
    from partners.models import Partner

SECTION_TITLES: dict[str, Any] = {
    "export": gettext_lazy("About this export"),
    "identity": gettext_lazy("Identity"),
    "merged_profiles": gettext_lazy("Profiles merged into this one"),
    "emails": gettext_lazy("Email addresses"),
    "phones": gettext_lazy("Phone numbers"),
    "external_refs": gettext_lazy("References in other systems"),
    "household": gettext_lazy("Household"),
    "tags": gettext_lazy("Interests and labels"),
    "consent_ledger": gettext_lazy("Consent history, with proofs"),
    "consent_states": gettext_lazy("Current consents"),
    "interactions": gettext_lazy("Interactions"),
    "timeline": gettext_lazy("Timeline"),
    "partner_relationships": gettext_lazy("Partners who know the guest"),
    "match_keys": gettext_lazy("Duplicate-detection keys"),
    "merges": gettext_lazy("Merges"),
    "audit": gettext_lazy("Who viewed, changed, exported, merged or erased the profile"),
    "profile": gettext_lazy("Profile"),
    "contact": gettext_lazy("Contact"),
    "contact_hint": gettext_lazy("Contact (masked)"),
    "demographics": gettext_lazy("Country and language"),
    "interests": gettext_lazy("Interests and labels"),
    "consents": gettext_lazy("Consents"),
    "access": gettext_lazy("Access"),
}


def _acting_partner(request: HttpRequest) -> Partner | None:
    """None for a superuser (the complete export); otherwise the partner the user acts for (its
    only active membership, or the ``partner`` query parameter, an id or slug among its
    memberships), which must be allowed to export. PermissionDenied otherwise."""
    from partners.access import can_export
    from partners.models import Membership

    user = request.user
    if user.is_superuser:
        return None
    memberships = [
        m.partner
        for m in Membership.objects.filter(
            user_id=user.pk, is_active=True, partner__is_active=True
        ).select_related("partner")
    ]
    wanted = request.GET.get("partner", "").strip()
    if wanted:
        partner = next((p for p in memberships if wanted in (str(p.pk), p.slug)), None)
    else:
        partner = memberships[0] if len(memberships) == 1 else None
    if partner is None or not can_export(user, partner):
        raise PermissionDenied(_("You may not export this guest's data."))
    return partner


def _export_or_redirect(
    request: HttpRequest, guest_id: int, url_name: str
) -> dict[str, Any] | HttpResponseRedirect:
    from destination.services.gdpr import guest_export
    from destination.services.merge import guest_resolve_id

    partner = _acting_partner(request)
    try:
        guest = guest_resolve_id(guest_id)
    except Guest.DoesNotExist:
        raise Http404(_("No such guest.")) from None
    if guest.pk != guest_id:
        query = request.GET.urlencode()
        url = reverse(url_name, args=[guest.pk])
        return HttpResponseRedirect(f"{url}?{query}" if query else url)
    return guest_export(guest=guest, actor=request.user, partner=partner)  # type: ignore[arg-type]


@never_cache
@login_required
@require_GET
def guest_export_json(request: HttpRequest, guest_id: int) -> HttpResponse:
    data = _export_or_redirect(request, guest_id, "gdpr:guest-export-json")
    if isinstance(data, HttpResponseRedirect):
        return data
    response = JsonResponse(data, json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="guest-{guest_id}-export.json"'
    return response


def _display(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _title(key: str) -> str:
    return str(SECTION_TITLES.get(key) or capfirst(key.replace("_", " ")))


def _sections(data: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    """Turn the export into sections a template renders without recursion: a table for a list
    of records, a list for a list of values, key/value pairs for a record (its nested lists of
    records become sections of their own)."""
    sections: list[dict[str, Any]] = []
    for key, value in data.items():
        title = f"{prefix}{_title(key)}"
        if isinstance(value, dict):
            nested = {k: v for k, v in value.items() if isinstance(v, list | dict) and v}
            pairs = [(_title(k), _display(v)) for k, v in value.items() if k not in nested]
            sections.append({"title": title, "kind": "pairs", "pairs": pairs})
            sections.extend(_sections(nested, prefix=f"{title} / "))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            headers: list[str] = []
            for row in value:
                headers.extend(k for k in row if k not in headers)
            rows = [[_display(row.get(h)) for h in headers] for row in value]
            sections.append(
                {
                    "title": title,
                    "kind": "table",
                    "headers": [_title(h) for h in headers],
                    "rows": rows,
                }
            )
        elif isinstance(value, list):
            sections.append({"title": title, "kind": "list", "items": [_display(v) for v in value]})
        else:
            sections.append({"title": title, "kind": "pairs", "pairs": [(title, _display(value))]})
    return sections


@never_cache
@login_required
@require_GET
def guest_export_page(request: HttpRequest, guest_id: int) -> HttpResponse:
    data = _export_or_redirect(request, guest_id, "gdpr:guest-export")
    if isinstance(data, HttpResponseRedirect):
        return data
    json_url = reverse("gdpr:guest-export-json", args=[guest_id])
    query = request.GET.urlencode()
    return render(
        request,
        "destination/guest_export.html",
        {
            "guest_id": guest_id,
            "scope": data["export"]["scope"],
            "partner": data["export"]["partner"],
            "generated_at": data["export"]["generated_at"],
            "sections": _sections({k: v for k, v in data.items() if k != "export"}),
            "json_url": f"{json_url}?{query}" if query else json_url,
        },
    )
