"""Views of the partner portal: thin. Reads come from ``portal.selectors``, writes
from the services of the shared core and ``portal.services``."""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, translate_url
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import (
    HttpResponseClientRedirect,
    HttpResponseClientRefresh,
    reswap,
    retarget,
)

from destination.consent_selectors import consent_states_for
from destination.errors import DomainError, form_add_domain_error
from destination.forms import GuestForm
from destination.models import AuditEntry, Guest, GuestMerge, PossibleDuplicate
from destination.services import GuestError
from destination.services.audit import audit_log
from destination.services.gdpr import guest_erase, guest_export
from destination.services.guests import (
    guest_email_add,
    guest_email_remove,
    guest_phone_add,
    guest_phone_remove,
)
from destination.services.merge import guest_resolve_id
from destination.services.resolution import Decision
from partners.access import (
    can_edit_guest,
    can_erase,
    can_export,
    can_merge,
    guest_access,
    guest_access_for_request,
    guest_profile_for,
)
from partners.models import Section
from partners.services import guest_relationship_prove, interaction_log
from partners.shell import (
    PickerRequest,
    PortalRequest,
    acting_partner_set,
    portal_view,
    safe_next,
)
from portal.forms import (
    ContactForm,
    DeskConsentForm,
    EraseForm,
    IdentityForm,
    InteractionForm,
    ProofForm,
    TimelineFilterForm,
)
from portal.selectors import (
    SEARCH_MIN_LENGTH,
    CandidateView,
    access_flags_open,
    duplicate_comparison,
    duplicate_next,
    duplicate_queue,
    erase_preview,
    household_members,
    likely_duplicates,
    new_booking_url,
    portal_search,
    timeline_entry_for,
    timeline_page,
    timeline_partners,
)
from portal.services import (
    desk_consent_record,
    desk_guest_create,
    desk_identity_update,
    duplicate_dismiss,
    duplicate_household_dismiss,
    duplicate_merge,
    merge_undo,
    merges_undoable,
    staff_language_set,
)


@portal_view
def home(request: PortalRequest) -> HttpResponse:
    """The search page: the screen desk staff start from."""
    query = request.GET.get("q", "").strip()
    results = portal_search(partner=request.partner, query=query) if query else []
    # Unusual access patterns are flagged to the tourist office's managers (``AccessFlag``).
    flags = access_flags_open() if can_merge(request.user, request.partner) else []
    return render(
        request,
        "portal/home.html",
        {"query": query, "results": results, "min_length": SEARCH_MIN_LENGTH, "flags": flags},
    )


@portal_view
def search(request: PortalRequest) -> HttpResponse:
    """The results list alone, swapped in by htmx as the staff member types."""
    query = request.GET.get("q", "").strip()
    results = portal_search(partner=request.partner, query=query)
    return render(
        request,
        "portal/_search_results.html",
        {"query": query, "results": results, "min_length": SEARCH_MIN_LENGTH},
    )


@require_http_methods(["GET", "POST"])
@portal_view(pick=False)
def pick(request: PickerRequest) -> HttpResponse:
    """Choose the partner to act for (staff of several partners)."""
    next_url = safe_next(request, reverse("portal:home"))
    if request.method == "POST":
        chosen = request.POST.get("partner")
        for membership in request.memberships:
            if str(membership.partner_id) == chosen:
                acting_partner_set(request, membership)
                return redirect(next_url)
        return render(
            request,
            "portal/pick.html",
            {"next": next_url, "error": _("Choose one of your partners.")},
            status=400,
        )
    return render(request, "portal/pick.html", {"next": next_url})


@require_POST
@portal_view(pick=False)
def language(request: PickerRequest) -> HttpResponse:
    """Switch the portal's language and remember it on the staff member's account."""
    code = staff_language_set(user=request.user, language=request.POST.get("language", ""))
    return redirect(_translated_path(safe_next(request, reverse("portal:home")), code))


def _translated_path(path: str, code: str) -> str:
    return translate_url(path, code)


# --- The guest's 360° page ------------------------------------------------------------------


