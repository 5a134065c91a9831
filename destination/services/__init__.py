"""Writes to the shared core. Each module owns one area; views, tasks and commands call these
functions, never the ORM directly for writes.

- resolution: guest_resolve(), guest_resolve_many() - person -> guest (exact, fuzzy, review)
- guests: guest_create(), guest_update(), guest_email_add(), guest_phone_add()...
- consent: consent_record(), consent_object()
- timeline: timeline_add()
- merge: guest_merge(), guest_merge_undo()
- gdpr: guest_export(), guest_erase(), guests_erase_inactive()
- audit: audit_log()
"""

from destination.errors import DomainError


class GuestError(DomainError):
    """A rule of the shared core refused the operation; the messages are for the user, by field
    when the rule concerns one (``field_errors``, see ``destination.errors``)."""
