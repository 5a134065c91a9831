"""The stack is wired in: allauth email login (with MFA available), the Wagtail admin, Celery."""

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal import auth as totp_auth
from django.conf import settings
from django.urls import reverse

from destination.celery import app as celery_app
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_user():
    user = UserFactory(email="desk@school.example")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def test_staff_signs_in_with_email(client, staff_user):
    response = client.post(
        reverse("account_login"),
        {"login": "Desk@School.example", "password": "correct horse battery"},
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(staff_user.pk)


def test_wrong_password_gives_a_form_error(client, staff_user):
    response = client.post(
        reverse("account_login"), {"login": staff_user.email, "password": "nope"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors
    assert "_auth_user_id" not in client.session


def test_login_attempts_are_rate_limited(client, staff_user):
    for _ in range(5):
        client.post(reverse("account_login"), {"login": staff_user.email, "password": "nope"})
    response = client.post(
        reverse("account_login"),
        {"login": staff_user.email, "password": "correct horse battery"},
    )
    assert "_auth_user_id" not in client.session
    assert response.status_code in (200, 429)


def test_public_signup_is_closed(client):
    response = client.get(reverse("account_signup"))
    assert b"closed" in response.content.lower() or response.status_code == 302


def test_staff_can_turn_on_totp_and_is_then_asked_for_a_code(client, staff_user):
    login = {"login": staff_user.email, "password": "correct horse battery"}
    client.post(reverse("account_login"), login)
    # Turning on a second factor asks for the password again first.
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    client.post(reverse("account_reauthenticate"), {"password": "correct horse battery"})
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 200
    secret = client.session[totp_auth.SECRET_SESSION_KEY]
    counter = next(totp_auth.yield_hotp_counters_from_time())
    code = totp_auth.format_hotp_value(totp_auth.hotp_value(secret, counter))
    response = client.post(reverse("mfa_activate_totp"), {"code": code})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=staff_user, type=Authenticator.Type.TOTP).exists()

    client.logout()
    response = client.post(reverse("account_login"), login)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session


def test_wagtail_admin_is_reachable(client):
    assert client.get("/cms/").status_code == 302
    admin = UserFactory(email="admin@destination.example", is_staff=True, is_superuser=True)
    client.force_login(admin)
    assert client.get("/cms/").status_code == 200


def test_celery_app_reads_django_settings():
    assert celery_app.conf.broker_url == settings.CELERY_BROKER_URL
    assert celery_app.conf.task_serializer == "json"
    assert "destination.tasks.guest_retention_sweep_task" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }


def test_the_deploy_check_wants_a_shared_cache_for_rate_limits(settings):
    from django.core.checks import Tags, run_checks

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    ids = {m.id for m in run_checks(tags=[Tags.security], include_deployment_checks=True)}
    assert "destination.W001" in ids
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/1",
        }
    }
    ids = {m.id for m in run_checks(tags=[Tags.security], include_deployment_checks=True)}
    assert "destination.W001" not in ids


def test_account_pages_speak_the_language_saved_on_the_account(client, staff_user):
    staff_user.language = "fr"
    staff_user.save(update_fields=["language"])
    client.force_login(staff_user)
    page = client.get("/accounts/password/change/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'lang="fr"' in html and "Modifier le mot de passe" in html, html[:400]
    client.logout()
    anonymous = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert 'lang="en"' in anonymous.content.decode()  # the browser's language, as before


def test_no_test_imports_from_a_conftest():
    """Test data lives in tests/factories.py and helpers modules; conftests hold fixtures only
    (a conftest imported as a module runs twice under pytest and hides where data comes from)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent
    pattern = re.compile(
        r"^\s*from tests\.[\w.]*conftest import|^\s*import tests\.[\w.]*conftest", re.M
    )
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
