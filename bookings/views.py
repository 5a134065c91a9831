"""The public booking pages: offers, booking form, payment return pages, and a visitor's own
bookings (by signed link or allauth account). Views only read input, call one service or
selector and render; the booking rules live in ``bookings.services``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from bookings import selectors, services
from bookings.forms import BookingForm, CancelForm, OfferFilterForm
from bookings.links import booking_from_signed_token, booking_signed_token
from bookings.models import Booking, Offer
from bookings.pricing import booking_cancellation_policy, booking_form_quote
from destination.errors import form_add_domain_error
from destination.services.resolution import PersonData


def booking_person(form: BookingForm) -> PersonData:
    data = form.cleaned_data
    return PersonData(
        first_name=data["first_name"].strip(),
        last_name=data["last_name"].strip(),
        email=data["email"],
        phone=data.get("phone") or "",
        country=data.get("country") or "",
        language=data.get("language") or "",
    )


def booking_consents(form: BookingForm) -> list[services.ConsentChoice]:
    return [
        services.ConsentChoice(purpose=purpose, wording=wording, given=given)
        for purpose, wording, given in form.consents()
    ]


def booking_participants(form: BookingForm) -> list[services.ParticipantData]:
    return [services.ParticipantData(**row) for row in form.participants()]


def _booking_or_404(token: str) -> Booking:
    booking = booking_from_signed_token(token)
    if booking is None:
        raise Http404(_("This booking link is not valid."))
    return selectors.booking_get_with_details(booking)


# --- Offers ---------------------------------------------------------------------------------


@require_GET
def offer_list(request: HttpRequest) -> HttpResponse:
    form = OfferFilterForm(request.GET or None)
    kind = form.cleaned_data["kind"] if form.is_valid() else ""
    offers = selectors.offer_list_public(kind=kind)
    return TemplateResponse(
        request,
        "bookings/offer_list.html",
        {"offers": offers, "filter_form": form, "kind": kind, "kinds": Offer.Kind.choices},
    )


@require_http_methods(["GET", "POST"])
def offer_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """The offer, its upcoming sessions, and the booking form (GET shows it, POST books)."""
    offer = selectors.offer_get_public(slug=slug)
    if offer is None:
        raise Http404(_("No such offer."))
    sessions = selectors.session_list_upcoming(offer)
    language = translation.get_language()
    if request.method == "POST":
        form = BookingForm(
            request.POST,
            offer=offer,
            sessions=sessions,
            language=language,
            party_url=reverse("bookings:offer-party", kwargs={"slug": offer.slug}),
        )
        if form.is_valid():
            try:
                booking = services.booking_create(
                    session=form.cleaned_data["session"],
                    booker=booking_person(form),
                    participants=booking_participants(form),
                    adults=form.cleaned_data["adults"],
                    children=form.cleaned_data["children"],
                    payment_method=services.payment_method_for_web(),
                    consents=booking_consents(form),
                    channel=Booking.Channel.WEB,
                    language=language,
                    source_url=request.build_absolute_uri(),
                    expected_total_cents=form.cleaned_data["expected_total_cents"],
                    units=form.cleaned_data.get("units"),
                )
            except services.BookingError as exc:
                form_add_domain_error(form, exc)
            else:
                return _after_create(request, booking)
        quote = booking_form_quote(offer, form, payment_method=services.payment_method_for_web())
    else:
        initial: dict[str, Any] = {"adults": 1, "children": 0, "language": language}
        chosen = request.GET.get("session")
        if chosen and chosen.isdigit():
            initial["session"] = int(chosen)
        form = BookingForm(
            initial=initial,
            offer=offer,
            sessions=sessions,
            language=language,
            party_url=reverse("bookings:offer-party", kwargs={"slug": offer.slug}),
        )
        quote = booking_form_quote(offer, form, payment_method=services.payment_method_for_web())
        form.initial["expected_total_cents"] = quote.total_cents
    return TemplateResponse(
        request,
        "bookings/offer_detail.html",
        {
            "offer": offer,
            "sessions": sessions,
            "form": form,
            "quote": quote,
            "pays_by_card": services.payment_method_for_web() == Booking.PaymentMethod.CARD,
        },
        status=422 if request.method == "POST" else 200,
    )


@require_GET
def offer_party(request: HttpRequest, slug: str) -> HttpResponse:
    """htmx: the participant name rows and the price for the party now chosen. Names already
    typed are kept (the rows are re-drawn from the request's values)."""
    offer = selectors.offer_get_public(slug=slug)
    if offer is None:
        raise Http404(_("No such offer."))
    form = BookingForm(
        initial=request.GET.dict(),
        offer=offer,
        sessions=selectors.session_list_upcoming(offer),
        language=translation.get_language(),
    )
    quote = booking_form_quote(offer, form, payment_method=services.payment_method_for_web())
    return TemplateResponse(
        request,
        "bookings/_party.html",
        {"offer": offer, "form": form, "quote": quote},
    )


def _after_create(request: HttpRequest, booking: Booking) -> HttpResponse:
    token = booking_signed_token(booking)
    if booking.payment_method != Booking.PaymentMethod.CARD:
        return redirect("bookings:booking-detail", token=token)
    return _to_checkout(request, booking, token)


def _to_checkout(request: HttpRequest, booking: Booking, token: str) -> HttpResponse:
    try:
        url = services.booking_checkout_url(
            booking=booking,
            success_url=request.build_absolute_uri(
                reverse("bookings:booking-paid", kwargs={"token": token})
            ),
            cancel_url=request.build_absolute_uri(
                reverse("bookings:booking-payment-cancelled", kwargs={"token": token})
            ),
        )
    except services.BookingError as exc:
        return TemplateResponse(
            request,
            "bookings/payment_problem.html",
            {
                "booking": selectors.booking_get_with_details(booking),
                "token": token,
                "messages_": exc.messages,
            },
            status=502,
        )
    return HttpResponseRedirect(url)


# --- A booking, by signed link --------------------------------------------------------------


@require_GET
def booking_detail(request: HttpRequest, token: str) -> HttpResponse:
    """The confirmation page, which is also the "manage my booking" page of the email link."""
    booking = _booking_or_404(token)
    return TemplateResponse(
        request,
        "bookings/booking_detail.html",
        {
            "booking": booking,
            "token": token,
            "cancellation": booking_cancellation_policy(booking=booking),
        },
    )


@require_GET
def booking_paid(request: HttpRequest, token: str) -> HttpResponse:
    """Stripe's success redirect. It proves nothing: only the verified webhook confirms, so
    until then this page says the payment is being confirmed and polls."""
    booking = _booking_or_404(token)
    if booking.status != Booking.Status.HELD:
        return redirect("bookings:booking-detail", token=token)
    return TemplateResponse(
        request, "bookings/booking_paid.html", {"booking": booking, "token": token}
    )


@require_GET
def booking_status(request: HttpRequest, token: str) -> HttpResponse:
    """htmx poll of the success page: sends the browser to the confirmation once settled."""
    booking = _booking_or_404(token)
    if booking.status != Booking.Status.HELD and request.htmx:
        return HttpResponseClientRedirect(
            reverse("bookings:booking-detail", kwargs={"token": token})
        )
    return TemplateResponse(
        request, "bookings/_payment_status.html", {"booking": booking, "token": token}
    )


@require_GET
def booking_payment_cancelled(request: HttpRequest, token: str) -> HttpResponse:
    booking = _booking_or_404(token)
    return TemplateResponse(
        request,
        "bookings/booking_payment_cancelled.html",
        {"booking": booking, "token": token},
    )


@require_POST
def booking_pay(request: HttpRequest, token: str) -> HttpResponse:
    """Try the card payment again while the seats are still held."""
    booking = _booking_or_404(token)
    if booking.status != Booking.Status.HELD:
        return redirect("bookings:booking-detail", token=token)
    return _to_checkout(request, booking, token)


@require_http_methods(["GET", "POST"])
def booking_cancel(request: HttpRequest, token: str) -> HttpResponse:
    booking = _booking_or_404(token)
    form = CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.booking_cancel(booking=booking, by=None, reason=form.cleaned_data["reason"])
        except services.BookingError as exc:
            form_add_domain_error(form, exc)
        else:
            return redirect(
                reverse("bookings:booking-detail", kwargs={"token": token}) + "?cancelled=1"
            )
    return TemplateResponse(
        request,
        "bookings/booking_cancel.html",
        {
            "booking": booking,
            "token": token,
            "form": form,
            "cancellation": booking_cancellation_policy(booking=booking),
        },
        status=422 if request.method == "POST" else 200,
    )


# --- My bookings ----------------------------------------------------------------------------


@login_required
@require_GET
def my_bookings(request: HttpRequest) -> HttpResponse:
    bookings = list(selectors.booking_list_for_user(request.user))
    for booking in bookings:
        booking.token = booking_signed_token(booking)
    has_unverified = request.user.emailaddress_set.filter(verified=False).exists()
    return TemplateResponse(
        request,
        "bookings/my_bookings.html",
        {"bookings": bookings, "has_unverified": has_unverified},
    )
