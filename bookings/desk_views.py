"""The booking desk inside the partner portal: the acting partner's bookings, bookings taken on
the phone or at the desk, payment on site or by a Stripe link, check-in, cancellation.

Every view runs under the portal's ``portal_view`` (signed-in staff, acting partner set) and
reads bookings only through ``selectors.booking_list_for_desk``, which applies the core's
``booking_list_for_partner``: a partner sees its own bookings, the tourist office and the booking
desk see them all. A booking outside that list is a 404, for reading and for every action."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bookings import payments, selectors, services
from bookings.balances import desk_payment_link_send
from bookings.forms import DeskBookingForm, DeskCancelForm, DeskFilterForm, PaymentForm
from bookings.models import Booking, Offer
from bookings.pricing import booking_cancellation_policy, booking_form_quote
from bookings.views import booking_consents, booking_participants, booking_person
from destination.errors import form_add_domain_error
from destination.models import Guest
from destination.services.partner_links import partner_guest_link_touch
from partners.access import guest_access
from partners.models import Partner, PartnerGuestLink, Section
from partners.shell import PortalRequest, portal_view

PAGE_SIZE = 50


def _partner(request: PortalRequest) -> Partner:
    return request.partner


def _booking_for(request: PortalRequest, reference: str) -> Booking:
    booking = (
        selectors.booking_list_for_desk(partner=_partner(request))
        .prefetch_related("participants", "payments")
        .filter(reference=reference)
        .first()
    )
    if booking is None:
        raise Http404(_("No such booking."))
    return booking


def _offers_for(partner: Partner) -> QuerySet[Offer]:
    # The catalogue's visibility rule; the desk books only for active partners.
    return selectors.offer_list_visible(partner).filter(partner__is_active=True)


# --- List and detail ------------------------------------------------------------------------


@portal_view
@require_GET
def desk_list(request: PortalRequest) -> HttpResponse:
    form = DeskFilterForm(request.GET)
    filters = form.filters() if form.is_valid() else {"period": DeskFilterForm.UPCOMING}
    bookings = selectors.booking_list_for_desk(partner=_partner(request), **filters)
    page = Paginator(bookings, PAGE_SIZE).get_page(request.GET.get("page"))
    template = "bookings/desk/list.html"
    if getattr(request, "htmx", False) and request.htmx.target == "desk-results":
        template = "bookings/desk/_results.html"
    return TemplateResponse(
        request,
        template,
        {
            "form": form,
            "page": page,
            "sees_all": _partner(request).books_for_all,
            "query_string": request.GET.urlencode(),
        },
    )


@portal_view
@require_GET
def desk_detail(request: PortalRequest, reference: str) -> HttpResponse:
    booking = _booking_for(request, reference)
    return _detail(request, booking)


def _detail(
    request: PortalRequest,
    booking: Booking,
    *,
    payment_form: PaymentForm | None = None,
    cancel_form: DeskCancelForm | None = None,
    status: int = 200,
) -> HttpResponse:
    return TemplateResponse(
        request,
        "bookings/desk/detail.html",
        {
            "booking": booking,
            "payment_form": payment_form
            or PaymentForm(initial={"amount": Decimal(booking.balance_cents) / 100}),
            "cancel_form": cancel_form or DeskCancelForm(),
            "stripe_enabled": services.payment_provider() == "stripe",
            "can_take_payment": booking.balance_cents > 0
            and booking.status in (Booking.Status.CONFIRMED, Booking.Status.CHECKED_IN),
            "can_check_in": booking.status == Booking.Status.CONFIRMED,
            # Staff may cancel after the visitors' deadline (with a reason).
            "can_cancel": booking_cancellation_policy(booking=booking, staff=True).allowed,
            "guest_url": _guest_url(booking.booker_id),
        },
        status=status,
    )


def _guest_url(guest_id: int) -> str:
    try:
        return reverse("portal:guest", kwargs={"guest_id": guest_id})
    except NoReverseMatch:  # the portal's guest page is not mounted
        return ""


# --- Actions --------------------------------------------------------------------------------


def _done(request: PortalRequest, booking: Booking, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect("bookings_desk:detail", reference=booking.reference)


@portal_view
@require_POST
def desk_payment(request: PortalRequest, reference: str) -> HttpResponse:
    booking = _booking_for(request, reference)
    form = PaymentForm(request.POST)
    if form.is_valid():
        try:
            services.booking_payment_on_site_record(
                booking=booking, amount_cents=form.amount_cents(), by=request.user
            )
        except services.BookingError as exc:
            form_add_domain_error(form, exc)
        else:
            return _done(request, booking, _("Payment recorded."))
    return _detail(request, booking, payment_form=form, status=422)


@portal_view
@require_POST
def desk_payment_link(request: PortalRequest, reference: str) -> HttpResponse:
    booking = _booking_for(request, reference)
    try:
        url = desk_payment_link_send(booking=booking, by=request.user)
    except services.BookingError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("bookings_desk:detail", reference=booking.reference)
    return _done(
        request,
        booking,
        _("Payment link sent to %(email)s: %(url)s") % {"email": booking.contact_email, "url": url},
    )


@portal_view
@require_POST
def desk_check_in(request: PortalRequest, reference: str) -> HttpResponse:
    booking = _booking_for(request, reference)
    try:
        services.booking_check_in(booking=booking, by=request.user)
    except services.BookingError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("bookings_desk:detail", reference=booking.reference)
    return _done(request, booking, _("Checked in."))


@portal_view
@require_POST
def desk_cancel(request: PortalRequest, reference: str) -> HttpResponse:
    booking = _booking_for(request, reference)
    form = DeskCancelForm(request.POST)
    if form.is_valid():
        try:
            services.booking_cancel(
                booking=booking, by=request.user, reason=form.cleaned_data["reason"]
            )
        except services.BookingError as exc:
            form_add_domain_error(form, exc)
        else:
            return _done(request, booking, _cancelled_message(booking))
    return _detail(request, booking, cancel_form=form, status=422)


def _cancelled_message(booking: Booking) -> str:
    """Say what happens to the money by how it was paid: only card payments are refunded
    through Stripe; money taken at the desk is given back there."""
    paid = selectors.booking_paid_by_provider(booking)
    parts = [_("Booking cancelled.")]
    if paid[payments.STRIPE]:
        parts.append(
            _("The card payment (%(amount)s EUR) is being refunded.")
            % {"amount": f"{paid[payments.STRIPE] / 100:.2f}"}
        )
    if paid[payments.ON_SITE]:
        parts.append(
            _("%(amount)s EUR paid on site is to be given back to the guest at the desk.")
            % {"amount": f"{paid[payments.ON_SITE] / 100:.2f}"}
        )
    if len(parts) == 1:
        parts.append(_("Nothing was paid."))
    return " ".join(parts)


# --- Creating a booking for a guest --------------------------------------------------------


@portal_view
@require_GET
def desk_new(request: PortalRequest) -> HttpResponse:
    """Step one: which offer. The guest (from the portal's guest page) is carried along."""
    offers = _offers_for(_partner(request)).filter(is_published=True)
    return TemplateResponse(
        request,
        "bookings/desk/new.html",
        {"offers": offers, "guest_id": request.GET.get("guest", "")},
    )


def _guest_initial(request: PortalRequest) -> dict[str, Any]:
    """What the acting partner may see of the guest the booking is for (``partners.access``),
    as the form's start: the name (the booker and the first participant) where IDENTITY is
    open, country and language where DEMOGRAPHICS is, the primary email and phone where
    CONTACT is. Nothing a partner's access does not open reaches the form."""
    guest_id = request.GET.get("guest", "")
    if not guest_id.isdigit():
        return {}
    guest = Guest.objects.filter(pk=int(guest_id), status=Guest.Status.ACTIVE).first()
    if guest is None:
        return {}
    access = guest_access(partner=_partner(request), guest=guest)
    initial: dict[str, Any] = {}
    if access.can(Section.IDENTITY):
        initial.update(
            first_name=guest.first_name,
            last_name=guest.last_name,
            p0_first_name=guest.first_name,
            p0_last_name=guest.last_name,
        )
    if access.can(Section.DEMOGRAPHICS):
        initial["country"] = str(guest.country)  # a Country: its str is the code, "" when blank
        if guest.language:
            initial["language"] = guest.language
    if access.can(Section.CONTACT):
        email = guest.emails.order_by("-is_primary", "id").first()
        phone = guest.phones.order_by("-is_primary", "id").first()
        initial["email"] = email.email if email else ""
        initial["phone"] = phone.phone if phone else ""
    return initial


def _desk_relationship_record(*, booking: Booking, partner: Partner, user: Any) -> None:
    """A booking the desk made is evidence that the desk knows the guests it booked, even for
    another partner's offer (that partner is linked by the booking itself)."""
    if partner.pk == booking.partner_id:
        return
    guest_ids = {booking.booker_id}
    guest_ids.update(
        gid for gid in booking.participants.values_list("guest_id", flat=True) if gid is not None
    )
    for guest_id in sorted(guest_ids):
        partner_guest_link_touch(
            partner=partner,
            guest=Guest(pk=guest_id),
            reason=PartnerGuestLink.Reason.BOOKING,
            evidence={
                "method": "desk_booking",
                "booking": booking.reference,
                "offer_partner_id": booking.partner_id,
                "staff_id": getattr(user, "pk", None),
            },
        )


@portal_view
@require_http_methods(["GET", "POST"])
def desk_create(request: PortalRequest, slug: str) -> HttpResponse:
    offer = _offers_for(_partner(request)).filter(slug=slug).first()
    if offer is None:
        raise Http404(_("No such offer."))
    sessions = selectors.session_list_upcoming(offer)
    language = translation.get_language()
    stripe_enabled = services.payment_provider() == "stripe"
    kwargs: dict[str, Any] = {
        "party_url": reverse("bookings_desk:party", kwargs={"slug": offer.slug}),
        "offer": offer,
        "sessions": sessions,
        "language": language,
        "stripe_enabled": stripe_enabled,
    }
    if request.method == "POST":
        form = DeskBookingForm(request.POST, **kwargs)
        if form.is_valid():
            try:
                with transaction.atomic():
                    booking = services.booking_create(
                        session=form.cleaned_data["session"],
                        booker=booking_person(form),
                        participants=booking_participants(form),
                        adults=form.cleaned_data["adults"],
                        children=form.cleaned_data["children"],
                        # The desk confirms at once; a card payment comes later through a link.
                        payment_method=Booking.PaymentMethod.ON_SITE,
                        consents=booking_consents(form),
                        channel=form.cleaned_data["channel"],
                        language=form.cleaned_data["language"],
                        created_by=request.user,
                        source_url=request.build_absolute_uri(),
                        expected_total_cents=form.cleaned_data["expected_total_cents"],
                        units=form.cleaned_data.get("units"),
                    )
                    _desk_relationship_record(
                        booking=booking, partner=_partner(request), user=request.user
                    )
            except services.BookingError as exc:
                form_add_domain_error(form, exc)
            else:
                message = _("Booking %(reference)s confirmed.") % {"reference": booking.reference}
                if form.cleaned_data["payment"] == DeskBookingForm.PAY_LINK:
                    try:
                        desk_payment_link_send(booking=booking, by=request.user)
                    except services.BookingError as exc:
                        messages.error(request, " ".join(exc.messages))
                    else:
                        message += " " + _("Payment link sent to %(email)s.") % {
                            "email": booking.contact_email
                        }
                return _done(request, booking, message)
    else:
        initial = {
            "adults": 1,
            "children": 0,
            "language": language,
            "channel": Booking.Channel.PHONE,
            **_guest_initial(request),
        }
        form = DeskBookingForm(initial=initial, **kwargs)
    quote = booking_form_quote(offer, form, payment_method=services.payment_method_for_web())
    if not form.is_bound:
        form.initial["expected_total_cents"] = quote.total_cents
    return TemplateResponse(
        request,
        "bookings/desk/create.html",
        {"offer": offer, "sessions": sessions, "form": form, "quote": quote},
        status=422 if request.method == "POST" else 200,
    )


@portal_view
@require_GET
def desk_party(request: PortalRequest, slug: str) -> HttpResponse:
    """htmx: name rows and price for the party chosen on the desk form."""
    offer = _offers_for(_partner(request)).filter(slug=slug).first()
    if offer is None:
        raise Http404(_("No such offer."))
    form = DeskBookingForm(
        initial=request.GET.dict(),
        offer=offer,
        sessions=selectors.session_list_upcoming(offer),
        language=translation.get_language(),
        stripe_enabled=services.payment_provider() == "stripe",
    )
    return TemplateResponse(
        request,
        "bookings/_party.html",
        {
            "offer": offer,
            "form": form,
            "quote": booking_form_quote(
                offer, form, payment_method=services.payment_method_for_web()
            ),
            "desk": True,
        },
    )
