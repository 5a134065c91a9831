"""French ships with English: every catalogue is complete, compiled, and used at runtime."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from destination.forms import GuestForm
from destination.models import Guest, Purpose
from partners.models import Partner
from tests.factories import PartnerFactory

PROJECT_PO = Path(settings.BASE_DIR) / "locale" / "fr" / "LC_MESSAGES" / "django.po"
CONTENT_PO = Path(settings.BASE_DIR) / "content" / "locale" / "fr" / "LC_MESSAGES" / "django.po"
# Each app with strings of its own keeps its catalogue in <app>/locale; all of them are checked.
CATALOGUES = [pytest.param(PROJECT_PO, id="project")] + [
    pytest.param(path, id=path.parts[-5])
    for path in sorted(Path(settings.BASE_DIR).glob("*/locale/fr/LC_MESSAGES/django.po"))
]

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr\[\d+\]|msgstr)\s+(".*")$')
_PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdifr]|%[sdif]|\{\w*\}")


def _unquote(text: str) -> str:
    assert text.startswith('"') and text.endswith('"'), text
    return re.sub(r"\\(.)", lambda m: _ESCAPES[m.group(1)], text[1:-1])


def parse_po(path: Path) -> list[dict]:
    """The live entries of a .po file (obsolete ``#~`` entries left out), header included.

    Each entry holds its ``flags`` and its fields: msgctxt, msgid, msgid_plural, msgstr or
    msgstr[n]."""
    entries = []
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8").strip()):
        lines = block.splitlines()
        if not lines or all(line.startswith("#~") or not line.strip() for line in lines):
            continue
        entry: dict = {"flags": set(), "fields": {}}
        current = None
        for line in lines:
            if line.startswith("#,"):
                entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
            elif line.startswith("#"):
                continue
            elif match := _KEYWORD.match(line):
                current = match.group(1)
                entry["fields"][current] = _unquote(match.group(2))
            else:
                assert current and line.startswith('"'), f"{path}: cannot read {line!r}"
                entry["fields"][current] += _unquote(line)
        if entry["fields"]:
            entries.append(entry)
    return entries


def _messages(path: Path) -> list[dict]:
    return [e for e in parse_po(path) if e["fields"].get("msgid")]


def _translations(entry: dict) -> list[str]:
    fields = entry["fields"]
    return [value for key, value in fields.items() if key.startswith("msgstr")]


@pytest.mark.parametrize("path", CATALOGUES)
def test_french_catalogue_is_complete(path):
    messages = _messages(path)
    assert messages
    fuzzy = [e["fields"]["msgid"] for e in messages if "fuzzy" in e["flags"]]
    assert fuzzy == [], f"fuzzy entries in {path}"
    untranslated = [
        e["fields"]["msgid"]
        for e in messages
        if not all(text.strip() for text in _translations(e))
        or ("msgid_plural" in e["fields"] and len(_translations(e)) != 2)
    ]
    assert untranslated == [], f"untranslated entries in {path}"


@pytest.mark.parametrize("path", CATALOGUES)
def test_french_catalogue_header_is_final(path):
    entries = parse_po(path)
    assert entries and entries[0]["fields"]["msgid"] == "", "the header comes first"
    assert "Language: fr\n" in entries[0]["fields"]["msgstr"]
    assert "Plural-Forms: nplurals=2; plural=(n > 1);\n" in entries[0]["fields"]["msgstr"]
    assert "fuzzy" not in entries[0]["flags"]
    assert "#, fuzzy" not in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", CATALOGUES)
def test_french_translations_keep_every_placeholder(path):
    wrong = []
    for entry in _messages(path):
        fields = entry["fields"]
        allowed = [
            sorted(_PLACEHOLDER.findall(fields[key]))
            for key in ("msgid", "msgid_plural")
            if key in fields
        ]
        wrong += [
            (fields["msgid"], text)
            for text in _translations(entry)
            if sorted(_PLACEHOLDER.findall(text)) not in allowed
        ]
        tags = sorted(re.findall(r"</?\w+", fields["msgid"]))
        if any(sorted(re.findall(r"</?\w+", text)) != tags for text in _translations(entry)):
            wrong.append((fields["msgid"], "HTML tags differ"))
    assert wrong == []


@pytest.mark.parametrize("path", CATALOGUES)
def test_committed_mo_matches_the_po(path):
    """The .mo files are committed (no build step): each must be compiled from its .po."""
    with path.with_suffix(".mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for entry in _messages(path):
        fields = entry["fields"]
        context = fields.get("msgctxt")
        if "msgid_plural" in fields:
            got = [
                compiled.npgettext(context, fields["msgid"], fields["msgid_plural"], n)
                if context
                else compiled.ngettext(fields["msgid"], fields["msgid_plural"], n)
                for n in (1, 2)
            ]
            wanted = [fields["msgstr[0]"], fields["msgstr[1]"]]
        else:
            got = [
                compiled.pgettext(context, fields["msgid"])
                if context
                else compiled.gettext(fields["msgid"])
            ]
            wanted = [fields["msgstr"]]
        if got != wanted:
            stale.append(fields["msgid"])
    assert stale == [], f"recompile {path.with_suffix('.mo')}: compilemessages -l fr"


def test_our_catalogue_never_overrides_an_installed_apps_wording():
    """LOCALE_PATHS win over every app's catalogue: a short msgid of ours without a context
    ("Profile", "Note", "Import") would silently rename things in Wagtail's or allauth's French
    screens. Such words take a pgettext context in our code instead."""
    import django

    site_packages = Path(django.__file__).parent.parent
    theirs: dict[tuple[str, str], set[str]] = {}
    for po in site_packages.glob("*/**/locale/fr/LC_MESSAGES/django.po"):
        for entry in _messages(po):
            fields = entry["fields"]
            key = (fields.get("msgctxt", ""), fields["msgid"])
            values = [v for v in _translations(entry) if v]
            if values and "fuzzy" not in entry["flags"]:
                theirs.setdefault(key, set()).add(values[0])
    assert len(theirs) > 1000, "the installed apps' French catalogues were not found"
    overrides = []
    for entry in _messages(PROJECT_PO):
        fields = entry["fields"]
        key = (fields.get("msgctxt", ""), fields["msgid"])
        if key in theirs and _translations(entry)[0] not in theirs[key]:
            overrides.append((key[1], _translations(entry)[0], sorted(theirs[key])))
    assert overrides == []


def test_the_catalogues_agree_on_shared_strings():
    """The project catalogue wins over the content one at runtime: a msgid in both must not
    read differently on a content page."""

    def by_msgid(path: Path) -> dict:
        return {
            (e["fields"].get("msgctxt"), e["fields"]["msgid"]): _translations(e)
            for e in _messages(path)
        }

    project, content = by_msgid(PROJECT_PO), by_msgid(CONTENT_PO)
    differ = {key: (project[key], content[key]) for key in project.keys() & content.keys()}
    assert {key: pair for key, pair in differ.items() if pair[0] != pair[1]} == {}


def test_core_strings_come_out_in_french():
    with translation.override("fr"):
        assert str(Guest.Status.ERASED.label) == "Effacé"
        assert str(Guest.Status.MERGED.label) == "Fusionné dans un autre client"
        assert str(Partner.Kind.SKI_SCHOOL.label) == "École de ski"
        assert str(Partner.Kind.TOURIST_OFFICE.label) == "Office de tourisme"
        assert str(Partner.Kind.BOOKING_DESK.label) == "Centrale de réservation"
        assert str(Purpose.NEWSLETTER.label) == "Lettre d'information de la destination"
        assert str(Guest._meta.verbose_name) == "client"
    with translation.override("en"):
        assert str(Partner.Kind.SKI_SCHOOL.label) == "Ski school"
        assert str(Guest.Status.ERASED.label) == "Erased"


def test_guest_form_errors_are_in_french():
    data = {"first_name": "Zoë", "last_name": "Martin", "email": "pas-un-email", "country": "FR"}
    with translation.override("fr"):
        form = GuestForm(data=data)
        assert not form.is_valid()
        assert form.errors["email"] == ["« pas-un-email » n'est pas une adresse e-mail valide."]
        assert form.fields["birth_date"].label == "Date de naissance"

        form = GuestForm(data={"email": "zoe@example.com", "birth_date": "2999-01-01"})
        assert not form.is_valid()
        assert form.errors["last_name"] == ["Saisissez un prénom ou un nom."]
        assert form.errors["birth_date"] == [
            "Une date de naissance ne peut pas être dans le futur."
        ]
    with translation.override("en"):
        assert not GuestForm(data=data).is_valid()
        assert GuestForm(data=data).errors["email"] == [
            "“pas-un-email” is not a valid email address."
        ]


@pytest.mark.django_db
def test_staff_login_page_speaks_french(client):
    response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "fr"
    assert "Connexion" in response.text
    assert "Mot de passe" in response.text

    english = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert english.headers["Content-Language"] == "en"
    assert "Sign In" in english.text


@pytest.mark.django_db
def test_language_cookie_picks_french_on_the_login_page(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Connexion" in response.text


@pytest.mark.django_db
def test_french_partner_directory_names_partner_kinds_in_french(client):
    from tests.content.helpers import build_site

    build_site()
    PartnerFactory(name="Alpine School", kind=Partner.Kind.SKI_SCHOOL)

    response = client.get("/fr/partenaires/")

    assert response.status_code == 200
    assert "École de ski" in response.text
    assert "Ski school" not in response.text


@pytest.mark.django_db
def test_the_readable_gdpr_export_speaks_french(client):
    from django.urls import reverse

    from tests.factories import GuestEmailFactory, UserFactory

    guest = GuestEmailFactory(email="lea.martin@mail.example").guest
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.get(
        reverse("gdpr:guest-export", args=[guest.pk]),
        {"reason": "DAP-2026-3"},
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Prénom" in page and "Adresses e-mail" in page
    assert "First name" not in page and "Is primary" not in page
