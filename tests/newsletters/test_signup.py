"""Newsletter signup with double opt-in: the happy path, repeats, and hostile input.

Moved from tests/content/test_newsletter.py with the signup (content -> newsletters); the
confirmation email now goes through the pipeline (a transactional Message), which these tests
read back from ``mail.outbox`` as before."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
from django.core import mail, signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone
from django.utils.html import escape

from content.models import NewsletterSignup, StoryPage
from destination.consent_selectors import consent_is_granted
from destination.models import (
    Channel,
    ConsentEvent,
    ConsentProof,
    ConsentWording,
    Destination,
    Guest,
    GuestEmail,
    Purpose,
    TimelineEvent,
)
from destination.registry import guest_erasers, guest_exporters
from newsletters import rendering
from newsletters import signup as newsletter
from newsletters.models import Message
from newsletters.services import message_render
from tests.content.helpers import build_site, publish
from tests.factories import GuestEmailFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    """Rate-limit counters and the cached wording must not leak between tests (their rows are
    rolled back, the process-local cache is not)."""
    cache.clear()
    yield
    cache.clear()


SIGNUP_URL = "/en/newsletter/"
LINK = re.compile(r"https?://[^\s\"<>]+/newsletter/confirm/[^\s\"<>]+/")


def _form(**overrides) -> dict:
    data = {
        "email": "Lea.Martin@Mail.example",
        "language": "en",
        "interests": ["skiing", "family"],
        "wording": newsletter.newsletter_wording("en").pk,
        "website": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def site(db):
    """The site without its French tree (the slow part to build): signup needs no translation."""
    return build_site(translate=False)


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Runs the on-commit callbacks (the confirmation email task) as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def signup(client, on_commit):
    def post(url: str = SIGNUP_URL, ip: str = "203.0.113.7", **overrides):
        with on_commit():
            return client.post(
                url, _form(**overrides), REMOTE_ADDR=ip, HTTP_USER_AGENT="Firefox/140"
            )

    return post


def _confirm_path(message) -> str:
    return urlsplit(LINK.search(message.body).group(0)).path


def test_signup_stores_a_pending_request_and_mails_a_link(client, site, signup):
    response = signup()

    assert response.status_code == 302
    assert response["Location"] == "/en/newsletter/thanks/"
    signup = NewsletterSignup.objects.get()
    assert signup.status == NewsletterSignup.Status.PENDING
    assert signup.email_normalized == "lea.martin@mail.example"
    assert signup.interests == ["family", "skiing"]
    assert signup.ip_address == "203.0.113.7"
    # Nothing reaches the CRM before the owner of the address confirms it.
    assert not Guest.objects.exists()
    assert not ConsentEvent.objects.exists()
    (message,) = mail.outbox
    assert message.to == ["Lea.Martin@Mail.example"]
    assert "Confirm your subscription" in message.subject
    assert LINK.search(message.body)
    assert LINK.search(message.alternatives[0][0])
    # The link is built on the Site's address (canonical base), not the request's host.
    assert LINK.search(message.body).group(0).startswith("http://localhost:8000/en/newsletter/")


def test_confirming_resolves_the_guest_and_grants_the_consent_with_proof(client, site, signup):
    story_page = site.add_stories(1)[0]
    signup(page=story_page.pk)
    path = _confirm_path(mail.outbox[0])

    # Opening the link asks for a click: link scanners in mail systems must not subscribe.
    page = client.get(path)
    assert page.status_code == 200
    assert "Confirm my subscription" in page.text
    assert not Guest.objects.exists()

    response = client.post(path, REMOTE_ADDR="198.51.100.4")
    assert response.status_code == 200
    assert "You are subscribed" in response.text

    guest = Guest.objects.get()
    assert guest.source == Guest.Source.SIGNUP
    assert guest.language == "en"
    assert {tag.slug for tag in guest.tags.all()} == {"skiing", "family"}
    email = GuestEmail.objects.get(guest=guest)
    assert email.email_normalized == "lea.martin@mail.example"
    assert email.verified_at is not None
    assert consent_is_granted(guest=guest, purpose=Purpose.NEWSLETTER, channel=Channel.EMAIL)

    proof = ConsentProof.objects.get()
    assert proof.method == ConsentProof.Method.EMAIL_LINK
    assert proof.wording == newsletter.newsletter_wording("en")
    assert proof.evidence["double_opt_in"] is True
    assert proof.evidence["page_url"] == story_page.get_full_url()
    assert proof.evidence["wording_version"] == proof.wording.version
    assert proof.evidence["signup_ip"] == "203.0.113.7"
    assert proof.evidence["confirmed_ip"] == "198.51.100.4"
    request = NewsletterSignup.objects.get()
    assert request.status == NewsletterSignup.Status.CONFIRMED
    assert (request.guest, request.proof) == (guest, proof)
    kinds = set(TimelineEvent.objects.filter(guest=guest).values_list("kind", flat=True))
    assert {TimelineEvent.Kind.CONSENT, TimelineEvent.Kind.SIGNUP} <= kinds


def test_a_second_click_changes_nothing(client, site, signup):
    signup()
    path = _confirm_path(mail.outbox[0])
    client.post(path)
    client.post(path)
    assert Guest.objects.count() == 1
    assert ConsentEvent.objects.count() == 1
    assert TimelineEvent.objects.filter(kind=TimelineEvent.Kind.SIGNUP).count() == 1


def test_repeated_signups_make_one_request_and_one_email_per_window(client, site, signup):
    for interests in (["skiing"], ["family"], ["wellbeing"]):
        assert signup(interests=interests).status_code == 302

    request = NewsletterSignup.objects.get()
    assert request.interests == ["wellbeing"]  # the latest answer wins
    assert len(mail.outbox) == 1

    # After the window, a new request sends a new email (the old link still works).
    NewsletterSignup.objects.update(
        confirmation_sent_at=timezone.now() - newsletter.RESEND_WINDOW,
        confirmation_requested_at=timezone.now() - newsletter.RESEND_WINDOW,
    )
    cache.clear()
    signup()
    assert len(mail.outbox) == 2
    assert NewsletterSignup.objects.count() == 1
    client.post(_confirm_path(mail.outbox[0]))
    assert ConsentEvent.objects.count() == 1


def test_a_known_guest_is_matched_not_duplicated(client, site, signup):
    known = GuestEmailFactory(email="lea.martin@mail.example").guest
    signup()
    client.post(_confirm_path(mail.outbox[0]))
    assert Guest.objects.count() == 1
    assert NewsletterSignup.objects.get().guest == known
    assert consent_is_granted(guest=known, purpose=Purpose.NEWSLETTER, channel=Channel.EMAIL)


def test_a_subscribed_address_gets_no_email_and_the_same_answer(client, site, signup):
    signup()
    client.post(_confirm_path(mail.outbox[0]))
    cache.clear()

    again = signup(interests=["gastronomy"])
    stranger = signup(email="someone.new@mail.example")

    # Same answer as any signup: the form does not tell who is subscribed.
    assert again.status_code == stranger.status_code == 302
    assert again["Location"] == stranger["Location"]
    assert [message.to for message in mail.outbox[1:]] == [["someone.new@mail.example"]]
    assert not NewsletterSignup.objects.filter(
        email_normalized="lea.martin@mail.example", status="pending"
    ).exists()
    assert ConsentEvent.objects.count() == 1


def test_one_address_gets_at_most_three_emails_per_link_validity(client, site, signup):
    def sign_up_after_the_resend_window():
        NewsletterSignup.objects.update(
            confirmation_requested_at=timezone.now() - newsletter.RESEND_WINDOW,
            confirmation_sent_at=timezone.now() - newsletter.RESEND_WINDOW,
        )
        cache.clear()
        return signup(ip=f"192.0.2.{len(mail.outbox) + 10}")

    signup()
    responses = [sign_up_after_the_resend_window() for _n in range(4)]

    assert newsletter.CONFIRM_MAX_SENDS == 3
    assert len(mail.outbox) == 3
    assert {(r.status_code, r["Location"]) for r in responses} == {(302, "/en/newsletter/thanks/")}

    # Once the window has passed, the address may ask again.
    NewsletterSignup.objects.update(
        confirmation_window_started_at=timezone.now() - newsletter.CONFIRM_MAX_AGE
    )
    sign_up_after_the_resend_window()
    assert len(mail.outbox) == 4


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "lea@mail.example\r\nBcc: victim@mail.example", "Enter a valid email address."),
        ("email", "lea@mail.example\nSubject: spam", "Enter a valid email address."),
        ("email", "x" * 5000 + "@mail.example", "Enter a valid email address."),
        ("email", "not-an-address", "Enter a valid email address."),
        ("email", "", "This field is required."),
        ("website", "http://spam.example", "must stay empty"),
        ("language", "xx", "Select a valid choice."),
        ("interests", ["skiing", "casino"], "Select a valid choice."),
        ("wording", "999999", "wording changed"),
    ],
)
def test_hostile_input_gets_a_field_error_and_stores_nothing(
    client, site, signup, field, value, message
):
    response = signup(**{field: value})

    assert response.status_code == 400
    assert message in response.text
    assert response.context["form"].errors.get(field)
    assert not NewsletterSignup.objects.exists()
    assert not Guest.objects.exists()
    assert mail.outbox == []


def test_a_wording_of_another_purpose_is_refused(client, site, signup):
    other = ConsentWording.objects.create(
        purpose=Purpose.PROFILING, version="v1", language="en", text="Profiling."
    )
    response = signup(wording=str(other.pk))
    assert response.status_code == 400
    assert not NewsletterSignup.objects.exists()


def test_a_huge_unexpected_field_is_refused(client, site, signup):
    response = client.post(SIGNUP_URL, {**_form(), "junk": "y" * 10_000})
    assert response.status_code == 400
    assert "far too long" in response.text
    assert not NewsletterSignup.objects.exists()


def test_one_address_may_sign_up_a_few_times_then_is_refused(client, site, signup):
    for n in range(newsletter.IP_LIMIT):
        assert signup(email=f"person{n}@mail.example").status_code == 302
    response = signup(email="one-too-many@mail.example")
    assert response.status_code == 429
    assert "Too many signups" in response.text
    assert not NewsletterSignup.objects.filter(email_normalized="one-too-many@mail.example")
    # Another connection is not affected.
    assert signup(ip="192.0.2.50", email="other@mail.example").status_code == 302


def test_behind_the_proxy_limits_and_proofs_use_the_visitors_address(client, site, on_commit):
    """Every request reaches the app from the TLS proxy's address; the visitor's is the one the
    proxy appended to X-Forwarded-For."""

    def post(visitor: str, email: str):
        with on_commit():
            return client.post(
                SIGNUP_URL,
                _form(email=email),
                REMOTE_ADDR="10.0.0.2",
                HTTP_X_FORWARDED_FOR=f"1.2.3.4, {visitor}",
            )

    with override_settings(TRUSTED_PROXY_COUNT=1):
        for n in range(newsletter.IP_LIMIT + 2):
            assert post(f"198.51.100.{n + 1}", f"person{n}@mail.example").status_code == 302
        # One visitor is still limited, whatever address it types in the header.
        for n in range(newsletter.IP_LIMIT):
            post("192.0.2.1", f"again{n}@mail.example")
        assert post("192.0.2.1", "one-too-many@mail.example").status_code == 429

        first = NewsletterSignup.objects.get(email_normalized="person0@mail.example")
        assert first.ip_address == "198.51.100.1"
        path = _confirm_path(mail.outbox[0])
        client.post(path, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.50")
    proof = ConsentProof.objects.get()
    assert proof.evidence["signup_ip"] == "198.51.100.1"
    assert proof.evidence["confirmed_ip"] == "203.0.113.50"


def test_expired_and_forged_links_do_nothing(client, site, signup):
    signup()
    request = NewsletterSignup.objects.get()
    path = _confirm_path(mail.outbox[0])

    forged = path.replace(path.split("/")[-2], path.split("/")[-2][:-3] + "abc")
    response = client.post(forged)
    assert response.status_code == 400
    assert "not valid" in response.text

    with pytest.raises(newsletter.NewsletterError) as error:
        signing_time = timezone.now() - newsletter.CONFIRM_MAX_AGE - dt.timedelta(minutes=1)
        old = signing.TimestampSigner(salt=newsletter.TOKEN_SALT)
        old.timestamp = lambda: signing.b62_encode(int(signing_time.timestamp()))
        token = old.sign_object({"s": request.pk, "e": request.email_normalized})
        newsletter.newsletter_signup_confirm(token=token)
    assert error.value.code == "expired"
    response = client.post(f"/en/newsletter/confirm/{token}/")
    assert response.status_code == 400
    assert "expired" in response.text
    assert not Guest.objects.exists()
    assert not ConsentEvent.objects.exists()


def test_a_signup_deleted_before_the_click_is_confirmed_gets_the_invalid_link_page(
    client, site, signup, monkeypatch
):
    """The clean-up or an erasure removes the signup between the token check and the lock."""
    signup()
    path = _confirm_path(mail.outbox[0])
    read = newsletter.newsletter_signup_from_token
    calls = []

    def read_then_lose_the_row(token):
        found = read(token)
        calls.append(token)
        if len(calls) == 2:  # the confirm step's own read, just before it locks the row
            NewsletterSignup.objects.filter(pk=found.pk).delete()
        return found

    monkeypatch.setattr(newsletter, "newsletter_signup_from_token", read_then_lose_the_row)
    response = client.post(path)

    assert response.status_code == 400
    assert "not valid or has already been used" in response.text
    assert not Guest.objects.exists()


def test_a_confirmation_refused_while_confirming_is_a_400_not_a_500(
    client, site, signup, monkeypatch
):
    signup()
    path = _confirm_path(mail.outbox[0])
    monkeypatch.setattr(
        newsletter, "guest_resolve", lambda *args, **kwargs: type("R", (), {"guest": None})()
    )

    response = client.post(path)

    assert response.status_code == 400
    assert "This link does not work" in response.text
    assert NewsletterSignup.objects.get().status == NewsletterSignup.Status.PENDING
    assert not ConsentEvent.objects.exists()


def test_the_email_takes_the_brand_colour_only_if_it_is_a_hex_code(site, on_commit):
    Destination.load()
    Destination.objects.update(primary_color="red;}")  # saved before the validator existed
    with pytest.raises(ValidationError) as error:
        Destination.objects.get().full_clean()
    assert "primary_color" in error.value.message_dict
    with on_commit():
        newsletter.newsletter_signup_request(
            email="sam@mail.example",
            language="en",
            interests=[],
            wording=newsletter.newsletter_wording("en"),
        )
    html = mail.outbox[0].alternatives[0][0]
    assert "red;}" not in html
    assert "#0b5cad" in html  # the default colour instead

    Destination.objects.update(primary_color="#aa3300")
    newsletter.newsletter_signup_request(
        email="sam@mail.example",
        language="en",
        interests=[],
        wording=newsletter.newsletter_wording("en"),
    )
    message = Message.objects.order_by("pk").last()
    rendering.cache_clear()
    assert "#aa3300" in message_render(message)[1].html


def test_the_confirmation_is_a_transactional_pipeline_message_without_a_guest(client, site, signup):
    """Sent by the pipeline, from the branded layout, with no guest (double opt-in: nothing in
    the CRM before the click); the click hands the message to the guest it resolves."""
    signup()
    message = Message.objects.get()
    assert message.source == Message.Source.SIGNUP
    assert message.kind == Message.Kind.TRANSACTIONAL
    assert message.status == Message.Status.SENT
    assert message.guest is None
    assert message.address == "Lea.Martin@Mail.example"
    assert message.template == "signup_confirmation"
    assert not TimelineEvent.objects.exists()
    (email,) = mail.outbox
    assert email.extra_headers["Message-ID"] == message.message_id
    assert "List-Unsubscribe" not in email.extra_headers  # transactional: no unsubscribe link
    assert "Confirm my subscription" in email.alternatives[0][0]

    client.post(_confirm_path(email))
    message.refresh_from_db()
    assert message.guest == Guest.objects.get()


def test_a_link_signed_before_the_move_still_confirms(client, site):
    """A pending row and a link mailed by content.newsletter before the move: same salt, same
    payload, same path."""
    wording = newsletter.newsletter_wording("en")
    pending = NewsletterSignup.objects.create(
        email="before@mail.example",
        email_normalized="before@mail.example",
        language="en",
        wording=wording,
        confirmation_requested_at=timezone.now(),
        confirmation_sent_at=timezone.now(),
    )
    token = signing.dumps(
        {"s": pending.pk, "e": "before@mail.example"}, salt="content.newsletter.confirm"
    )
    path = f"/en/newsletter/confirm/{token}/"
    assert client.get(path).status_code == 200
    assert client.post(path).status_code == 200
    pending.refresh_from_db()
    assert pending.status == NewsletterSignup.Status.CONFIRMED
    assert consent_is_granted(guest=pending.guest, purpose=Purpose.NEWSLETTER, channel="email")


def test_a_confirmation_task_queued_before_the_move_still_sends(site, on_commit):
    """A request whose task (content.tasks.newsletter_confirmation_send_task) was queued by the
    old code: the task of that name hands the email to the pipeline, once."""
    from newsletters.tasks import newsletter_confirmation_send_task

    pending = NewsletterSignup.objects.create(
        email="queued@mail.example",
        email_normalized="queued@mail.example",
        language="fr",
        wording=newsletter.newsletter_wording("fr"),
        confirmation_requested_at=timezone.now(),
    )
    assert (
        newsletter_confirmation_send_task.name == "content.tasks.newsletter_confirmation_send_task"
    )
    with on_commit():
        assert newsletter_confirmation_send_task.delay(signup_id=pending.pk).get() is True
    with on_commit():
        assert newsletter_confirmation_send_task.delay(signup_id=pending.pk).get() is False
    (email,) = mail.outbox
    assert "/fr/newsletter/confirm/" in email.body


def test_expired_signups_take_their_confirmation_emails_with_them(client, site, signup):
    signup()
    long_ago = timezone.now() - newsletter.CONFIRM_MAX_AGE * 2
    NewsletterSignup.objects.update(
        created_at=long_ago, confirmation_requested_at=long_ago, confirmation_sent_at=long_ago
    )
    assert Message.objects.count() == 1
    assert newsletter.newsletter_signups_expire() == 1
    assert not Message.objects.exists()


def test_the_confirmation_task_sends_once_per_request(site, on_commit):
    with on_commit():
        request, queued = newsletter.newsletter_signup_request(
            email="sam@mail.example",
            language="fr",
            interests=[],
            wording=newsletter.newsletter_wording("fr"),
        )
    assert queued
    assert len(mail.outbox) == 1  # eager Celery ran the task on commit
    assert not newsletter.newsletter_confirmation_send(signup_id=request.pk)
    assert len(mail.outbox) == 1
    # In the newsletter's language, with a French link.
    assert "Confirmez" in mail.outbox[0].subject
    assert "/fr/newsletter/confirm/" in mail.outbox[0].body


def test_unconfirmed_signups_are_deleted_when_their_link_expires(client, site, signup):
    signup(email="old@mail.example")
    signup(email="kept@mail.example")
    client.post(_confirm_path(mail.outbox[1]))
    long_ago = timezone.now() - newsletter.CONFIRM_MAX_AGE * 2
    NewsletterSignup.objects.update(
        created_at=long_ago, confirmation_requested_at=long_ago, confirmation_sent_at=long_ago
    )
    assert newsletter.newsletter_signups_expire() == 1
    assert list(NewsletterSignup.objects.values_list("email_normalized", flat=True)) == [
        "kept@mail.example"
    ]


def test_a_link_sent_again_keeps_its_signup_for_its_full_validity(client, site, signup):
    """Signed up on day 0, link sent again on day 2.9: that link works 3 days from day 2.9, so
    the clean-up must not delete its signup on day 3."""
    signup()
    day_zero = timezone.now() - dt.timedelta(days=2.9)
    NewsletterSignup.objects.update(
        created_at=day_zero, confirmation_requested_at=day_zero, confirmation_sent_at=day_zero
    )
    cache.clear()
    signup()  # the repeat sends a new link now
    assert len(mail.outbox) == 2

    in_a_few_hours = timezone.now() + dt.timedelta(hours=6)
    assert newsletter.newsletter_signups_expire(now=in_a_few_hours) == 0
    assert client.post(_confirm_path(mail.outbox[1])).status_code == 200
    assert NewsletterSignup.objects.get().status == NewsletterSignup.Status.CONFIRMED


def test_a_link_waiting_for_the_task_keeps_its_signup(site):
    long_ago = timezone.now() - newsletter.CONFIRM_MAX_AGE * 2
    newsletter.newsletter_signup_request(
        email="sam@mail.example",
        language="en",
        interests=[],
        wording=newsletter.newsletter_wording("en"),
    )
    NewsletterSignup.objects.update(created_at=long_ago, confirmation_sent_at=long_ago)
    assert newsletter.newsletter_signups_expire() == 0
    NewsletterSignup.objects.update(confirmation_requested_at=long_ago)
    assert newsletter.newsletter_signups_expire() == 1


def test_signups_are_in_the_gdpr_export_and_erased_with_the_guest(client, site, signup):
    signup()
    client.post(_confirm_path(mail.outbox[0]))
    guest = Guest.objects.get()
    exported = guest_exporters()["newsletter_signups"](guest)
    assert exported[0]["email"] == "Lea.Martin@Mail.example"
    for eraser in guest_erasers():
        eraser([guest.pk])
    assert not NewsletterSignup.objects.exists()


def test_the_signup_block_and_the_footer_form_on_a_story(client, site, signup):
    story = publish(
        site.story_index,
        StoryPage(
            title="Signup story",
            slug="signup-story",
            theme="family",
            date=timezone.localdate(),
            body=[{"type": "newsletter_signup", "value": {"title": "Stay in touch", "text": "Hi"}}],
        ),
    )
    html = client.get(story.url).text
    assert "Stay in touch" in html
    assert html.count('action="/en/newsletter/"') == 2  # the block and the footer
    assert f'name="page" value="{story.pk}"' in html
    assert 'id="nl-block-1-email"' in html and 'id="nl-footer-1-email"' in html
    wording = newsletter.newsletter_wording("en")
    assert f'name="wording" value="{wording.pk}"' in html
    assert wording.text in html


def test_the_signup_page_shows_the_form_in_french(client, site, signup):
    response = client.get("/fr/newsletter/")
    assert response.status_code == 200
    assert escape(newsletter.newsletter_wording("fr").text) in response.text
    assert "Je souhaite recevoir" in response.text
