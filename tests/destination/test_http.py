"""The client IP behind our proxies: never an address the client chose."""

from __future__ import annotations

import pytest
from allauth.core.internal.httpkit import get_client_ip as allauth_client_ip
from django.test import RequestFactory, override_settings

from destination.http import client_ip

PROXY = "10.0.0.2"


def _request(forwarded: str | None = None, remote: str = PROXY):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@override_settings(TRUSTED_PROXY_COUNT=0)
def test_without_a_trusted_proxy_the_header_is_ignored():
    assert client_ip(_request("198.51.100.9")) == PROXY


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_one_proxy_gives_the_address_it_appended_not_the_ones_the_client_typed():
    assert client_ip(_request("198.51.100.9")) == "198.51.100.9"
    # The client sent "X-Forwarded-For: 1.2.3.4"; our proxy appended the real address.
    assert client_ip(_request("1.2.3.4, 198.51.100.9")) == "198.51.100.9"


@override_settings(TRUSTED_PROXY_COUNT=2)
def test_two_proxies_give_the_second_address_from_the_right():
    assert client_ip(_request("1.2.3.4, 198.51.100.9, 10.0.0.1")) == "198.51.100.9"


@pytest.mark.parametrize("forwarded", [None, "", "not-an-ip"])
@override_settings(TRUSTED_PROXY_COUNT=1)
def test_a_missing_or_broken_header_falls_back_to_remote_addr(forwarded):
    assert client_ip(_request(forwarded)) == PROXY


@override_settings(TRUSTED_PROXY_COUNT=2)
def test_fewer_entries_than_proxies_falls_back_to_remote_addr():
    assert client_ip(_request("198.51.100.9")) == PROXY


def test_allauth_counts_sign_in_attempts_under_the_same_address(settings):
    assert settings.ALLAUTH_TRUSTED_PROXY_COUNT == settings.TRUSTED_PROXY_COUNT
    with override_settings(TRUSTED_PROXY_COUNT=1, ALLAUTH_TRUSTED_PROXY_COUNT=1):
        request = _request("1.2.3.4, 198.51.100.9")
        assert allauth_client_ip(request) == client_ip(request) == "198.51.100.9"
