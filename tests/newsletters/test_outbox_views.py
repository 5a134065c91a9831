"""The demo's outbox pages: the operator reads the emails the product sent (console, file or
in-memory backend), with their links; nobody else does, and with a real backend there is no
such page."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from newsletters.models import Message
from tests.factories import (
    MembershipFactory,
    PartnerFactory,
    UserFactory,
    book,
    offer_make,
    person,
    session_make,
)
from tests.queries import assert_num_queries

pytestmark = pytest.mark.django_db

LIST = "/outbox/"


@pytest.fixture
def sent(settings, django_capture_on_commit_callbacks) -> list[Message]:
    """Three booking confirmations, sent through the in-memory backend of the tests."""
    settings.STRIPE_SECRET_KEY = ""
    session = session_make(offer_make(PartnerFactory(name="École de Ski Test")), capacity=20)
    with django_capture_on_commit_callbacks(execute=True):
        for n in (1, 2, 3):
            book(session, language="en", booker=person(n, language="en"))
    messages = list(Message.objects.order_by("pk"))
    assert len(messages) == 3 and {m.status for m in messages} == {Message.Status.SENT}
    return messages


def operator_client() -> Client:
    client = Client()
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    return client


def test_the_url_is_the_one_the_readme_gives():
    assert reverse("outbox:list") == LIST


def test_anonymous_visitors_are_sent_to_sign_in(client: Client, sent):
    response = client.get(LIST)
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]
    assert client.get(reverse("outbox:detail", args=[sent[0].pk])).status_code == 302


def test_partner_staff_may_not_read_the_outbox(client: Client, sent):
    client.force_login(MembershipFactory(partner=PartnerFactory()).user)
    assert client.get(LIST).status_code == 403
    assert client.get(reverse("outbox:detail", args=[sent[0].pk])).status_code == 403
    assert client.get(reverse("outbox:html", args=[sent[0].pk])).status_code == 403


def test_staff_given_the_permission_may(client: Client, sent):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="newsletters", codename="view_message")
    )
    client.force_login(user)
    assert client.get(LIST).status_code == 200


def test_the_list_shows_each_email_in_a_fixed_number_of_queries(sent):
    client = operator_client()
    client.get(LIST)  # warm the session and the brand caches
    with assert_num_queries(5):  # session, user, count, the brand (header), the page
        response = client.get(LIST)
    html = response.content.decode()
    for message in sent:
        assert message.address in html
        assert message.subject in html
        assert reverse("outbox:detail", args=[message.pk]) in html
    assert html.count("Sent</td>") == 3
    assert "<main" in html


def test_an_email_shows_its_body_with_the_links_it_was_sent_with(sent):
    client = operator_client()
    message = sent[0]
    page = client.get(reverse("outbox:detail", args=[message.pk])).content.decode()
    assert message.subject in page
    assert reverse("outbox:html", args=[message.pk]) in page
    manage_url = message.context["manage_url"]
    assert f'href="{manage_url}"' in page  # the text version, its links clickable
    body = client.get(reverse("outbox:html", args=[message.pk]))
    assert body.status_code == 200
    assert body["X-Frame-Options"] == "SAMEORIGIN"
    assert manage_url in body.content.decode() and "<table" in body.content.decode()


@pytest.mark.parametrize(
    "backend",
    ["django.core.mail.backends.smtp.EmailBackend", "anymail.backends.postmark.EmailBackend"],
)
def test_there_is_no_outbox_when_mail_really_leaves(settings, sent, backend):
    client = operator_client()
    settings.EMAIL_BACKEND = backend
    assert client.get(LIST).status_code == 404
    assert client.get(reverse("outbox:detail", args=[sent[0].pk])).status_code == 404
    assert Client().get(LIST).status_code == 404  # not even a sign-in page
    # Guest email through a provider while system mail stays local: guests' mail is real too.
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    settings.NEWSLETTER_EMAIL_BACKEND = backend
    assert client.get(LIST).status_code == 404
