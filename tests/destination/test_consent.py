"""The consent ledger: scope rules, proofs, history, state in step, objections, reads."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from destination.consent_selectors import (
    consent_history_for,
    consent_is_granted,
    consent_states_for,
    guests_with_consent,
)
from destination.models import (
    AuditEntry,
    ConsentEvent,
    ConsentProof,
    ConsentState,
    Guest,
    Purpose,
    TimelineEvent,
    Visibility,
)
from destination.services import GuestError
from destination.services.consent import (
    consent_object,
    consent_record,
    consent_wording_create,
    consent_wording_current,
)
from partners.models import Partner, PartnerGuestLink
from tests.factories import (
    ConsentWordingFactory,
    GuestFactory,
    MembershipFactory,
    PartnerFactory,
    PartnerGuestLinkFactory,
    UserFactory,
)
from tests.queries import assert_num_queries

pytestmark = pytest.mark.django_db

DESK = ConsentProof.Method.DESK


@pytest.fixture
def guest() -> Guest:
    return GuestFactory()


@pytest.fixture
def wordings() -> dict[str, object]:
    return {p: ConsentWordingFactory(purpose=p) for p in Purpose.values}


def _grant(guest, purpose, wordings, **kwargs):
    return consent_record(
        guest=guest,
        purpose=purpose,
        granted=True,
        method=kwargs.pop("method", DESK),
        wording=wordings[purpose],
        **kwargs,
    )


def _state(guest, purpose, partner=None, channel=""):
    return ConsentState.objects.get(guest=guest, purpose=purpose, partner=partner, channel=channel)


# --- Recording and proof --------------------------------------------------------------------


def test_grant_writes_proof_event_state_timeline_and_audit(guest, wordings):
    office = PartnerFactory(kind=Partner.Kind.TOURIST_OFFICE)
    clerk = UserFactory()
    when = timezone.now() - dt.timedelta(hours=2)

    proof = consent_record(
        guest=guest,
        purpose=Purpose.NEWSLETTER,
        granted=True,
        method=ConsentProof.Method.FORM,
        channels=["email"],
        wording=wordings[Purpose.NEWSLETTER],
        occurred_at=when,
        recorded_by=clerk,
        recorded_by_partner=office,
        evidence={"url": "https://example.test/signup", "ip": "203.0.113.7"},
    )

    proof.refresh_from_db()
    assert proof.method == ConsentProof.Method.FORM
    assert proof.wording == wordings[Purpose.NEWSLETTER]
    assert proof.occurred_at == when
    assert proof.recorded_by == clerk
    assert proof.recorded_by_partner == office
    assert proof.evidence == {"url": "https://example.test/signup", "ip": "203.0.113.7"}
    assert proof.is_objection is False
    event = proof.events.get()
    assert (event.guest, event.purpose, event.partner, event.channel, event.granted) == (
        guest,
        Purpose.NEWSLETTER,
        None,
        "email",
        True,
    )
    state = _state(guest, Purpose.NEWSLETTER, channel="email")
    assert state.granted is True
    assert state.event == event

    entry = TimelineEvent.objects.get(guest=guest, kind=TimelineEvent.Kind.CONSENT)
    assert entry.visibility == Visibility.SHARED
    assert entry.partner == office
    assert entry.source_object == proof
    audit = AuditEntry.objects.get(guest=guest, action=AuditEntry.Action.CONSENT)
    assert audit.actor == clerk
    assert audit.acting_partner == office
    assert audit.details["proof"] == proof.pk


def test_one_proof_one_event_per_partner_and_channel(guest, wordings):
    school, rental = PartnerFactory(), PartnerFactory(kind=Partner.Kind.EQUIPMENT_RENTAL)

    proof = _grant(
        guest,
        Purpose.PARTNER_OFFERS,
        wordings,
        partners=[school, rental],
        channels=["email", "sms"],
    )

    scopes = set(proof.events.values_list("partner_id", "channel", "granted"))
    assert scopes == {
        (school.pk, "email", True),
        (school.pk, "sms", True),
        (rental.pk, "email", True),
        (rental.pk, "sms", True),
    }
    assert ConsentState.objects.filter(guest=guest, granted=True).count() == 4
    # The partners consented to were named to the person; each now "received the data".
    assert set(proof.named_partners.all()) == {school, rental}
    links = PartnerGuestLink.objects.filter(guest=guest)
    assert {(link.partner_id, link.reason) for link in links} == {
        (school.pk, PartnerGuestLink.Reason.CONSENT),
        (rental.pk, PartnerGuestLink.Reason.CONSENT),
    }


def test_explicit_named_partners_are_kept(guest, wordings):
    school, other = PartnerFactory(), PartnerFactory()
    proof = _grant(
        guest, Purpose.PROFILE_SHARING, wordings, partners=[school], named_partners=[school, other]
    )
    assert set(proof.named_partners.all()) == {school, other}


def test_grant_of_profiling_or_newsletter_creates_no_partner_link(guest, wordings):
    _grant(guest, Purpose.PROFILING, wordings)
    _grant(guest, Purpose.NEWSLETTER, wordings, channels=["post"])
    assert not PartnerGuestLink.objects.filter(guest=guest).exists()
    assert _state(guest, Purpose.PROFILING).granted is True


# --- Scope validation -----------------------------------------------------------------------


def _scope_cases():
    return [
        ("newsletter with a partner", Purpose.NEWSLETTER, True, True, ["email"], "same"),
        ("newsletter without channel", Purpose.NEWSLETTER, True, False, [], "same"),
        ("offers without partner", Purpose.PARTNER_OFFERS, True, False, ["email"], "same"),
        ("offers without channel", Purpose.PARTNER_OFFERS, True, True, [], "same"),
        ("sharing with a channel", Purpose.PROFILE_SHARING, True, True, ["email"], "same"),
        ("sharing without partner", Purpose.PROFILE_SHARING, True, False, [], "same"),
        ("profiling with a partner", Purpose.PROFILING, True, True, [], "same"),
        ("profiling with a channel", Purpose.PROFILING, True, False, ["sms"], "same"),
        ("unknown channel", Purpose.NEWSLETTER, True, False, ["fax"], "same"),
        ("grant without wording", Purpose.PROFILING, True, False, [], None),
        ("wording of another purpose", Purpose.PROFILING, True, False, [], "other"),
        ("withdrawal with a wrong wording", Purpose.PROFILING, False, False, [], "other"),
        ("unknown purpose", "telepathy", True, False, [], None),
    ]


@pytest.mark.parametrize(
    ("case", "purpose", "granted", "with_partner", "channels", "wording"),
    _scope_cases(),
    ids=[c[0] for c in _scope_cases()],
)
def test_scope_rules_refuse_and_write_nothing(
    guest, wordings, case, purpose, granted, with_partner, channels, wording
):
    if wording == "same":
        wording = wordings[purpose]
    elif wording == "other":
        wording = wordings[Purpose.NEWSLETTER]
    with pytest.raises(GuestError):
        consent_record(
            guest=guest,
            purpose=purpose,
            granted=granted,
            method=DESK,
            partners=[PartnerFactory()] if with_partner else [],
            channels=channels,
            wording=wording,
        )
    assert not ConsentProof.objects.exists()
    assert not ConsentEvent.objects.exists()
    assert not ConsentState.objects.exists()


def test_unknown_method_is_refused(guest, wordings):
    with pytest.raises(GuestError):
        _grant(guest, Purpose.PROFILING, wordings, method="carrier_pigeon")


def test_withdrawal_needs_no_wording(guest, wordings):
    _grant(guest, Purpose.PROFILING, wordings)
    consent_record(guest=guest, purpose=Purpose.PROFILING, granted=False, method=DESK, wording=None)
    assert _state(guest, Purpose.PROFILING).granted is False


@pytest.mark.parametrize("status", [Guest.Status.ERASED, Guest.Status.MERGED])
def test_erased_and_merged_guests_are_refused(wordings, status):
    survivor = GuestFactory()
    guest = GuestFactory(
        status=status, merged_into=survivor if status == Guest.Status.MERGED else None
    )
    with pytest.raises(GuestError):
        _grant(guest, Purpose.PROFILING, wordings)
    with pytest.raises(GuestError):
        consent_object(guest=guest, via_partner=PartnerFactory(), method=DESK)
    assert not ConsentEvent.objects.exists()


def test_future_date_is_refused(guest, wordings):
    with pytest.raises(GuestError):
        _grant(
            guest,
            Purpose.PROFILING,
            wordings,
            occurred_at=timezone.now() + dt.timedelta(days=1),
        )


# --- History and state ----------------------------------------------------------------------


def test_withdrawal_keeps_the_history_and_moves_the_state(guest, wordings):
    granted = _grant(guest, Purpose.NEWSLETTER, wordings, channels=["email"])
    withdrawn = consent_record(
        guest=guest,
        purpose=Purpose.NEWSLETTER,
        granted=False,
        method=ConsentProof.Method.EMAIL_LINK,
        channels=["email"],
        wording=None,
    )

    events = list(consent_history_for(guest))
    assert [(e.granted, e.proof_id) for e in events] == [
        (False, withdrawn.pk),
        (True, granted.pk),
    ]
    state = _state(guest, Purpose.NEWSLETTER, channel="email")
    assert state.granted is False
    assert state.event.proof == withdrawn
    assert ConsentState.objects.filter(guest=guest).count() == 1
    assert not consent_is_granted(guest=guest, purpose=Purpose.NEWSLETTER, channel="email")


def test_state_and_ledger_roll_back_together(guest, wordings, monkeypatch):
    def broken_audit(**kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr("destination.services.consent.audit_log", broken_audit)
    with pytest.raises(RuntimeError):
        _grant(guest, Purpose.NEWSLETTER, wordings, channels=["email"])
    assert not ConsentProof.objects.exists()
    assert not ConsentEvent.objects.exists()
    assert not ConsentState.objects.exists()


def test_single_scope_withdrawal_touches_only_that_scope(guest, wordings):
    a, b = PartnerFactory(), PartnerFactory()
    _grant(guest, Purpose.PARTNER_OFFERS, wordings, partners=[a, b], channels=["email", "sms"])
    _grant(guest, Purpose.PROFILE_SHARING, wordings, partners=[a])

    consent_record(
        guest=guest,
        purpose=Purpose.PARTNER_OFFERS,
        granted=False,
        method=ConsentProof.Method.EMAIL_LINK,
        partners=[a],
        channels=["email"],
        wording=None,
    )

    offers = Purpose.PARTNER_OFFERS
    assert not consent_is_granted(guest=guest, purpose=offers, partner=a, channel="email")
    assert consent_is_granted(guest=guest, purpose=offers, partner=a, channel="sms")
    assert consent_is_granted(guest=guest, purpose=offers, partner=b, channel="email")
    assert consent_is_granted(guest=guest, purpose=Purpose.PROFILE_SHARING, partner=a)


# --- Objection ------------------------------------------------------------------------------


def test_objection_reaches_every_partner_that_received_the_data(guest, wordings):
    via = PartnerFactory(name="Via school")
    booked = PartnerFactory(name="Booked lodging", kind=Partner.Kind.LODGING)
    consented = PartnerFactory(name="Consented rental", kind=Partner.Kind.EQUIPMENT_RENTAL)
    granted_only = PartnerFactory(name="Granted, link gone")
    stranger = PartnerFactory(name="Stranger")
    PartnerGuestLinkFactory(partner=booked, guest=guest)
    _grant(guest, Purpose.PARTNER_OFFERS, wordings, partners=[consented], channels=["email"])
    _grant(guest, Purpose.PROFILE_SHARING, wordings, partners=[consented, granted_only])
    PartnerGuestLink.objects.filter(partner=granted_only).delete()
    _grant(guest, Purpose.NEWSLETTER, wordings, channels=["email"])
    clerk = MembershipFactory(partner=via).user

    proof = consent_object(
        guest=guest, via_partner=via, method=DESK, recorded_by=clerk, evidence={"note": "call"}
    )

    assert proof.is_objection is True
    assert proof.recorded_by_partner == via
    assert proof.evidence["note"] == "call"
    reached = {via, booked, consented, granted_only}
    assert set(proof.evidence["reached_partners"]) == {p.pk for p in reached}
    assert {e.partner for e in proof.events.all()} == reached
    assert not proof.events.filter(granted=True).exists()
    for partner in reached:
        assert not consent_is_granted(guest=guest, purpose=Purpose.PROFILE_SHARING, partner=partner)
        for channel in ("email", "sms", "post"):
            state = _state(guest, Purpose.PARTNER_OFFERS, partner, channel)
            assert state.granted is False
            assert state.event.proof == proof
    # A partner that never received the data is not in the ledger at all.
    assert not ConsentEvent.objects.filter(partner=stranger).exists()
    # The destination's own newsletter is another purpose: untouched.
    assert consent_is_granted(guest=guest, purpose=Purpose.NEWSLETTER, channel="email")
    # Earlier grants stay in the history.
    assert ConsentEvent.objects.filter(guest=guest, granted=True).count() == 4
    entry = TimelineEvent.objects.filter(guest=guest, kind=TimelineEvent.Kind.CONSENT).latest("id")
    assert entry.partner == via
    assert entry.data["objection"] is True


def test_objection_with_no_prior_relationship_still_records_the_via_partner(guest):
    via = PartnerFactory()
    proof = consent_object(guest=guest, via_partner=via, method=ConsentProof.Method.API)
    assert {e.partner for e in proof.events.all()} == {via}
    assert proof.events.count() == 4  # offers by email, SMS, post + profile sharing


# --- Wordings -------------------------------------------------------------------------------


def test_wording_versions_are_new_rows_and_current_is_the_newest():
    first = consent_wording_create(purpose=Purpose.NEWSLETTER, language="fr", text="Oui v1")
    second = consent_wording_create(purpose=Purpose.NEWSLETTER, language="fr", text="Oui v2")
    english = consent_wording_create(purpose=Purpose.NEWSLETTER, language="en", text="Yes")

    assert (first.version, second.version, english.version) == ("v1", "v2", "v1")
    first.refresh_from_db()
    assert first.text == "Oui v1"
    assert consent_wording_current(purpose=Purpose.NEWSLETTER, language="fr") == second
    assert consent_wording_current(purpose=Purpose.NEWSLETTER, language="en") == english
    assert consent_wording_current(purpose=Purpose.PROFILING, language="fr") is None
    with pytest.raises(GuestError):
        consent_wording_create(purpose=Purpose.NEWSLETTER, language="fr", text="x", version="v1")
    with pytest.raises(GuestError):
        consent_wording_create(purpose=Purpose.NEWSLETTER, language="fr", text="  ")


# --- Reads ----------------------------------------------------------------------------------


def test_consent_is_granted_is_one_query(guest, wordings):
    school = PartnerFactory()
    _grant(guest, Purpose.PARTNER_OFFERS, wordings, partners=[school], channels=["sms"])
    offers = Purpose.PARTNER_OFFERS
    with assert_num_queries(1):
        assert consent_is_granted(guest=guest, purpose=offers, partner=school, channel="sms")
    with assert_num_queries(1):
        assert not consent_is_granted(guest=guest, purpose=offers, partner=school, channel="email")
    with assert_num_queries(1):
        assert not consent_is_granted(guest=guest.pk, purpose=Purpose.PROFILING)


def test_consent_is_granted_refuses_a_scope_that_does_not_fit():
    with pytest.raises(ValueError):
        consent_is_granted(guest=1, purpose=Purpose.PARTNER_OFFERS, channel="email")
    with pytest.raises(ValueError):
        consent_is_granted(guest=1, purpose=Purpose.NEWSLETTER)


def test_erased_guest_has_no_consent(guest, wordings):
    _grant(guest, Purpose.PROFILING, wordings)
    Guest.objects.filter(pk=guest.pk).update(status=Guest.Status.ERASED)
    assert not consent_is_granted(guest=guest, purpose=Purpose.PROFILING)


def test_consent_states_for_needs_one_query(guest, wordings):
    partners = PartnerFactory.create_batch(3)
    _grant(guest, Purpose.PARTNER_OFFERS, wordings, partners=partners, channels=["email"])
    _grant(guest, Purpose.NEWSLETTER, wordings, channels=["email", "post"])
    with assert_num_queries(1):
        rows = [
            (s.purpose, s.partner.name if s.partner else "", s.event.proof.wording.version)
            for s in consent_states_for(guest)
        ]
    assert len(rows) == 5


def test_consent_history_for_has_no_n_plus_one(guest, wordings):
    partners = PartnerFactory.create_batch(3)
    for partner in partners:
        _grant(guest, Purpose.PROFILE_SHARING, wordings, partners=[partner])
    consent_object(guest=guest, via_partner=partners[0], method=DESK)
    with assert_num_queries(2):  # events with proofs, then every proof's named partners
        rows = [
            (e.partner.name, e.proof.method, [p.name for p in e.proof.named_partners.all()])
            for e in consent_history_for(guest)
        ]
    assert len(rows) == 3 + 3 * 4


def test_guests_with_consent_is_one_query_and_exact(wordings):
    school, other = PartnerFactory(), PartnerFactory()
    subscribed = GuestFactory.create_batch(3)
    for g in subscribed:
        _grant(g, Purpose.NEWSLETTER, wordings, channels=["email"])
        _grant(g, Purpose.PARTNER_OFFERS, wordings, partners=[school], channels=["email"])
    withdrawn = GuestFactory()
    _grant(withdrawn, Purpose.NEWSLETTER, wordings, channels=["email"])
    consent_record(
        guest=withdrawn,
        purpose=Purpose.NEWSLETTER,
        granted=False,
        method=DESK,
        channels=["email"],
        wording=None,
    )
    sms_only = GuestFactory()
    _grant(sms_only, Purpose.NEWSLETTER, wordings, channels=["sms"])
    erased = GuestFactory()
    _grant(erased, Purpose.NEWSLETTER, wordings, channels=["email"])
    Guest.objects.filter(pk=erased.pk).update(status=Guest.Status.ERASED)

    with assert_num_queries(1):
        found = set(guests_with_consent(purpose=Purpose.NEWSLETTER, channel="email"))
    assert found == set(subscribed)
    offers = guests_with_consent(purpose=Purpose.PARTNER_OFFERS, channel="email", partner=school)
    assert set(offers) == set(subscribed)
    assert not guests_with_consent(
        purpose=Purpose.PARTNER_OFFERS, channel="email", partner=other
    ).exists()


def test_guests_with_consent_compiles_to_a_single_statement(wordings):
    _grant(GuestFactory(), Purpose.PROFILING, wordings)
    with assert_num_queries(1) as ctx:
        list(guests_with_consent(purpose=Purpose.PROFILING))
    assert "consentstate" in ctx.statements[0].lower()


# --- Concurrency (PostgreSQL: real row locks) -----------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_grants_of_a_new_scope_leave_one_state_row():
    import threading

    from django.contrib.contenttypes.models import ContentType
    from django.db import connections

    # An earlier transactional test flushed the tables: forget content type ids cached then.
    ContentType.objects.clear_cache()
    guest = GuestFactory()
    school = PartnerFactory()
    wording = ConsentWordingFactory(purpose=Purpose.PARTNER_OFFERS)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def grant(granted: bool) -> None:
        try:
            barrier.wait(timeout=10)
            consent_record(
                guest=guest,
                purpose=Purpose.PARTNER_OFFERS,
                granted=granted,
                method=DESK,
                partners=[school],
                channels=["email", "sms"],
                wording=wording if granted else None,
            )
        except BaseException as exc:  # collected for the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=grant, args=(i % 2 == 0,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert errors == []
    assert ConsentEvent.objects.filter(guest=guest).count() == 8
    states = ConsentState.objects.filter(guest=guest)
    assert states.count() == 2
    for state in states:
        # The state is the last event of its scope, whatever the interleaving.
        last = ConsentEvent.objects.filter(guest=guest, channel=state.channel).latest("id")
        assert (state.event_id, state.granted) == (last.pk, last.granted)
    assert PartnerGuestLink.objects.filter(guest=guest, partner=school).count() == 1


def test_a_scope_refusal_keeps_its_fields(guest, wordings):
    with pytest.raises(GuestError) as exc:
        consent_record(
            guest=guest,
            purpose=Purpose.PARTNER_OFFERS,
            granted=True,
            method=DESK,
            partners=[],
            channels=[],
            wording=wordings[Purpose.PARTNER_OFFERS],
        )
    assert set(exc.value.field_errors) == {"partner", "channel"}
    assert exc.value.code == "invalid"
