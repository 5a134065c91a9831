"""Email backends that fail the way real servers and providers do, for the send tests."""

from __future__ import annotations

import smtplib
from typing import ClassVar

from django.core.mail.backends.locmem import EmailBackend as LocMemBackend


class FailingBackend(LocMemBackend):
    """Raises ``errors`` in turn (one per send), then delivers to ``mail.outbox``."""

    errors: ClassVar[list[BaseException]] = []
    open_errors: ClassVar[list[BaseException]] = []

    def open(self):
        if FailingBackend.open_errors:
            raise FailingBackend.open_errors.pop(0)
        return True

    def send_messages(self, messages):
        if FailingBackend.errors:
            raise FailingBackend.errors.pop(0)
        return super().send_messages(messages)


def temporary() -> BaseException:
    return smtplib.SMTPDataError(451, b"4.3.0 try again later")


def permanent() -> BaseException:
    return smtplib.SMTPRecipientsRefused({"x@y": (550, b"5.1.1 no such user")})


def dropped() -> BaseException:
    return smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