def _guest_or_redirect(
    request: PortalRequest, guest_id: int, *, follow_posts: bool = True
) -> Guest | HttpResponse:
    """The guest behind an id today: a merged profile's URL lands on its survivor.

    A POST (a form left open on a page from before the merge) carries on with the survivor,
    with a message saying so: a redirect would be followed as a GET and the write lost. An htmx
    GET asks the browser to load the survivor's page (``HX-Redirect``), since the page it came
    from is stale; a plain GET is redirected to the same page of the survivor. Erasure passes
    ``follow_posts=False``: its confirmation page is shown again for the survivor instead."""
    try:
        guest = guest_resolve_id(guest_id)
    except Guest.DoesNotExist:
        raise Http404(_("No such guest.")) from None
    if guest.pk == guest_id:
        return guest
    if request.method == "POST" and follow_posts:
        messages.info(
            request,
            _("Guest #%(old)s was merged into guest #%(new)s: this was saved on that profile.")
            % {"old": guest_id, "new": guest.pk},
        )
        return guest
    messages.info(
        request,
        _("Guest #%(old)s was merged into this profile.") % {"old": guest_id},
    )
    if request.htmx:
        return HttpResponseClientRedirect(reverse("portal:guest", args=[guest.pk]))
    url = _reversed_same(request, guest.pk)
    query = request.GET.urlencode() if request.method == "GET" else ""
    return redirect(f"{url}?{query}" if query else url)


def _reversed_same(request: PortalRequest, guest_id: int) -> str:
    match = request.resolver_match
    name = f"portal:{match.url_name}" if match else "portal:guest"
    return reverse(name, args=[guest_id])


def _timeline_filters(request: PortalRequest) -> tuple[str, int | None]:
    kind = request.GET.get("kind", "")
    try:
        from_partner = int(request.GET.get("partner") or 0) or None
    except ValueError:
        from_partner = None
    return kind, from_partner


@portal_view
def guest(request: PortalRequest, guest_id: int) -> HttpResponse:
    found = _guest_or_redirect(request, guest_id)
    if isinstance(found, HttpResponse):
        return found
    if found.status == Guest.Status.ERASED:
        return render(request, "portal/guest_erased.html", {"guest": found}, status=410)
    partner = request.partner
    context = guest_page_context(request, found)
    kind, from_partner = _timeline_filters(request)
    context["filters"] = TimelineFilterForm(
        request.GET or None,
        partners=timeline_partners(partner=partner, guest=found, access=context["access"]),
    )
    context["page"] = timeline_page(
        partner=partner, guest=found, access=context["access"], kind=kind, from_partner=from_partner
    )
    context["form"] = InteractionForm()
    if request.htmx and request.htmx.target == "timeline":
        return render(request, "portal/_timeline.html", context)
    # Each opening of the profile is audited (the timeline's own fragments are not: they are
    # the same viewing).
    audit_log(
        guest=found,
        action=AuditEntry.Action.VIEW,
        actor=request.user,
        partner=partner,
        details={"via": "portal"},
    )
    return render(request, "portal/guest.html", context)


def guest_page_context(request: PortalRequest, guest: Guest) -> dict[str, Any]:
    partner = request.partner
    access = guest_access_for_request(request, partner=partner, guest=guest)
    # The consents card shows each state with its proof (one query of its own, below), so the
    # projection need not load them a second time.
    profile = guest_profile_for(
        partner=partner,
        guest=guest,
        access=dataclasses.replace(access, sections=access.sections - {Section.CONSENTS}),
    )
    steward_tools = partner.is_steward  # export and erasure are the tourist office's
    return {
        "guest": guest,
        "access": access,
        "profile": profile,
        # A partner that does not know the guest yet proves it before logging an interaction.
        "needs_proof": not access.is_related and not partner.is_steward,
        "proof_form": ProofForm(),
        "consents": list(consent_states_for(guest)) if access.can(Section.CONSENTS) else None,
        "members": household_members(partner=partner, guest=guest)
        if access.can(Section.HOUSEHOLD)
        else [],
        # The request's membership is already checked (portal_view): no query per permission.
        "can_edit": can_edit_guest(
            request.user, partner, guest, access=access, membership=request.membership
        ),
        "can_export": steward_tools
        and can_export(request.user, partner, membership=request.membership),
        "can_erase": steward_tools
        and can_erase(request.user, partner, membership=request.membership),
        # Merges into this profile that can still be undone (one query, stewards' managers only).
        "merges": merges_undoable(guest)
        if can_merge(request.user, partner, membership=request.membership)
        else [],
        "contact_form": ContactForm(),
        # Rendered on demand (its choices cost two queries): see ``consent``.
        "consent_form": None,
        # Called by the template, so the cards re-rendered by htmx never pay for it.
        "new_booking_url": functools.partial(new_booking_url, partner=partner, guest=guest),
    }


