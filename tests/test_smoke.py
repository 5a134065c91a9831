import pytest
from django.core.management import call_command

from destination.normalize import fold, normalize_email, normalize_phone

pytestmark = pytest.mark.django_db


def test_health(client):
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_no_missing_migrations():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_fold_and_normalise():
    assert fold("  Zoë O'Brien-Duval ") == "zoe o brien duval"
    assert normalize_email(" Jean.Martin@Gmail.COM ") == "jean.martin@gmail.com"
    assert normalize_phone("06 12 34 56 78", "FR") == "+33612345678"
    assert normalize_phone("+33 6 12 34 56 78") == "+33612345678"
    assert normalize_phone("0033612345678") == "+33612345678"
