"""The one shape of a refused operation, from every service of every app.

A service that refuses raises a ``DomainError`` (or a subclass: ``GuestError``,
``BookingError``...): nothing was changed, ``code`` says why for programs (tests, the API, logs)
and the messages are for people. Field-level messages sit in ``field_errors`` under the form
field's name; ``NON_FIELD_ERRORS`` ("__all__") holds what concerns the whole operation.

Views never map errors to forms by hand: ``form_add_domain_error(form, error)`` puts each message
under its field when the form has it, and the rest at the top of the form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from django import forms
    from django_stubs_ext import StrOrPromise

FieldErrors = Mapping[str, "StrOrPromise | Sequence[StrOrPromise]"]


class DomainError(Exception):
    """A business rule refused the operation; nothing was changed.

    ``DomainError("Message")`` is an error of the whole operation; ``DomainError({"email":
    "Taken."})`` names fields. ``code`` is a short stable slug ("invalid", "forbidden",
    "no_seats"...).
    """

    default_code = "invalid"

    def __init__(
        self,
        errors: StrOrPromise | FieldErrors,
        *,
        code: str | None = None,
    ) -> None:
        if isinstance(errors, Mapping):
            field_errors = {
                name: [
                    str(m)
                    for m in (
                        cast("Sequence[StrOrPromise]", msgs) if _is_sequence(msgs) else [msgs]
                    )
                ]
                for name, msgs in errors.items()
            }
        else:
            field_errors = {NON_FIELD_ERRORS: [str(errors)]}
        self.field_errors: dict[str, list[str]] = field_errors
        self.code: str = code or self.default_code
        super().__init__(self.message)

    @property
    def messages(self) -> list[str]:
        """Every message, the operation's first, then by field."""
        first = self.field_errors.get(NON_FIELD_ERRORS, [])
        rest = [
            m for name, msgs in self.field_errors.items() if name != NON_FIELD_ERRORS for m in msgs
        ]
        return [*first, *rest]

    @property
    def message(self) -> str:
        return " ".join(self.messages)

    @property
    def message_dict(self) -> dict[str, list[str]]:
        """The same messages keyed by field, like ``ValidationError.message_dict``."""
        return {name: list(msgs) for name, msgs in self.field_errors.items()}

    def __str__(self) -> str:
        return self.message

    @classmethod
    def from_validation_error(cls, exc: ValidationError, *, code: str | None = None) -> DomainError:
        """Wrap a model's ``full_clean()`` refusal, keeping its fields."""
        if hasattr(exc, "error_dict"):
            return cls(exc.message_dict, code=code)
        return cls(" ".join(exc.messages), code=code)


class PermissionRefused(DomainError):
    """The acting staff member or partner may not do this (views answer 403 or show it)."""

    default_code = "forbidden"


def _is_sequence(value: Any) -> bool:
    return isinstance(value, list | tuple)


def form_add_domain_error(
    form: forms.BaseForm, error: DomainError | ValidationError | PermissionDenied
) -> None:
    """Put a refusal on ``form``: each message under its field when the form has that field,
    otherwise at the top of the form (``non_field_errors``)."""
    if isinstance(error, DomainError):
        by_field: Mapping[str, list[str]] = error.field_errors
    elif isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        by_field = error.message_dict
    elif isinstance(error, ValidationError):
        by_field = {NON_FIELD_ERRORS: list(error.messages)}
    else:
        by_field = {NON_FIELD_ERRORS: [str(error) or _("You are not allowed to do this.")]}
    for name, messages in by_field.items():
        field = name if name in form.fields else None
        for message in messages:
            form.add_error(field, message)