@portal_view
def timeline(request: PortalRequest, guest_id: int) -> HttpResponse:
    """The next page of the timeline ("load more" as the staff member scrolls)."""
    found = _guest_or_redirect(request, guest_id)
    if isinstance(found, HttpResponse):
        return found
    if found.status != Guest.Status.ACTIVE:
        raise Http404(_("No such guest."))
    partner = request.partner
    access = guest_access_for_request(request, partner=partner, guest=found)
    kind, from_partner = _timeline_filters(request)
    page = timeline_page(
        partner=partner,
        guest=found,
        access=access,
        kind=kind,
        from_partner=from_partner,
        cursor=request.GET.get("cursor", ""),
    )
    return render(request, "portal/_timeline_items.html", {"guest": found, "page": page})


@require_POST
@portal_view
def interaction_create(request: PortalRequest, guest_id: int) -> HttpResponse:
    """Log an interaction; with htmx the new entry is swapped onto the timeline at once."""
    found = _guest_or_redirect(request, guest_id)
    if isinstance(found, HttpResponse):
        return found
    partner = request.partner
    form = InteractionForm(request.POST)
    if form.is_valid():
        try:
            interaction = interaction_log(
                guest=found,
                partner=partner,
                staff=request.user,
                kind=form.cleaned_data["kind"],
                channel=form.cleaned_data["channel"],
                summary=form.cleaned_data["summary"],
                visibility=form.cleaned_data["visibility"],
            )
        except (DomainError, ValidationError) as exc:
            form_add_domain_error(form, exc)
        else:
            if not request.htmx:
                messages.success(request, _("Interaction logged."))
                return redirect("portal:guest", found.pk)
            access = guest_access(partner=partner, guest=found)
            entry = timeline_entry_for(
                partner=partner, guest=found, access=access, source=interaction
            )
            return render(
                request,
                "portal/_interaction_logged.html",
                {"guest": found, "entry": entry, "form": InteractionForm()},
            )
    if request.htmx:
        response = render(request, "portal/_interaction_form.html", {"guest": found, "form": form})
        return reswap(retarget(response, "#log-form"), "outerHTML")
    context = guest_page_context(request, found)
    context["form"] = form
    context["page"] = timeline_page(partner=partner, guest=found, access=context["access"])
    context["filters"] = TimelineFilterForm(partners=[])
    return render(request, "portal/guest.html", context, status=422)


@require_POST
@portal_view
def relationship_prove(request: PortalRequest, guest_id: int) -> HttpResponse:
    """The agent types the guest's email or phone: a match relates the partner to the guest
    (the link records who proved it and how), and the page opens what that relationship shows."""
    found = _guest_or_redirect(request, guest_id)
    if isinstance(found, HttpResponse):
        return found
    form = ProofForm(request.POST)
    if form.is_valid():
        try:
            guest_relationship_prove(
                guest=found,
                partner=request.partner,
                staff=request.user,
                contact=form.cleaned_data["contact"],
            )
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, _("Confirmed: your partner now knows this guest."))
            if request.htmx:
                return HttpResponseClientRefresh()
            return redirect("portal:guest", found.pk)
    if request.htmx:
        response = render(request, "portal/_proof_form.html", {"guest": found, "proof_form": form})
        return reswap(retarget(response, "#proof-form"), "outerHTML")
    context = guest_page_context(request, found)
    context["proof_form"] = form
    context["page"] = timeline_page(partner=request.partner, guest=found, access=context["access"])
    context["filters"] = TimelineFilterForm(partners=[])
    context["form"] = InteractionForm()
    return render(request, "portal/guest.html", context, status=422)


# --- Contact points and consents ------------------------------------------------------------


def _card(request: PortalRequest, guest: Guest, template: str, **extra: object) -> HttpResponse:
    context = guest_page_context(request, guest)
    context.update(extra)
    return render(request, template, context)


