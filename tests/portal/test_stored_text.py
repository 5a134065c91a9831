"""Stored timeline titles and interest names in the reader's language (issue 13): the stored
text is the default language's; the portal renders the known ones again."""

import pytest
from django.utils import translation

from portal.stored_text import tag_name, timeline_title

FRENCH = [
    (
        "booking",
        "Booking confirmed VN-AB12: Group lesson, Dec. 8, 2026",
        "Réservation confirmée VN-AB12 : Group lesson, 8 décembre 2026",
    ),
    (
        "message",
        "Confirmation email sent for VN-AB12: Private lesson, March 3, 2027",
        "E-mail de confirmation envoyé pour VN-AB12 : Private lesson, 3 mars 2027",
    ),
    ("merge", "Guest #12 merged into this profile", "Client n° 12 fusionné dans ce profil"),
    ("merge", "Merge with guest #12 undone", "Fusion avec le client n° 12 annulée"),
    (
        "consent",
        "Consent given: Destination newsletter (Email)",
        "Consentement donné : Lettre d'information de la destination (E-mail)",
    ),
    (
        "consent",
        "Consent withdrawn: Offers from a partner — ESF, Alpine Rentals (Email, SMS)",
        "Consentement retiré : Offres d'un partenaire — ESF, Alpine Rentals (E-mail, SMS)",
    ),
    ("signup", "Signed up to the newsletter", "Inscription à la lettre d'information"),
]


@pytest.mark.parametrize(("kind", "stored", "french"), FRENCH)
def test_known_titles_read_in_french(kind, stored, french):
    with translation.override("fr"):
        assert timeline_title(title=stored, kind=kind, data={}) == french
    with translation.override("en"):
        assert timeline_title(title=stored, kind=kind, data={}) == stored


@pytest.mark.parametrize(
    "stored",
    [
        "Newsletter “First snow” opened",  # a subject: shown as written
        "Booking confirmed VN-AB12: Group lesson",  # altered: no date
        "Consent given: Something unknown",
    ],
)
def test_unknown_titles_are_shown_as_stored(stored):
    with translation.override("fr"):
        assert timeline_title(title=stored, kind="booking", data={}) == stored


def test_an_interaction_reads_as_its_kind():
    with translation.override("fr"):
        title = timeline_title(title="Request — ESF", kind="interaction", data={"kind": "request"})
    assert title == "Demande"


def test_known_interest_names_read_in_french():
    with translation.override("fr"):
        assert (tag_name("Alpine skiing"), tag_name("Family")) == ("Ski alpin", "Famille")
        assert tag_name("Paragliding") == "Paragliding"  # not in the catalogue yet
