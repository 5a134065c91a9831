"""The consumer "booking_emails" starts after the outbox events that exist when it is deployed:
the emails of those events were sent by bookings itself, and must not be sent again."""

from django.db import migrations
from django.db.models import Max


def cursor_place(apps, schema_editor):
    BookingEvent = apps.get_model("bookings", "BookingEvent")
    OutboxCursor = apps.get_model("newsletters", "OutboxCursor")
    last = BookingEvent.objects.aggregate(last=Max("id"))["last"] or 0
    OutboxCursor.objects.get_or_create(consumer="booking_emails", defaults={"last_event_id": last})


class Migration(migrations.Migration):
    dependencies = [
        ("newsletters", "0003_journeys"),
        ("bookings", "0003_bookingevent_payment_link_issued"),
    ]

    operations = [migrations.RunPython(cursor_place, migrations.RunPython.noop)]