@require_POST
@portal_view
def contact(request: PortalRequest, guest_id: int) -> HttpResponse:
    """Add or remove an email address or a phone number (audited by the core services)."""
    found = _guest_or_redirect(request, guest_id)
    if isinstance(found, HttpResponse):
        return found
    partner, user = request.partner, request.user
    action = request.POST.get("action", "add")
    form = ContactForm(request.POST if action == "add" else None)
    try:
        if not can_edit_guest(user, partner, found):
            raise PermissionDenied(_("You may not edit this guest."))
        if action == "remove_email":
            guest_email_remove(
                guest=found, email=request.POST.get("email", ""), actor=user, partner=partner
            )
        elif action == "remove_phone":
            guest_phone_remove(
                guest=found, phone=request.POST.get("phone", ""), actor=user, partner=partner
            )
        elif form.is_valid():
            primary = form.cleaned_data["make_primary"]
            if form.cleaned_data["email"]:
                guest_email_add(
                    guest=found,
                    email=form.cleaned_data["email"],
                    make_primary=primary,
                    actor=user,
                    partner=partner,
                )
            if form.cleaned_data["phone"]:
                guest_phone_add(
                    guest=found,
                    phone=form.cleaned_data["phone"],
                    make_primary=primary,
                    actor=user,
                    partner=partner,
                )
            form = ContactForm()
    except ValidationError as exc:
        form = ContactForm(request.POST)
        form.is_valid()
        form_add_domain_error(form, exc)
    except (PermissionDenied, GuestError) as exc:
        messages.error(request, str(exc))
    if not request.htmx:
        return redirect("portal:guest", found.pk)
    return _card(request, found, "portal/_contact_card.html", contact_form=form)


@require_http_methods(["GET", "POST"])
@portal_view
def consent(request: PortalRequest, guest_id: int) -> HttpResponse:
    """Record a consent given or withdrawn at the desk, with its proof. GET: the form alone,
    loaded when the staff member opens it."""
    found = _guest_or_redirect(request, guest_id)
    if isinstance(found, HttpResponse):
        return found
    if request.method == "GET":
        if not can_edit_guest(request.user, request.partner, found):
            raise PermissionDenied
        return render(
            request,
            "portal/_consent_form.html",
            {"guest": found, "consent_form": DeskConsentForm(recording_partner=request.partner)},
        )
    form = DeskConsentForm(request.POST, recording_partner=request.partner)
    if form.is_valid():
        try:
            desk_consent_record(
                guest=found,
                user=request.user,
                partner=request.partner,
                purpose=form.cleaned_data["purpose"],
                granted=form.cleaned_data["granted"],
                consent_partners=form.scope_partners(),
                channel=form.cleaned_data.get("channel") or "",
                wording=form.cleaned_data.get("wording"),
            )
        except (PermissionDenied, DomainError) as exc:
            form_add_domain_error(form, exc)
        else:
            if not request.htmx:
                messages.success(request, _("Consent recorded."))
                return redirect("portal:guest", found.pk)
            return _card(request, found, "portal/_consent_card.html", consent_form=None)
    if not request.htmx:
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect("portal:guest", found.pk)
    return _card(request, found, "portal/_consent_card.html", consent_form=form)


@require_http_methods(["GET", "POST"])
@portal_view
def identity(request: PortalRequest, guest_id: int) -> HttpResponse:
    """Correct names, country, language, birth date and interests. GET: the form alone, loaded
    when the staff member opens it; a saved change reloads the page (its header shows them)."""
    found = _guest_or_redirect(request, guest_id)
    if isinstance(found, HttpResponse):
        return found
    partner = request.partner
    access = guest_access_for_request(request, partner=partner, guest=found)
    if not can_edit_guest(request.user, partner, found, access=access):
        raise PermissionDenied
    sections = {str(s) for s in access.sections}
    if request.method == "GET":
        form = IdentityForm(initial=IdentityForm.initial_for(found), sections=sections)
        return render(request, "portal/_identity_form.html", {"guest": found, "form": form})
    form = IdentityForm(request.POST, initial=IdentityForm.initial_for(found), sections=sections)
    if form.is_valid():
        # Only what the staff member changed: a field left alone is never written, even when
        # the form could not show its value exactly.
        touched = form.touched
        interests = touched.pop("interests", None)
        try:
            desk_identity_update(
                guest=found,
                data=touched,
                interests=[t.slug for t in interests] if interests is not None else None,
                user=request.user,
                partner=partner,
            )
        except (ValidationError, PermissionDenied, GuestError) as exc:
            form_add_domain_error(form, exc)
        else:
            if form.changed_data:
                messages.success(request, _("Identity saved."))
            else:
                messages.info(request, _("Nothing was changed."))
            if request.htmx:
                return HttpResponseClientRefresh()
            return redirect("portal:guest", found.pk)
    if not request.htmx:
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect("portal:guest", found.pk)
    return render(request, "portal/_identity_form.html", {"guest": found, "form": form})


