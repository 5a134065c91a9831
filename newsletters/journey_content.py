"""Journey emails rendered through the pipeline's rendering (``newsletters.rendering``).

A journey step's subject and MJML body (per language) live in the database, edited in the
admin. The pipeline renders an email by template name (``newsletters/email/<name>.mjml``,
``.txt``, ``.subject.txt``), so this module is a Django template loader that serves the names
``newsletters/email/journey/<step id>/<content hash>.*`` from the step:

- the ``.mjml`` extends the one branded layout (``base.mjml``) with the body of the language
  being compiled; ``.txt`` is the body without its tags (on ``base.txt``); ``.subject.txt``
  the subject. The hash is in the name, so the pipeline's compile cache (and Django's cached
  loader) recompile when an editor changes the step: compiled once per step version and
  language, then personalised per recipient through ``[[ name ]]`` placeholders.
- editor text is never Django template code: every ``{%``, ``{{``, ``{#`` (and their closers)
  is written out as a ``templatetag``, so a body can neither run a tag nor read a variable.
- mrml compiles without any include loader (the pipeline's ``mjml_to_html``).

The loader is listed in TEMPLATES' loaders (destination/settings/base.py).
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from django.template import Origin, TemplateDoesNotExist
from django.template.loaders.base import Loader as BaseLoader
from django.utils.html import strip_tags

from newsletters.rendering import PLACEHOLDER

if TYPE_CHECKING:
    from newsletters.models import JourneyStep

PREFIX = "newsletters/email/journey/"
NAME = re.compile(r"^newsletters/email/journey/(\d+)/([0-9a-f]{12})\.(mjml|txt|subject\.txt)$")

_TAGS = {
    "{%": "{% templatetag openblock %}",
    "%}": "{% templatetag closeblock %}",
    "{{": "{% templatetag openvariable %}",
    "}}": "{% templatetag closevariable %}",
    "{#": "{% templatetag opencomment %}",
    "#}": "{% templatetag closecomment %}",
}
_TAG = re.compile(r"\{[%{#]|[%}#]\}")


def placeholders_of(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def literal(text: str) -> str:
    """Editor text as a Django template that renders to exactly that text."""
    return _TAG.sub(lambda m: _TAGS[m.group(0)], text)


def step_content_hash(step: JourneyStep) -> str:
    source = "\x00".join([step.subject_fr, step.subject_en, step.body_fr, step.body_en])
    return hashlib.sha256(source.encode()).hexdigest()[:12]


def journey_template_name(step: JourneyStep) -> str:
    """The pipeline template name of the step's current content (``Message.template``)."""
    return f"journey/{step.pk}/{step_content_hash(step)}"


def _text_of(body: str) -> str:
    text = html.unescape(strip_tags(body))
    lines = [line.strip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def _by_language(fr: str, en: str) -> str:
    return f'{{% if language == "fr" %}}{literal(fr)}{{% else %}}{literal(en)}{{% endif %}}'


def step_template_source(step: JourneyStep, part: str) -> str:
    if part == "mjml":
        return (
            '{% extends "newsletters/email/base.mjml" %}'
            "{% block preview %}"
            + _by_language(step.subject_fr, step.subject_en)
            + "{% endblock %}"
            "{% block content %}" + _by_language(step.body_fr, step.body_en) + "{% endblock %}"
        )
    if part == "txt":
        return (
            '{% extends "newsletters/email/base.txt" %}{% block content %}'
            + _by_language(_text_of(step.body_fr), _text_of(step.body_en))
            + "{% endblock %}"
        )
    return _by_language(step.subject_fr, step.subject_en)


class Loader(BaseLoader):
    """Serves journey step emails by name (see the module docstring). A step deleted since a
    message was enqueued is a missing template: that message fails, nothing is sent."""

    def get_template_sources(self, template_name: str) -> Iterator[Origin]:
        if NAME.match(template_name):
            yield Origin(name=template_name, template_name=template_name, loader=self)

    def get_contents(self, origin: Origin) -> str:
        from newsletters.models import JourneyStep  # noqa: PLC0415  cycle: JourneyStep.clean checks placeholders here

        match = NAME.match(origin.name)
        if match is None:
            raise TemplateDoesNotExist(origin)
        step = JourneyStep.objects.filter(pk=int(match.group(1))).first()
        if step is None:
            raise TemplateDoesNotExist(origin)
        return step_template_source(step, match.group(3))
