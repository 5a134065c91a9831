"""The one error shape (destination.errors) and its form helper."""

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError

from destination.errors import DomainError, PermissionRefused, form_add_domain_error


class _Form(forms.Form):
    email = forms.CharField(required=False)


def test_a_message_is_an_error_of_the_whole_operation():
    error = DomainError("No seats left.", code="no_seats")
    assert error.code == "no_seats"
    assert error.field_errors == {NON_FIELD_ERRORS: ["No seats left."]}
    assert str(error) == "No seats left."


def test_field_errors_keep_their_fields_and_order():
    error = DomainError({"email": "Taken.", NON_FIELD_ERRORS: ["Refused."]})
    assert error.code == "invalid"
    assert error.message_dict == {"email": ["Taken."], NON_FIELD_ERRORS: ["Refused."]}
    assert error.messages == ["Refused.", "Taken."]


def test_permission_refused_has_its_code():
    assert PermissionRefused("No.").code == "forbidden"


def test_from_validation_error_keeps_fields():
    exc = ValidationError({"email": ["Enter a valid email address."]})
    assert DomainError.from_validation_error(exc).field_errors == {
        "email": ["Enter a valid email address."]
    }
    assert DomainError.from_validation_error(ValidationError("Bad.")).messages == ["Bad."]


def test_form_helper_puts_known_fields_on_the_field_and_the_rest_on_top():
    form = _Form(data={})
    assert form.is_valid()
    form_add_domain_error(form, DomainError({"email": "Taken.", "phone": "Unreadable."}))
    assert form.errors["email"] == ["Taken."]
    assert form.non_field_errors() == ["Unreadable."]


def test_form_helper_takes_validation_errors_and_permission_denied():
    form = _Form(data={})
    assert form.is_valid()
    form_add_domain_error(form, ValidationError({"email": ["Bad."]}))
    form_add_domain_error(form, PermissionDenied("Not yours."))
    assert form.errors["email"] == ["Bad."]
    assert form.non_field_errors() == ["Not yours."]


def test_guest_error_is_a_domain_error_with_fields():
    from destination.services import GuestError

    error = GuestError({"language": "Unknown."})
    assert isinstance(error, DomainError)
    form = _Form({})
    form.fields["language"] = forms.CharField(required=False)
    form.is_valid()
    form_add_domain_error(form, error)
    assert form.errors == {"language": ["Unknown."]}