# --- GDPR -----------------------------------------------------------------------------------


@require_POST
@portal_view
def guest_export_view(request: PortalRequest, guest_id: int) -> HttpResponse:
    """The partner-scoped subject-access export, as a JSON download (audited). The complete
    export, other partners' private notes included, is the data-protection officer's only
    (superusers, ``manage.py guest_export``): see ``destination.gdpr_views``."""
    found = _guest_or_redirect(request, guest_id)
    if isinstance(found, HttpResponse):
        return found
    partner = request.partner
    if not can_export(request.user, partner):
        raise PermissionDenied
    data = guest_export(guest=found, actor=request.user, partner=partner)
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False, default=str),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="guest-{found.pk}.json"'
    return response


@require_http_methods(["GET", "POST"])
@portal_view
def guest_erase_view(request: PortalRequest, guest_id: int) -> HttpResponse:
    """Erasure, after a confirmation page naming what will happen."""
    # A stale confirmation of a merged profile shows the survivor's (its counts differ).
    found = _guest_or_redirect(request, guest_id, follow_posts=False)
    if isinstance(found, HttpResponse):
        return found
    partner = request.partner
    if not can_erase(request.user, partner):
        raise PermissionDenied
    form = EraseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            guest_erase(
                guest=found, actor=request.user, partner=partner, reason=form.cleaned_data["reason"]
            )
        except GuestError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(request, _("The guest has been erased."))
            return redirect("portal:home")
    return render(
        request,
        "portal/guest_erase.html",
        {"guest": found, "form": form, "counts": erase_preview(found, partner=partner)},
    )


# --- Creating a guest -----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@portal_view
def guest_create(request: PortalRequest) -> HttpResponse:
    """Type the guest in; likely duplicates are shown before saving and can be opened instead."""
    partner = request.partner
    initial = _initial_from_query(request.GET.get("q", ""))
    form = GuestForm(request.POST or None, initial=initial)
    candidates: list[CandidateView] = []
    if request.method == "POST" and form.is_valid():
        candidates = likely_duplicates(partner=partner, data=form.cleaned_data)
        if not candidates or request.POST.get("confirmed") == "1":
            try:
                result = desk_guest_create(
                    data=form.cleaned_data, partner=partner, user=request.user
                )
            except DomainError as exc:
                form_add_domain_error(form, exc)
                return render(request, "portal/guest_create.html", {"form": form, "candidates": []})
            if result.guest is not None:
                if result.decision == Decision.MATCHED:
                    messages.info(request, _("This guest already existed: here is their profile."))
                else:
                    messages.success(request, _("Guest created."))
                return redirect("portal:guest", result.guest.pk)
            # Refused by identity resolution: its field errors, in the one error shape.
            form_add_domain_error(form, DomainError(result.errors))
            candidates = []
    return render(request, "portal/guest_create.html", {"form": form, "candidates": candidates})


def _initial_from_query(query: str) -> dict[str, str]:
    """What was searched becomes the start of the form: an email, a phone or a name."""
    query = query.strip()
    if not query:
        return {}
    if "@" in query:
        return {"email": query}
    if sum(ch.isdigit() for ch in query) >= 6:
        return {"phone": query}
    first, _sep, last = query.partition(" ")
    return {"first_name": first.title(), "last_name": last.title()}


# --- The possible-duplicates queue ----------------------------------------------------------


def _require_steward(request: PortalRequest) -> None:
    if not request.partner.is_steward:
        raise PermissionDenied


MERGE_DONE_KEY = "portal_merge_done"


