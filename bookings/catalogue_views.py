"""The catalogue in the partner portal, at /<lang>/portal/offers/: a partner's offers and their
sessions, edited by its managers (the tourist office's managers edit every partner's).

Thin views: who may see and change what, and every rule of an offer or a session, live in
``bookings.catalogue``. An offer the acting partner may not see is a 404; one it may see but
not edit (an agent, or the booking desk looking at a school's offer) is read-only, and a write
to it is a 403."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bookings import catalogue, selectors
from bookings.forms import OfferEditForm, SessionCapacityForm, SessionSeriesForm
from bookings.models import Offer, Session
from bookings.services import BookingError
from destination.errors import form_add_domain_error
from partners.models import Membership
from partners.shell import portal_view

# A season of daily lessons is about 150 dates: a few pages.
SESSIONS_PER_PAGE = 40


def _membership(request: HttpRequest) -> Membership:
    return request.membership  # type: ignore[attr-defined]


def _offer_for(request: HttpRequest, slug: str) -> Offer:
    offer = selectors.offer_list_visible(request.partner).filter(slug=slug).first()  # type: ignore[attr-defined]
    if offer is None:
        raise Http404(_("No such offer."))
    return offer


def _session_for(request: HttpRequest, pk: int) -> Session:
    session = (
        Session.objects.select_related("offer__partner")
        .filter(pk=pk, offer__in=selectors.offer_list_visible(request.partner))  # type: ignore[attr-defined]
        .first()
    )
    if session is None:
        raise Http404(_("No such session."))
    if not catalogue.catalogue_can_edit(_membership(request), session.offer):
        raise PermissionDenied
    return session


def _service_errors(form: Any, exc: BookingError) -> None:
    # The service speaks in cents; the form in euros.
    renamed = {"price_cents": "price", "child_price_cents": "child_price"}
    errors = {renamed.get(k, k): v for k, v in exc.field_errors.items()}
    form_add_domain_error(form, BookingError(errors, code=exc.code))


@portal_view
@require_GET
def offer_list(request: HttpRequest) -> HttpResponse:
    partner = request.partner  # type: ignore[attr-defined]
    return TemplateResponse(
        request,
        "bookings/offers/list.html",
        {
            "offers": selectors.offer_list_for_catalogue(partner),
            "sees_all": partner.books_for_all,
            "can_create": catalogue.catalogue_can_edit(_membership(request)),
            "is_steward": partner.is_steward,
        },
    )


@portal_view
@require_http_methods(["GET", "POST"])
def offer_new(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    if not catalogue.catalogue_can_edit(membership):
        raise PermissionDenied
    partners = (
        selectors.partner_list_for_catalogue(membership) if membership.partner.is_steward else None
    )
    form = OfferEditForm(request.POST or None, partners=partners)
    if request.method == "POST" and form.is_valid():
        partner = form.cleaned_data.get("partner") or membership.partner
        try:
            offer = catalogue.offer_create(
                membership=membership, partner=partner, values=form.values()
            )
        except BookingError as exc:
            _service_errors(form, exc)
        else:
            messages.success(request, _("Offer created. Now add its dates."))
            return redirect("offers:edit", slug=offer.slug)
    return TemplateResponse(
        request,
        "bookings/offers/new.html",
        {"form": form},
        status=422 if form.is_bound and form.errors else 200,
    )


def _edit_page(
    request: HttpRequest,
    offer: Offer,
    *,
    form: OfferEditForm | None = None,
    series_form: SessionSeriesForm | None = None,
    capacity_errors: dict[int, list[str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    can_edit = catalogue.catalogue_can_edit(_membership(request), offer)
    sessions = Paginator(selectors.session_list_for_editing(offer), SESSIONS_PER_PAGE)
    return TemplateResponse(
        request,
        "bookings/offers/edit.html",
        {
            "offer": offer,
            "can_edit": can_edit,
            "form": form or OfferEditForm(initial=OfferEditForm.initial_for(offer)),
            "series_form": series_form or SessionSeriesForm(),
            "sessions": sessions.get_page(request.GET.get("page")),
            "capacity_errors": capacity_errors or {},
        },
        status=status,
    )


@portal_view
@require_http_methods(["GET", "POST"])
def offer_edit(request: HttpRequest, slug: str) -> HttpResponse:
    offer = _offer_for(request, slug)
    if request.method == "GET":
        return _edit_page(request, offer)
    if not catalogue.catalogue_can_edit(_membership(request), offer):
        raise PermissionDenied
    form = OfferEditForm(request.POST)
    if form.is_valid():
        try:
            catalogue.offer_update(
                membership=_membership(request), offer=offer, values=form.values()
            )
        except BookingError as exc:
            _service_errors(form, exc)
        else:
            messages.success(request, _("Offer saved."))
            return redirect("offers:edit", slug=offer.slug)
    offer.refresh_from_db()  # show the stored offer beside the refused form
    return _edit_page(request, offer, form=form, status=422)


@portal_view
@require_POST
def sessions_add(request: HttpRequest, slug: str) -> HttpResponse:
    offer = _offer_for(request, slug)
    if not catalogue.catalogue_can_edit(_membership(request), offer):
        raise PermissionDenied
    form = SessionSeriesForm(request.POST)
    if form.is_valid():
        try:
            result = catalogue.session_series_add(
                membership=_membership(request), offer=offer, series=form.series()
            )
        except BookingError as exc:
            form_add_domain_error(form, exc)
        else:
            message = ngettext("%(n)d session added.", "%(n)d sessions added.", result.created) % {
                "n": result.created
            }
            if result.skipped:
                message += " " + ngettext(
                    "%(n)d already existed at that time and was left as it was.",
                    "%(n)d already existed at those times and were left as they were.",
                    result.skipped,
                ) % {"n": result.skipped}
            messages.success(request, message)
            return redirect("offers:edit", slug=offer.slug)
    return _edit_page(request, offer, series_form=form, status=422)


@portal_view
@require_POST
def session_capacity(request: HttpRequest, pk: int) -> HttpResponse:
    session = _session_for(request, pk)
    form = SessionCapacityForm(request.POST)
    errors: list[str] = []
    if form.is_valid():
        try:
            catalogue.session_capacity_set(
                membership=_membership(request),
                session=session,
                capacity=form.cleaned_data["capacity"],
            )
        except BookingError as exc:
            errors = exc.messages
        else:
            messages.success(request, _("Capacity saved."))
            return redirect("offers:edit", slug=session.offer.slug)
    else:
        errors = form.errors["capacity"]
    return _edit_page(request, session.offer, capacity_errors={session.pk: errors}, status=422)


@portal_view
@require_POST
def session_delete(request: HttpRequest, pk: int) -> HttpResponse:
    session = _session_for(request, pk)
    try:
        catalogue.session_delete(membership=_membership(request), session=session)
    except BookingError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Session deleted."))
    return redirect("offers:edit", slug=session.offer.slug)
