"""The partner API (django-ninja), mounted at /api/v1/ by the project's URLconf. A partner's system authenticates with
"Authorization: Bearer <key>" (partners.api_keys) and acts as that partner: it resolves people
into the shared guest profile and reads guests through the same access layer as the staff
screens, so it sees exactly what the partner's sharing level opens.

Logging interactions is not offered: ``interaction_log`` needs the staff member who acted, and
an API key is no person.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, NinjaAPI, Schema, Status
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer

from destination.models import AuditEntry, Guest
from destination.services.audit import audit_log
from destination.services.merge import guest_resolve_id
from destination.services.resolution import Decision, PersonData, guest_resolve
from partners.access import guest_access, guest_profile_for
from partners.api_keys import partner_api_key_find
from partners.models import AccessFlag, Partner, PartnerApiKey, PartnerGuestLink
from partners.services import access_flag_raise, daily_limit, day_start


class PartnerKeyAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> PartnerApiKey | None:
        return partner_api_key_find(token)


api = NinjaAPI(
    title="Destination partner API",
    version="1",
    description=(
        "Resolve people into the destination's shared guest profile and read guests as your "
        "partner account may see them. Authenticate with `Authorization: Bearer <key>`."
    ),
    auth=PartnerKeyAuth(),
    urls_namespace="api-v1",
)


def _not_found(request: HttpRequest) -> Status[dict[str, Any]]:
    # LocaleMiddleware turns any 404 outside i18n_patterns into a redirect to "/en/<path>"
    # (Wagtail's catch-all page route makes every prefixed path look valid). Reading the URLconf
    # below, which has no i18n_patterns, it lets an API client get its 404.
    request.urlconf = __name__
    return Status(404, {"detail": _("No such guest.")})


def _partner(request: HttpRequest) -> Partner:
    key: PartnerApiKey = request.auth  # type: ignore[attr-defined]  # set by ninja auth  # set by ninja auth
    return key.partner


# --- Schemas --------------------------------------------------------------------------------


class PersonIn(Schema):
    first_name: str = Field("", max_length=150)
    last_name: str = Field("", max_length=150)
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=40)
    country: str = Field("", max_length=64, description="ISO 3166 code or English name")
    # Read by resolution, not by the schema: a malformed date leaves the person without it
    # (a warning), it does not refuse them.
    birth_date: str | None = Field(
        None, max_length=32, description="YYYY-MM-DD", json_schema_extra={"format": "date"}
    )
    language: str = Field("", max_length=16, description="e.g. fr, en, de")
    external_id: str = Field(
        "", max_length=128, description="Your id for this person: sending it again resolves it"
    )


class WarningOut(Schema):
    field: str
    code: str = Field(description="left_out: unreadable, the person was kept without it; "
                      "phone_as_typed: no country tells how to read it, kept as typed")  # fmt: skip
    message: str


class ResolveOut(Schema):
    decision: str = Field(description="matched, created or review")
    guest_id: int
    warnings: list[WarningOut] = Field(
        default_factory=list, description="The fields this person was kept without"
    )


class ErrorOut(Schema):
    detail: str
    errors: dict[str, list[str]] = {}


# --- Errors ---------------------------------------------------------------------------------


@api.exception_handler(NinjaValidationError)
def validation_errors(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    """Schema errors as {field: [messages]}, the shape resolution's own errors have, so a
    client handles one format."""
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        names = [str(part) for part in error.get("loc", ()) if isinstance(part, str)]
        field = names[-1] if names and names[-1] not in {"body", "payload"} else "__all__"
        errors.setdefault(field, []).append(str(error.get("msg", "")))
    return api.create_response(
        request, {"detail": _("Some fields are invalid."), "errors": errors}, status=422
    )


# --- Endpoints ------------------------------------------------------------------------------


@api.post(
    "/guests/resolve",
    response={200: ResolveOut, 201: ResolveOut, 422: ErrorOut, 429: ErrorOut},
    summary="Resolve a person to a guest",
)
def guests_resolve(request: HttpRequest, payload: PersonIn) -> Status[dict[str, Any]]:
    """Find the guest this person is, or create one. ``review`` means a new guest was created
    and a possible duplicate waits for the tourist office's review. 201 when a guest was
    created, 200 when an existing one was found.

    A resolve reveals the guest's id and nothing else. Matching an existing guest your partner
    has no relationship with yet is not a relationship: ``GET /guests/{id}`` answers 404 until
    the guest books with you, consents to your partner with proof, or your staff confirm them
    at the desk. Each key matches at most ``PARTNER_API_RESOLVES_PER_KEY_DAY`` such guests a
    day (429 beyond, flagged to the tourist office).

    A field that cannot be read (a phone, a birth date, a country...) does not refuse the
    person: they are resolved without it and ``warnings`` says what was left out and why. 422
    only when nothing identifying is left (no name, email or phone) or the JSON has the wrong
    shape."""
    partner = _partner(request)
    key: PartnerApiKey = request.auth  # type: ignore[attr-defined]
    started = timezone.now()
    limit = daily_limit("PARTNER_API_RESOLVES_PER_KEY_DAY")
    matched_today = PartnerGuestLink.objects.filter(
        partner=partner,
        reason=PartnerGuestLink.Reason.RESOLVED,
        evidence__api_key=key.prefix,
        first_seen_at__gte=day_start(timezone.localdate()),
    ).count()
    if matched_today >= limit:
        access_flag_raise(
            kind=AccessFlag.Kind.MANY_RESOLVES, partner=partner, api_key=key, limit=limit
        )
        return Status(429, {"detail": _("Too many people resolved today with this key.")})
    with transaction.atomic():
        result = guest_resolve(
            PersonData(**payload.model_dump()),
            source=Guest.Source.API,
            # Namespaces external ids per partner: two partners' "123" are different people.
            source_detail=f"api:{partner.slug}",
            partner=partner,
            keep_partial=True,
        )
        if result.decision == Decision.MATCHED and result.guest is not None:
            # Resolution links the partner to what it resolves; a match on data the partner
            # sent is no evidence of a relationship: the new link opens nothing (RESOLVED).
            PartnerGuestLink.objects.filter(
                partner=partner,
                guest=result.guest,
                first_seen_at__gte=started,
                reason=PartnerGuestLink.Reason.CREATED,
            ).update(
                reason=PartnerGuestLink.Reason.RESOLVED,
                evidence={
                    "method": "api_resolve",
                    "api_key": key.prefix,
                    "matched_on": list(result.reasons),
                },
            )
    if result.decision == Decision.REJECTED or result.guest is None:
        return Status(422, {"detail": _("Some fields are invalid."), "errors": result.errors})
    status = 200 if result.decision == Decision.MATCHED else 201
    warnings = [
        {"field": w.field, "code": str(w.code), "message": w.message} for w in result.warnings
    ]
    return Status(
        status,
        {"decision": str(result.decision), "guest_id": result.guest.pk, "warnings": warnings},
    )


@api.get(
    "/guests/{guest_id}",
    response={200: dict[str, Any], 404: ErrorOut},
    summary="A guest, as your partner account may see it",
)
def guests_detail(request: HttpRequest, guest_id: int) -> Status[dict[str, Any]]:
    """The guest's profile projected for your partner account: only the sections your sharing
    level opens, your own interactions and the ones other partners shared. A merged guest's id
    answers with the guest it was merged into. Guests your partner has no relationship with
    answer 404, like unknown ids, so ids cannot be walked through."""
    partner = _partner(request)
    try:
        guest = guest_resolve_id(guest_id)
    except Guest.DoesNotExist:
        return _not_found(request)
    if guest.status != Guest.Status.ACTIVE:
        return _not_found(request)
    access = guest_access(partner=partner, guest=guest)
    if not (access.is_related or access.is_steward):
        return _not_found(request)
    profile = guest_profile_for(partner=partner, guest=guest, access=access, include_activity=True)
    key: PartnerApiKey = request.auth  # type: ignore[attr-defined]
    audit_log(
        guest=guest,
        action=AuditEntry.Action.VIEW,
        partner=partner,
        details={"via": "api", "api_key": key.prefix, "requested_id": guest_id},
    )
    return Status(200, profile)


# The API's own URLconf, without i18n_patterns (see _not_found); the site mounts the same URLs.
urlpatterns = [path("api/v1/", api.urls)]
