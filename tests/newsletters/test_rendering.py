"""MJML compiled once per (email, language, kind, brand), personalised per recipient, escaped."""

from __future__ import annotations

import re

import pytest

from destination.models import Destination
from newsletters import rendering
from newsletters.rendering import RenderError, email_compile, html_lint, mjml_to_html

pytestmark = pytest.mark.django_db

VALUES = {
    "first_name": "Anne",
    "title": "Winter",
    "body": "Snow!",
    "url": "https://x.example/a?b=1&c=2",
    "preferences_url": "https://u.example/p",
}


@pytest.fixture(autouse=True)
def _fresh_cache():
    rendering.cache_clear()
    yield
    rendering.cache_clear()


def test_the_compiled_email_has_no_mjml_inlined_css_and_a_phone_layout():
    compiled = email_compile(name="test", language="en", kind="transactional")
    out = compiled.personalise({"first_name": "Anne"})
    assert "<mj-" not in out.html
    assert html_lint(out.html) == []
    assert re.search(r'<div style="[^"]*font-size:24px[^"]*">A test email', out.html)
    # A fluid column (mj-column) and a viewport: readable at 375 px.
    assert 'name="viewport"' in out.html
    assert "mj-column-per-100" in out.html
    assert "max-width:600px" in out.html
    assert "fonts.googleapis.com" not in out.html
    assert out.subject == "A test email from Live United"
    assert "Hello Anne," in out.text
    assert "<" not in out.text


def test_each_language_is_compiled_in_its_language():
    fr = email_compile(name="test", language="fr", kind="transactional").personalise(
        {"first_name": "Anne"}
    )
    assert fr.subject == "Un email de test de Live United"
    assert "Bonjour Anne" in fr.html
    assert "Bonjour Anne" in fr.text


def test_recipient_values_are_escaped_in_html_and_plain_in_text():
    compiled = email_compile(name="announcement", language="en", kind="marketing")
    out = compiled.personalise(
        {**VALUES, "first_name": '<script>x</script>"', "unsubscribe_url": "https://u.example/t"}
    )
    assert "<script>" not in out.html
    assert "&lt;script&gt;x&lt;/script&gt;&quot;" in out.html
    assert 'href="https://x.example/a?b=1&amp;c=2"' in out.html
    assert '<script>x</script>"' in out.text
    assert "https://x.example/a?b=1&c=2" in out.text


def test_a_subject_value_cannot_add_a_header_line():
    compiled = email_compile(name="announcement", language="en", kind="marketing")
    out = compiled.personalise({**VALUES, "title": "Hi\r\nBcc: x@y", "unsubscribe_url": "u"})
    assert out.subject == "Hi Bcc: x@y"


def test_marketing_has_a_visible_unsubscribe_link_and_transactional_none():
    marketing = email_compile(name="announcement", language="en", kind="marketing")
    assert "unsubscribe_url" in marketing.placeholders
    out = marketing.personalise({**VALUES, "unsubscribe_url": "https://u.example/t"})
    # mj-style inline: the link rule is on the element, not left in a <style> block.
    styles = "".join(re.findall(r"<style[^>]*>(.*?)</style>", out.html, re.S))
    assert "email-links" not in styles
    assert re.search(
        r'<a href="https://u.example/t" style="[^"]*text-decoration: underline', out.html
    )
    assert "Unsubscribe: https://u.example/t" in out.text
    # Beside it, the preference centre (newsletters.preference_views), in both parts.
    assert re.search(r'<a href="https://u.example/p" style="[^"]*underline', out.html)
    assert "Manage my preferences: https://u.example/p" in out.text
    transactional = email_compile(name="test", language="en", kind="transactional")
    assert "unsubscribe_url" not in transactional.placeholders
    assert "preferences_url" not in transactional.placeholders


def test_a_missing_value_fails_closed():
    compiled = email_compile(name="announcement", language="en", kind="marketing")
    with pytest.raises(RenderError, match="unsubscribe_url"):
        compiled.personalise(VALUES)


def test_compiled_once_then_recompiled_when_the_brand_changes(django_assert_max_num_queries):
    first = email_compile(name="test", language="en", kind="transactional")
    assert email_compile(name="test", language="en", kind="transactional") is first
    brand = Destination.load()
    brand.primary_color = "#123456"
    brand.save()
    restyled = email_compile(name="test", language="en", kind="transactional")
    assert restyled is not first
    assert "#123456" in restyled.personalise({"first_name": "A"}).html
    assert "#123456" not in first.personalise({"first_name": "A"}).html


def test_unknown_tags_and_panics_become_render_errors():
    with pytest.raises(RenderError, match="<mj-foo"):
        mjml_to_html("<mjml><mj-body><mj-foo>x</mj-foo></mj-body></mjml>")
    with pytest.raises(RenderError):
        mjml_to_html("<mjml><mj-bod")
    # A head-level html include makes mrml panic (PanicException is a BaseException).
    with pytest.raises(RenderError):
        mjml_to_html('<mjml><mj-head><mj-include path="x" type="html"/></mj-head></mjml>')


def test_includes_never_read_files():
    with pytest.raises(RenderError):
        mjml_to_html('<mjml><mj-body><mj-include path="/etc/passwd" type="html"/></mj-body></mjml>')
