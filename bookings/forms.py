"""Forms of the booking pages: the public booking form, the offer filter, cancellation, and the
booking desk's forms. Forms check what can be checked from the input alone and what the visitor
saw; the booking service re-checks everything under lock and its field errors land on these
same fields."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils import timezone
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from bookings.catalogue import OFFER_FIELDS, SessionSeries
from bookings.models import Booking, Offer, Session
from destination.models import ConsentWording, Purpose
from destination.normalize import normalize_email, normalize_phone
from destination.services.consent import consent_wording_current

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from partners.models import Partner

# A party larger than this is a group request, handled by the partner directly.
MAX_PARTY = 20

# The optional consents the booking form offers, with the scope each is recorded for.
BOOKING_CONSENT_PURPOSES: tuple[str, ...] = (
    Purpose.NEWSLETTER,
    Purpose.PARTNER_OFFERS,
    Purpose.PROFILE_SHARING,
)


@dataclass(frozen=True)
class ConsentField:
    """One consent checkbox as shown: its form field name and the exact wording."""

    purpose: str
    name: str
    wording: ConsentWording
    names_partner: bool


def consent_wordings_for(language: str) -> dict[str, ConsentWording]:
    """The current wording of each booking consent in ``language`` (English as fallback). A
    purpose without a wording is not offered: a consent cannot be recorded without its text."""
    wordings: dict[str, ConsentWording] = {}
    for purpose in BOOKING_CONSENT_PURPOSES:
        wording = consent_wording_current(purpose=purpose, language=language)
        if wording is None and language != settings.LANGUAGE_CODE:
            wording = consent_wording_current(purpose=purpose, language=settings.LANGUAGE_CODE)
        if wording is not None:
            wordings[purpose] = wording
    return wordings


class OfferFilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), required=False, choices=())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["kind"]).choices = [
            ("", _("All offers")),
            *Offer.Kind.choices,
        ]


class ContactFieldsMixin(forms.Form):
    """The booker's contact details, normalised as the shared core stores them."""

    first_name = forms.CharField(
        label=_("First name"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    last_name = forms.CharField(
        label=_("Last name"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    email = forms.CharField(
        label=_("Email"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "type": "tel"}),
    )
    country = forms.ChoiceField(label=_("Country"), required=False, choices=())
    language = forms.ChoiceField(label=_("Language"), choices=())

    def _contact_init(self) -> None:
        cast(forms.ChoiceField, self.fields["country"]).choices = [("", "—"), *countries]
        self.fields["country"].widget.attrs["autocomplete"] = "country"
        cast(forms.ChoiceField, self.fields["language"]).choices = list(settings.LANGUAGES)

    def clean_email(self) -> str:
        try:
            return normalize_email(self.cleaned_data.get("email"))
        except ValidationError as exc:
            raise ValidationError(exc.messages, code="invalid_email") from None

    def _clean_phone(self, cleaned: dict[str, Any]) -> None:
        raw = cleaned.get("phone")
        if raw:
            try:
                cleaned["phone"] = normalize_phone(raw, cleaned.get("country") or None)
            except ValidationError as exc:
                self.add_error("phone", ValidationError(exc.messages, code="invalid_phone"))


def _booker_takes_part(data: Any, prefix: str, *, first_draw: bool) -> bool:
    """Whether the booker is the first adult (their name is not typed twice). The page always
    posts the hidden ``booker_takes_part_shown`` marker beside the checkbox, so an unticked box
    (which posts nothing) is told apart from a form that never showed it (all names typed)."""
    key = f"{prefix}-booker_takes_part" if prefix else "booker_takes_part"
    if f"{key}_shown" in (data or {}):
        return str((data or {}).get(key, "")).lower() in ("on", "true", "1")
    return first_draw


def _party_size(data: Any, prefix: str, field: str, default: int) -> int:
    """A party count read from raw data, only to decide how many name rows to draw."""
    key = f"{prefix}-{field}" if prefix else field
    try:
        value = int((data or {}).get(key, default))
    except (TypeError, ValueError):
        return 0
    return max(0, min(value, MAX_PARTY))


# Dates shown before "More dates" on an offer page.
FIRST_DATES_SHOWN = 6

# What a visitor books when an offer is priced per unit, in their words (never "units").
UNITS_LABELS: dict[str, StrOrPromise] = {
    Offer.Kind.STAY: _("Rooms"),
    Offer.Kind.PASS: _("Passes"),
    Offer.Kind.RENTAL: _("Equipment sets"),
}


class BookingForm(ContactFieldsMixin):
    """Session, party, participant names (lessons), contact details and optional consents.

    ``expected_total_cents`` is the amount the visitor was shown; the service refuses the
    booking when it differs from the price it computes (a tampered or stale amount)."""

    session = forms.ModelChoiceField(
        label=_("Date"),
        queryset=Session.objects.none(),
        widget=forms.RadioSelect,
        error_messages={
            "invalid_choice": _("This date is not available any more: choose another one."),
            "required": _("Choose a date."),
        },
    )
    adults = forms.IntegerField(
        label=_("Adults"),
        min_value=0,
        max_value=MAX_PARTY,
        initial=1,
        error_messages={"min_value": _("A number of people cannot be negative.")},
    )
    children = forms.IntegerField(
        label=_("Children"),
        min_value=0,
        max_value=MAX_PARTY,
        initial=0,
        error_messages={"min_value": _("A number of people cannot be negative.")},
    )
    expected_total_cents = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    def __init__(
        self,
        *args: Any,
        offer: Offer,
        sessions: Any,
        language: str,
        party_url: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.offer = offer
        self._contact_init()
        cast(forms.ModelChoiceField[Any], self.fields["session"]).queryset = sessions
        self.fields["language"].initial = language
        if offer.pricing == Offer.Pricing.PER_UNIT:
            self.fields["units"] = forms.IntegerField(
                label=UNITS_LABELS.get(offer.kind, _("Quantity")),
                min_value=1,
                max_value=MAX_PARTY,
                initial=1,
                error_messages={"min_value": _("Book at least one.")},
            )
        # How many name rows: from the posted party, else from the initial values.
        source = self.data if self.is_bound else {**self.initial}
        self.party_adults = _party_size(source, self.prefix or "", "adults", 1)
        self.party_children = _party_size(source, self.prefix or "", "children", 0)
        # The booker is the first adult unless they say otherwise: their name comes from
        # "Your details" and is not typed twice.
        self.booker_named = False
        if offer.needs_participant_names:
            self.fields["booker_takes_part"] = forms.BooleanField(
                label=_("I am taking part (adult 1)"), required=False
            )
            self.fields["booker_takes_part_shown"] = forms.CharField(
                widget=forms.HiddenInput, initial="1", required=False
            )
            self.booker_named = self.party_adults >= 1 and _booker_takes_part(
                source, self.prefix or "", first_draw=not self.is_bound
            )
            self.initial["booker_takes_part"] = self.booker_named
            for index in range(self.first_named_row, self.party_adults + self.party_children):
                self.fields[f"p{index}_first_name"] = forms.CharField(
                    label=_("First name"), max_length=150
                )
                self.fields[f"p{index}_last_name"] = forms.CharField(
                    label=_("Last name"), max_length=150
                )
        if party_url:
            self._party_redraw(party_url)
        self.consent_fields: list[ConsentField] = []
        for purpose, wording in consent_wordings_for(language).items():
            name = f"consent_{purpose}"
            self.fields[name] = forms.BooleanField(label=wording.text, required=False)
            # The wording version shown is posted back, so the proof is the exact text ticked
            # even when staff publish a new version while the visitor fills the form.
            self.fields[f"{name}_wording"] = forms.IntegerField(
                widget=forms.HiddenInput, initial=wording.pk, required=False
            )
            self.consent_fields.append(
                ConsentField(
                    purpose=purpose,
                    name=name,
                    wording=wording,
                    names_partner=purpose in (Purpose.PARTNER_OFFERS, Purpose.PROFILE_SHARING),
                )
            )

    def _party_redraw(self, url: str) -> None:
        """htmx: the name rows and the price follow the date and the party. Counts redraw after
        a pause in typing, not on blur, so a redraw never lands while a name is being typed."""
        common = {
            "hx-get": url,
            "hx-target": "#party",
            "hx-include": "closest form",
            "hx-sync": "closest form:replace",
        }
        # A date changes the price, never the name rows: only the out-of-band price and total
        # are swapped, so names being typed are never redrawn.
        self.fields["session"].widget.attrs.update(
            {**common, "hx-trigger": "change", "hx-swap": "none"}
        )
        for name in ("adults", "children", "units"):
            if name in self.fields:
                self.fields[name].widget.attrs.update(
                    {**common, "hx-trigger": "input changed delay:300ms"}
                )
        if "booker_takes_part" in self.fields:
            self.fields["booker_takes_part"].widget.attrs.update({**common, "hx-trigger": "change"})

    def session_radios(self) -> dict[str, Any]:
        """The date choices, the first few shown and the rest behind "More dates": a phone
        page stays short whatever the number of dates. The rest opens when one of them is the
        chosen date (a form drawn again after an error)."""
        radios = list(self["session"])
        first, more = radios[:FIRST_DATES_SHOWN], radios[FIRST_DATES_SHOWN:]
        return {
            "first": first,
            "more": more,
            "more_open": any(radio.data.get("selected") for radio in more),
        }

    @property
    def first_named_row(self) -> int:
        """The first participant row with name fields (row 0 is the booker when they take part)."""
        return 1 if self.booker_named else 0

    def seats_note(self) -> dict[str, int | bool] | None:
        """Places left on the chosen date against the places this party needs, shown as the
        party grows ("3 places left"), before any submit. None until a date is chosen."""
        source = self.data if self.is_bound else self.initial
        key = self.add_prefix("session") if self.is_bound else "session"
        raw = (source or {}).get(key)
        try:
            session_id = int(raw) if raw not in (None, "") else None
        except (TypeError, ValueError):
            return None
        if session_id is None:
            return None
        sessions = cast(forms.ModelChoiceField[Session], self.fields["session"]).queryset
        session = sessions.filter(pk=session_id).first() if sessions is not None else None
        if session is None:
            return None
        if "units" in self.fields:
            needed = _party_size(source, self.prefix or "", "units", 1)
        else:
            needed = self.party_adults + self.party_children
        left = session.seats_left
        return {"left": left, "needed": needed, "over": needed > left}

    def participant_bound_rows(self) -> list[dict[str, Any]]:
        rows = []
        for index in range(self.first_named_row, self.party_adults + self.party_children):
            if f"p{index}_first_name" not in self.fields:
                break
            is_child = index >= self.party_adults
            rows.append(
                {
                    "number": index - self.party_adults + 1 if is_child else index + 1,
                    "is_child": is_child,
                    "first_name": self[f"p{index}_first_name"],
                    "last_name": self[f"p{index}_last_name"],
                }
            )
        return rows

    def consent_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "field": self[c.name],
                "wording": self[f"{c.name}_wording"],
                "names_partner": c.names_partner,
            }
            for c in self.consent_fields
        ]

    def clean_session(self) -> Session:
        session: Session = self.cleaned_data["session"]
        if session.starts_at <= timezone.now():
            raise ValidationError(
                _("This session has already started: choose a later date."), code="past"
            )
        return session

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self._clean_phone(cleaned)
        adults, children = cleaned.get("adults"), cleaned.get("children")
        if adults is not None and children is not None:
            if adults + children == 0:
                self.add_error("adults", _("Book for at least one person."))
            elif adults + children > MAX_PARTY:
                self.add_error(
                    "children",
                    _("For more than %(max)s people, please contact the partner.")
                    % {"max": MAX_PARTY},
                )
            elif self.offer.needs_participant_names and adults + children != (
                self.party_adults + self.party_children
            ):
                # Only reachable when the data was tampered with after the form was drawn.
                self.add_error("adults", _("The party changed: check the names below."))
            session = cleaned.get("session")
            needed = self.seats_needed(cleaned)
            if session is not None and needed is not None and needed > session.seats_left:
                self.add_error(
                    "units" if "units" in self.fields else "adults",
                    _("Only %(left)s places left on this date.") % {"left": session.seats_left},
                )
        for field in self.consent_fields:
            self._clean_consent(cleaned, field)
        return cleaned

    def _clean_consent(self, cleaned: dict[str, Any], field: ConsentField) -> None:
        """Only the wording this page shows (current version in the page's language, or the
        English fallback) is recorded. Any other posted id is refused when the box is ticked:
        another language's text or a version published since the page was drawn is not what
        the visitor agreed to here. The box is drawn again unticked with the current text."""
        cleaned[f"{field.name}_shown"] = field.wording
        wording_id = cleaned.get(f"{field.name}_wording")
        if not wording_id or wording_id == field.wording.pk or not cleaned.get(field.name):
            return
        older = ConsentWording.objects.filter(
            pk=wording_id, purpose=field.purpose, language=field.wording.language
        ).exists()
        self.add_error(
            field.name,
            _("This consent text has changed: read it again and tick the box if you agree.")
            if older
            else _("This consent text is not known."),
        )
        data = cast(QueryDict, self.data).copy()  # bound to request.POST
        data[self.add_prefix(f"{field.name}_wording")] = str(field.wording.pk)
        data.pop(self.add_prefix(field.name), None)
        self.data = data

    def seats_needed(self, cleaned: dict[str, Any]) -> int | None:
        """Seats a booking takes: units for per-unit offers, else one per person."""
        if "units" in self.fields:
            return cleaned.get("units")
        return (cleaned.get("adults") or 0) + (cleaned.get("children") or 0)

    def participants(self) -> list[dict[str, Any]]:
        """The named participants as plain values (after is_valid)."""
        out = []
        if self.booker_named:
            out.append(
                {
                    "first_name": (self.cleaned_data.get("first_name") or "").strip(),
                    "last_name": (self.cleaned_data.get("last_name") or "").strip(),
                    "is_child": False,
                }
            )
        for row in range(self.first_named_row, self.party_adults + self.party_children):
            if f"p{row}_first_name" not in self.cleaned_data:
                break
            out.append(
                {
                    "first_name": self.cleaned_data[f"p{row}_first_name"].strip(),
                    "last_name": self.cleaned_data[f"p{row}_last_name"].strip(),
                    "is_child": row >= self.party_adults,
                }
            )
        return out

    def consents(self) -> list[tuple[str, ConsentWording, bool]]:
        """(purpose, wording shown, given) for each offered consent (after is_valid)."""
        return [
            (
                field.purpose,
                self.cleaned_data[f"{field.name}_shown"],
                bool(self.cleaned_data.get(field.name)),
            )
            for field in self.consent_fields
        ]


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (optional)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class DeskCancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class PaymentForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount taken (EUR)"), min_value=Decimal("0.01"), decimal_places=2
    )

    def amount_cents(self) -> int:
        try:
            return int((self.cleaned_data["amount"] * 100).to_integral_value())
        except (InvalidOperation, KeyError):
            return 0


class DeskFilterForm(forms.Form):
    UPCOMING, PAST, ALL = "upcoming", "past", "all"

    period = forms.ChoiceField(label=_("Show"), required=False, choices=())
    date = forms.DateField(
        label=_("Date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    status = forms.ChoiceField(label=_("Status"), required=False, choices=())
    overdue = forms.BooleanField(
        label=_("To follow up: balance overdue or refund failed"), required=False
    )
    q = forms.CharField(label=_("Reference or name"), required=False, max_length=100)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["status"]).choices = [
            ("", _("Any status")),
            *Booking.Status.choices,
        ]
        cast(forms.ChoiceField, self.fields["period"]).choices = [
            (self.UPCOMING, _("Upcoming")),
            (self.PAST, _("Past")),
            (self.ALL, _("All dates")),
        ]

    def filters(self) -> dict[str, Any]:
        """The selector's arguments (after is_valid). Upcoming by default; a date or a search
        looks at every date unless a period was chosen."""
        data = self.cleaned_data
        period = data["period"] or (self.ALL if data["date"] or data["q"] else self.UPCOMING)
        return {
            "on": data["date"],
            "status": data["status"],
            "overdue": data["overdue"],
            "query": data["q"],
            "period": period,
        }


class DeskBookingForm(BookingForm):
    """A booking taken at the desk or on the phone for a guest: same checks as the public form,
    plus the channel and how the guest pays."""

    channel = forms.ChoiceField(label=_("Taken"), choices=())
    payment = forms.ChoiceField(label=_("Payment"), choices=(), widget=forms.RadioSelect)

    PAY_ON_SITE = "on_site"
    PAY_LINK = "link"

    def __init__(self, *args: Any, stripe_enabled: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["channel"]).choices = [
            (Booking.Channel.PHONE, _("On the phone")),
            (Booking.Channel.DESK, _("At the desk")),
        ]
        choices = [(self.PAY_ON_SITE, _("Pays on site"))]
        if stripe_enabled:
            choices.append((self.PAY_LINK, _("Send a card payment link by email")))
        cast(forms.ChoiceField, self.fields["payment"]).choices = choices
        self.fields["payment"].initial = self.PAY_ON_SITE
        # Staff record consents only when the guest said so on the phone or at the desk.
        self.fields["phone"].required = False


# --- The catalogue, edited by partner managers in the portal ---------------------------------


def _cents(value: Decimal | None) -> int | None:
    if value is None:
        return None
    return int((value * 100).to_integral_value())


class OfferEditForm(forms.Form):
    """An offer as a partner manager writes it: prices in euros, turned into cents for the
    service (which checks the rules that tie fields together)."""

    partner: forms.ModelChoiceField[Partner] = forms.ModelChoiceField(
        label=_("Partner"), queryset=None, required=False
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=Offer.Kind.choices)
    title_en = forms.CharField(label=_("Title (English)"), max_length=150)
    title_fr = forms.CharField(label=_("Title (French)"), max_length=150, required=False)
    description_en = forms.CharField(
        label=_("Description (English)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    description_fr = forms.CharField(
        label=_("Description (French)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    pricing = forms.ChoiceField(label=_("Pricing"), choices=Offer.Pricing.choices)
    price = forms.DecimalField(
        label=_("Price (EUR)"),
        min_value=Decimal("0.01"),
        max_digits=8,
        decimal_places=2,
        help_text=_("Per person, or per unit; for stays per unit and per night."),
    )
    child_price = forms.DecimalField(
        label=_("Child price (EUR)"),
        required=False,
        min_value=Decimal("0.00"),
        max_digits=8,
        decimal_places=2,
        help_text=_("Per-person offers only; empty when children pay the adult price."),
    )
    deposit_percent = forms.IntegerField(
        label=_("Deposit (%)"),
        required=False,
        min_value=1,
        max_value=99,
        help_text=_("Empty: paid in full at booking. Card payments only."),
    )
    balance_due_days = forms.IntegerField(
        label=_("Balance due (days before arrival)"), min_value=0, max_value=365, initial=30
    )
    free_cancellation_days = forms.IntegerField(
        label=_("Free cancellation until (days before)"), min_value=0, max_value=365, initial=2
    )
    needs_participant_names = forms.BooleanField(
        label=_("Ask for each participant's name"), required=False
    )
    is_published = forms.BooleanField(label=_("Published on the website"), required=False)

    def __init__(self, *args: Any, partners: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if partners is None:
            del self.fields["partner"]
        else:
            cast(forms.ModelChoiceField[Any], self.fields["partner"]).queryset = partners
            self.fields["partner"].required = True

    @classmethod
    def initial_for(cls, offer: Offer) -> dict[str, Any]:
        initial: dict[str, Any] = {
            name: getattr(offer, name) for name in OFFER_FIELDS if not name.endswith("_cents")
        }
        initial["price"] = Decimal(offer.price_cents) / 100
        if offer.child_price_cents is not None:
            initial["child_price"] = Decimal(offer.child_price_cents) / 100
        return initial

    def values(self) -> dict[str, Any]:
        """The service's values (after is_valid)."""
        data = dict(self.cleaned_data)
        data.pop("partner", None)
        data["price_cents"] = _cents(data.pop("price"))
        data["child_price_cents"] = _cents(data.pop("child_price"))
        return data


# Django's own abbreviations (0 = Monday), already translated.
WEEKDAYS = tuple(WEEKDAYS_ABBR.items())


class SessionSeriesForm(forms.Form):
    """One session, or a series of them from a first to a last day on chosen weekdays."""

    first_day = forms.DateField(
        label=_("First day"), widget=forms.DateInput(attrs={"type": "date"})
    )
    last_day = forms.DateField(
        label=_("Last day"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Empty for a single day."),
    )
    weekdays = forms.TypedMultipleChoiceField(
        label=_("On"),
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    start_time = forms.TimeField(
        label=_("Starts at"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    end_time = forms.TimeField(
        label=_("Ends at"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    nights = forms.IntegerField(
        label=_("Nights"),
        min_value=0,
        max_value=60,
        initial=0,
        help_text=_("0 for a lesson or an activity within the day; the length of a stay."),
    )
    capacity = forms.IntegerField(
        label=_("Capacity"),
        min_value=1,
        max_value=10_000,
        help_text=_("Seats, units or rooms per session."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("weekdays", [d for d, _label in WEEKDAYS])
        super().__init__(*args, **kwargs)

    def series(self) -> SessionSeries:
        data = self.cleaned_data
        first = data["first_day"]
        last = data.get("last_day") or first
        weekdays = frozenset(data.get("weekdays") or ())
        if last == first:  # one day: whichever weekday it is
            weekdays = frozenset({first.weekday()})
        return SessionSeries(
            first_day=first,
            last_day=last,
            weekdays=weekdays,
            start_time=data["start_time"],
            end_time=data["end_time"],
            nights=data["nights"],
            capacity=data["capacity"],
        )


class SessionCapacityForm(forms.Form):
    capacity = forms.IntegerField(label=_("Capacity"), min_value=1, max_value=10_000)
