"""Correcting a guest's identity never changes a field the staff member did not touch: the
language of a Spanish, German, Italian or Dutch guest survives a typo fix in the name (issue 13),
and so does a value another desk changed meanwhile."""

import datetime as dt
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import translation

from destination.models import AuditEntry
from tests.factories import GuestFactory, PartnerGuestLinkFactory, TagFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


class FormValues(HTMLParser):
    """What a browser submits for a rendered form, untouched: each input's value (checked boxes
    only), each select's selected option (its first when none is)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list[tuple[str, str]] = []
        self._select: str | None = None
        self._first: str | None = None
        self._chosen: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "input" and a.get("name") and a.get("type") != "submit":
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.values.append((a["name"], a.get("value") or ""))
        elif tag == "select":
            self._select, self._first, self._chosen = a["name"], None, None
        elif tag == "option" and self._select is not None:
            if self._first is None:
                self._first = a.get("value", "")
            if "selected" in a:
                self._chosen = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None:
            self.values.append((self._select, self._chosen or self._first or ""))
            self._select = None

    @classmethod
    def of(cls, html: str) -> dict[str, list[str]]:
        parser = cls()
        parser.feed(html)
        data: dict[str, list[str]] = {}
        for name, value in parser.values:
            data.setdefault(name, []).append(value)
        return data


@pytest.fixture
def spanish(school):
    guest = GuestFactory(
        first_name="Lucía",
        last_name="Garcai",
        country="ES",
        language="es",
        birth_date=dt.date(1988, 4, 2),
    )
    guest.tags.add(TagFactory(slug="spa", name="Spa", category="interest"))
    PartnerGuestLinkFactory(partner=school, guest=guest)
    return guest


@pytest.mark.parametrize("language", ["es", "de", "it", "nl", "pt-br"])
def test_a_typo_fix_keeps_the_guests_language(client, agent, spanish, language):
    spanish.language = language
    spanish.save(update_fields=["language"])
    client.force_login(agent)
    url = reverse("portal:identity", args=[spanish.pk])
    html = client.get(url, **HTMX).content.decode()
    data = FormValues.of(html)
    assert data["language"] == [language]  # offered, and shown as the guest's
    data["last_name"] = ["Garcia"]

    response = client.post(url, data, **HTMX)

    assert response["HX-Refresh"] == "true"
    spanish.refresh_from_db()
    assert (spanish.last_name, spanish.language) == ("Garcia", language)
    assert spanish.birth_date == dt.date(1988, 4, 2)
    assert list(spanish.tags.values_list("slug", flat=True)) == ["spa"]
    change = AuditEntry.objects.get(guest=spanish, action="change", actor=agent)
    assert set(change.details["changes"]) == {"last_name"}  # and nothing else was written


def test_a_field_left_alone_is_not_written_even_when_it_changed_meanwhile(client, agent, spanish):
    client.force_login(agent)
    url = reverse("portal:identity", args=[spanish.pk])
    data = FormValues.of(client.get(url, **HTMX).content.decode())
    # Another desk corrects the language while this form is open.
    spanish.language = "ca"
    spanish.save(update_fields=["language"])
    data["first_name"] = ["Lucia"]

    client.post(url, data, **HTMX)

    spanish.refresh_from_db()
    assert (spanish.first_name, spanish.language) == ("Lucia", "ca")


def test_saving_an_untouched_form_writes_nothing(client, agent, spanish):
    client.force_login(agent)
    url = reverse("portal:identity", args=[spanish.pk])
    data = FormValues.of(client.get(url, **HTMX).content.decode())
    client.post(url, data, **HTMX)
    assert not AuditEntry.objects.filter(guest=spanish, action="change").exists()
    page = client.get(reverse("portal:guest", args=[spanish.pk])).content.decode()
    assert "Nothing was changed." in page


def test_the_french_form_keeps_the_birth_date(client, agent, spanish):
    """The date input needs ISO whatever the language; "02/04/1988" would show as empty."""
    agent.language = "fr"
    agent.save(update_fields=["language"])
    client.force_login(agent)
    with translation.override("fr"):
        url = reverse("portal:identity", args=[spanish.pk])
    html = client.get(url, **HTMX).content.decode()
    assert 'value="1988-04-02"' in html
    data = FormValues.of(html)
    assert data["birth_date"] == ["1988-04-02"]
    data["last_name"] = ["Garcia"]
    client.post(url, data, **HTMX)
    spanish.refresh_from_db()
    assert spanish.birth_date == dt.date(1988, 4, 2) and spanish.language == "es"


def test_every_language_django_knows_is_offered_main_markets_first():
    from destination.languages import guest_language_choices

    choices = guest_language_choices()
    main, others = choices[1][1], choices[2][1]
    assert [code for code, _label in main] == ["en", "fr", "de", "es", "it", "nl"]
    codes = {code for code, _label in others}
    assert {"pt", "pl", "sv", "ja"} <= codes and not codes & {"en", "fr", "de"}
    # A stored code Django does not know stays a choice (saving never blanks it).
    assert ("xx", "XX") in guest_language_choices("xx")
