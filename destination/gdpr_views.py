"""GDPR export pages: the complete subject-access export for holders of the
``destination.export_complete_guest_data`` permission (the destination's data-protection
officer, through the "Data protection officer" group; superusers), who give the request's
reference as a reason, audited; a partner-scoped one for staff whose acting partner may export
(the partners app says which partner that is: ``registry.register_export_partner``)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from destination import registry
from destination.models import AuditEntry, ConsentProof, Guest, Purpose, TimelineEvent, Visibility
from destination.services.gdpr import guest_export
from destination.services.merge import guest_resolve_id

if TYPE_CHECKING:
    from partners.models import Partner  # types only: see destination/__init__.py

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
    "timeline": pgettext_lazy("guest", "Timeline"),
    "partner_relationships": gettext_lazy("Partners who know the guest"),
    "match_keys": gettext_lazy("Duplicate-detection keys"),
    "merges": gettext_lazy("Merges"),
    "audit": gettext_lazy("Who viewed, changed, exported, merged or erased the profile"),
    "profile": pgettext_lazy("guest", "Profile"),
    "contact": gettext_lazy("Contact"),
    "contact_hint": gettext_lazy("Contact (masked)"),
    "demographics": gettext_lazy("Country and language"),
    "interests": gettext_lazy("Interests and labels"),
    "consents": gettext_lazy("Consents"),
    "access": gettext_lazy("Access"),
}


# Labels of the record fields an export carries; other keys (evidence details) are shown as is.
FIELD_LABELS: dict[str, Any] = {
    "acting_partner": gettext_lazy("Partner acting"),
    "action": gettext_lazy("Action"),
    "actor_id": gettext_lazy("Staff member (id)"),
    "birth_date": gettext_lazy("Birth date"),
    "body": gettext_lazy("Details"),
    "category": gettext_lazy("Category"),
    "channel": gettext_lazy("Channel"),
    "channels": gettext_lazy("Channels"),
    "country": gettext_lazy("Country"),
    "created_at": gettext_lazy("Created at"),
    "created_by_partner": gettext_lazy("Created by partner"),
    "data": gettext_lazy("Data"),
    "details": gettext_lazy("Details"),
    "email": gettext_lazy("Email"),
    "erased_at": gettext_lazy("Erased at"),
    "events": gettext_lazy("Ledger entries"),
    "evidence": gettext_lazy("Evidence"),
    "external_id": gettext_lazy("External id"),
    "first_name": gettext_lazy("First name"),
    "first_seen_at": gettext_lazy("First seen"),
    "full_name": gettext_lazy("Full name"),
    "generated_at": gettext_lazy("Generated at"),
    "granted": gettext_lazy("Granted"),
    "guest_id": gettext_lazy("Guest (id)"),
    "has_booked": gettext_lazy("Has booked"),
    "id": gettext_lazy("Id"),
    "ip": gettext_lazy("IP address"),
    "is_objection": gettext_lazy("Objection"),
    "is_primary": pgettext_lazy("contact point", "Primary"),
    "kind": gettext_lazy("Kind"),
    "language": gettext_lazy("Language"),
    "last_contact_at": gettext_lazy("Last contact"),
    "last_name": gettext_lazy("Last name"),
    "last_seen_at": gettext_lazy("Last seen"),
    "level": gettext_lazy("Level"),
    "merged_at": gettext_lazy("Merged at"),
    "merged_into_id": gettext_lazy("Merged into (id)"),
    "method": gettext_lazy("Method"),
    "name": gettext_lazy("Name"),
    "named_partners": gettext_lazy("Partners named"),
    "occurred_at": gettext_lazy("Date"),
    "partner": gettext_lazy("Partner"),
    "partner_id": gettext_lazy("Partner (id)"),
    "partners": gettext_lazy("Partners"),
    "phone": gettext_lazy("Phone"),
    "proof": gettext_lazy("Proof"),
    "purpose": gettext_lazy("Purpose"),
    "reason": gettext_lazy("Reason"),
    "recorded_at": gettext_lazy("Recorded at"),
    "recorded_by_partner": gettext_lazy("Recorded by partner"),
    "role": gettext_lazy("Role"),
    "scope": gettext_lazy("Scope"),
    "sections": gettext_lazy("Sections"),
    "since": gettext_lazy("Since"),
    "size": gettext_lazy("Size"),
    "slug": pgettext_lazy("url", "Slug"),
    "source": gettext_lazy("Source"),
    "source_detail": gettext_lazy("Source detail"),
    "status": gettext_lazy("Status"),
    "summary": gettext_lazy("Summary"),
    "survivor_id": gettext_lazy("Kept profile (id)"),
    "text": gettext_lazy("Text"),
    "title": gettext_lazy("Title"),
    "undone_at": gettext_lazy("Undone at"),
    "updated_at": gettext_lazy("Updated at"),
    "url": gettext_lazy("Page address"),
    "user_agent": gettext_lazy("Browser"),
    "uuid": gettext_lazy("Identifier"),
    "verified_at": gettext_lazy("Verified at"),
    "version": gettext_lazy("Version"),
    "visibility": gettext_lazy("Visibility"),
    "wording": gettext_lazy("Wording shown"),
}


COMPLETE_EXPORT_PERMISSION = "destination.export_complete_guest_data"


class CompleteExportForm(forms.Form):
    """Why the complete export is made: kept on its audit row."""

    reason = forms.CharField(
        label=gettext_lazy("Reason for the complete export"),
        max_length=200,
        help_text=gettext_lazy(
            "The subject-access request this answers: its reference or date (no personal data)."
        ),
    )


def may_export_complete(user: Any) -> bool:
    return bool(user.is_authenticated and user.has_perm(COMPLETE_EXPORT_PERMISSION))


def _acting_partner(request: HttpRequest) -> Partner | None:
    """None for the complete export (holders of the permission, unless they ask for a
    partner's scope with ``?partner=``); otherwise the partner the user acts for, as the
    registered hook says. PermissionDenied when there is none."""
    if may_export_complete(request.user) and not request.GET.get("partner"):
        return None
    hook = registry.export_partner()
    if hook is None:
        raise PermissionDenied(_("You may not export this guest's data."))
    return hook(request)


def _guest_or_redirect(request: HttpRequest, guest_id: int, url_name: str) -> Guest | HttpResponse:
    try:
        guest = guest_resolve_id(guest_id)
    except Guest.DoesNotExist:
        raise Http404(_("No such guest.")) from None
    if guest.pk != guest_id:
        query = request.GET.urlencode()
        url = reverse(url_name, args=[guest.pk])
        return HttpResponseRedirect(f"{url}?{query}" if query else url)
    return guest


@never_cache
@login_required
@require_GET
def guest_export_json(request: HttpRequest, guest_id: int) -> HttpResponse:
    found = _guest_or_redirect(request, guest_id, "gdpr:guest-export-json")
    if isinstance(found, HttpResponse):
        return found
    partner = _acting_partner(request)
    reason = ""
    if partner is None:
        form = CompleteExportForm(request.GET)
        if not form.is_valid():  # the page asks for the reason
            return HttpResponseRedirect(reverse("gdpr:guest-export", args=[guest_id]))
        reason = form.cleaned_data["reason"]
    data = guest_export(guest=found, actor=request.user, partner=partner, reason=reason)  # type: ignore[arg-type]  # login_required
    response = JsonResponse(data, json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="guest-{guest_id}-export.json"'
    return response


# The export's dates and times are ISO strings ("2026-12-02T11:35:57.1+00:00"): shown in the
# reader's format and the destination's time zone; the JSON download keeps them as they are.
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _display_date(value: str) -> str | None:
    if _ISO_DATETIME.match(value):
        moment = parse_datetime(value)
        if moment is not None:
            if timezone.is_aware(moment):
                moment = timezone.localtime(moment)
            return formats.date_format(moment, "DATETIME_FORMAT")
    elif _ISO_DATE.match(value):
        day = parse_date(value)
        if day is not None:
            return formats.date_format(day, "DATE_FORMAT")
    return None


# Fields whose values are stored choices ("desk", "in_person"): shown with their labels. The
# core's own choices are named here; values of higher apps' choices (an interaction's kind or
# channel) are written out from the stored value ("In person").
_CHOICE_FIELDS = frozenset(
    {
        "action",
        "category",
        "channel",
        "kind",
        "level",
        "method",
        "purpose",
        "reason",
        "role",
        "scope",
        "source",
        "status",
        "visibility",
    }
)
_CHOICE_VALUE = re.compile(r"^[a-z]+(?:_[a-z]+)*$")


def _choice_labels() -> dict[str, Any]:
    labels: dict[str, Any] = {}
    for choices in (
        TimelineEvent.Kind,
        AuditEntry.Action,
        ConsentProof.Method,
        Guest.Status,
        Guest.Source,
        Visibility,
        Purpose,
    ):
        labels.update({str(value): label for value, label in choices.choices})
    labels.update({"full": gettext_lazy("Complete"), "partner": gettext_lazy("Partner-scoped")})
    return labels


def _display(value: Any, key: str = "") -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        if key == "sections":  # the names of the export's own sections
            return _title(value)
        if key in _CHOICE_FIELDS and _CHOICE_VALUE.match(value):
            label = _choice_labels().get(value)
            return str(label) if label else capfirst(value.replace("_", " "))
        try:
            return _display_date(value) or value
        except ValueError:  # "2026-13-45": shown as typed
            return value
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(_display(v, key) for v in value) or "—"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _title(key: str) -> str:
    label = SECTION_TITLES.get(key) or FIELD_LABELS.get(key)
    return str(label) if label else capfirst(key.replace("_", " "))


def _sections(data: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    """Turn the export into sections a template renders without recursion: a table for a list
    of records, a list for a list of values, key/value pairs for a record (its nested lists of
    records become sections of their own)."""
    sections: list[dict[str, Any]] = []
    for key, value in data.items():
        title = f"{prefix}{_title(key)}"
        if isinstance(value, dict):
            nested = {k: v for k, v in value.items() if isinstance(v, list | dict) and v}
            pairs = [(_title(k), _display(v, k)) for k, v in value.items() if k not in nested]
            sections.append({"title": title, "kind": "pairs", "pairs": pairs})
            sections.extend(_sections(nested, prefix=f"{title} / "))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            headers: list[str] = []
            for row in value:
                headers.extend(k for k in row if k not in headers)
            rows = [[_display(row.get(h), h) for h in headers] for row in value]
            sections.append(
                {
                    "title": title,
                    "kind": "table",
                    "headers": [_title(h) for h in headers],
                    "rows": rows,
                }
            )
        elif isinstance(value, list):
            items = [_display(v, key) for v in value]
            sections.append({"title": title, "kind": "list", "items": items})
        else:
            pairs = [(title, _display(value, key))]
            sections.append({"title": title, "kind": "pairs", "pairs": pairs})
    return sections


def _guest_name(data: dict[str, Any]) -> str:
    """The person's name as this export shows it (a scoped export may not show it)."""
    identity = data.get("identity") or data.get("profile", {}).get("identity") or {}
    name = identity.get("full_name") or " ".join(
        part for part in (identity.get("first_name"), identity.get("last_name")) if part
    )
    return str(name)


def _guest_page_url(guest_id: int) -> str | None:
    # The portal's guest page (the partners' shell names it; the core alone has none).
    try:
        return reverse("portal:guest", args=[guest_id])
    except NoReverseMatch:
        return None


@never_cache
@login_required
@require_GET
def guest_export_page(request: HttpRequest, guest_id: int) -> HttpResponse:
    found = _guest_or_redirect(request, guest_id, "gdpr:guest-export")
    if isinstance(found, HttpResponse):
        return found
    partner = _acting_partner(request)
    context: dict[str, Any] = {"guest_id": guest_id, "guest_url": _guest_page_url(guest_id)}
    reason = ""
    if partner is None:
        form = CompleteExportForm(request.GET if "reason" in request.GET else None)
        if not form.is_valid():
            # No export without the request it answers: ask for it first (nothing audited).
            return render(
                request,
                "destination/guest_export_reason.html",
                {**context, "form": form},
                status=400 if form.is_bound else 200,
            )
        reason = form.cleaned_data["reason"]
    else:
        # The staff shell's header shows who the page is for (as the portal's pages do).
        request.partner = partner  # type: ignore[attr-defined]
    data = guest_export(guest=found, actor=request.user, partner=partner, reason=reason)  # type: ignore[arg-type]  # login_required
    json_url = reverse("gdpr:guest-export-json", args=[guest_id])
    query = request.GET.urlencode()
    body = {k: v for k, v in data.items() if k != "export"}
    return render(
        request,
        "destination/guest_export.html",
        {
            **context,
            "scope": data["export"]["scope"],
            "partner": data["export"]["partner"],
            "reason": reason,
            "guest_name": _guest_name(body),
            "generated_at": parse_datetime(data["export"]["generated_at"]),
            "sections": _sections(body),
            "json_url": f"{json_url}?{query}" if query else json_url,
        },
    )