def _merge_done(request: PortalRequest) -> GuestMerge | None:
    """The merge just made, once, for its confirmation with an "Undo" button (kept in the
    session across the redirect to the next pair, like a message). No query unless one was
    made."""
    merge_id = request.session.pop(MERGE_DONE_KEY, None)
    if not merge_id or not can_merge(request.user, request.partner):
        return None
    return GuestMerge.objects.filter(pk=merge_id, undone_at__isnull=True).first()


@portal_view
def duplicates(request: PortalRequest) -> HttpResponse:
    _require_steward(request)
    page = duplicate_queue(page=request.GET.get("page") or 1)
    return render(
        request,
        "portal/duplicates.html",
        {
            "page": page,
            "rows": page.object_list,
            "can_merge": can_merge(request.user, request.partner),
            "merge_done": _merge_done(request),
        },
    )


def _after_decision(pair: PossibleDuplicate) -> HttpResponse:
    """The steward goes on with the next pair of the queue, or back to the queue when none is
    left."""
    following = duplicate_next(after=pair)
    if following is None:
        return redirect("portal:duplicates")
    return redirect("portal:duplicate", following.pk)


@require_POST
@portal_view
def duplicate_household_dismiss_view(request: PortalRequest, pk: int) -> HttpResponse:
    """A household's pairs, dismissed together from the queue."""
    _require_steward(request)
    if not can_merge(request.user, request.partner):
        raise PermissionDenied
    pair = get_object_or_404(PossibleDuplicate.objects.select_related("guest_a", "guest_b"), pk=pk)
    try:
        dismissed = duplicate_household_dismiss(
            pair=pair, user=request.user, partner=request.partner
        )
    except GuestError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            ngettext(
                "%(n)d pair of one household marked as different people.",
                "%(n)d pairs of one household marked as different people.",
                len(dismissed),
            )
            % {"n": len(dismissed)},
        )
    return redirect("portal:duplicates")


@require_http_methods(["GET", "POST"])
@portal_view
def duplicate_detail(request: PortalRequest, pk: int) -> HttpResponse:
    _require_steward(request)
    pair = get_object_or_404(PossibleDuplicate.objects.select_related("guest_a", "guest_b"), pk=pk)
    partner = request.partner
    allowed = can_merge(request.user, partner)
    error = ""
    if request.method == "POST":
        if not allowed:
            raise PermissionDenied
        try:
            if request.POST.get("action") == "dismiss":
                duplicate_dismiss(pair=pair, user=request.user, partner=partner)
                messages.success(
                    request, _("Marked as two different people. Here is the next pair.")
                )
                return _after_decision(pair)
            merge = duplicate_merge(
                pair=pair,
                keep=request.POST.get("keep", ""),
                picks={k[5:]: str(v) for k, v in request.POST.items() if k.startswith("pick_")},
                user=request.user,
                partner=partner,
            )
        except GuestError as exc:
            error = str(exc)
        else:
            # The confirmation, with its "Undo" button, is shown on the next page.
            request.session[MERGE_DONE_KEY] = merge.pk
            return _after_decision(pair)
    if pair.status != PossibleDuplicate.Status.OPEN and request.method == "GET":
        messages.info(request, _("This pair has already been decided."))
        return redirect("portal:duplicates")
    context = duplicate_comparison(pair, partner=partner)
    context.update(
        {
            "can_merge": allowed,
            "error": error,
            "merge_done": _merge_done(request) if request.method == "GET" else None,
        }
    )
    return render(request, "portal/duplicate_detail.html", context, status=400 if error else 200)


@require_POST
@portal_view
def merge_undo_view(request: PortalRequest, pk: int) -> HttpResponse:
    """Undo a merge from the survivor's page; the merged profile is separate again."""
    _require_steward(request)
    merge = get_object_or_404(GuestMerge, pk=pk)
    try:
        merge_undo(merge=merge, user=request.user, partner=request.partner)
    except GuestError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Merge undone: guest #%(old)s is a separate profile again, and the pair is back "
              "in the duplicates queue.") % {"old": merge.merged_id},
        )  # fmt: skip
    # From the confirmation on the next pair the steward stays there; from the survivor's page,
    # the survivor's page.
    return redirect(safe_next(request, reverse("portal:guest", args=[merge.survivor_id])))
