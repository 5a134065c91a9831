"""Bulk resolution on several worker processes (``guest_resolve_parallel``, ``import_guests
--workers``): same guests as one worker, results in the input order, no duplicate created by two
workers resolving the same new person at once."""

from __future__ import annotations

import csv
import multiprocessing

import pytest
from django.core.management import call_command

from destination.models import Guest, GuestEmail, GuestExternalRef
from destination.services.resolution import Decision, PersonData
from destination.services.resolution_workers import guest_resolve_parallel

FIRST = ["Anna", "Bruno", "Chloé", "Dieter", "Elena", "Fabien", "Greta", "Hugo", "Inès", "Jonas"]
LAST = ["Keller", "Lambert", "Moreau", "Novak", "Olsen", "Petit", "Quinn", "Rossi", "Weber"]


def people(n: int) -> list[PersonData]:
    """``n`` people; person i + n/2 is person i again (email in upper case, phone national), so
    every new person arrives twice, in batches that two workers may resolve at the same moment.
    Person 7 has nothing usable (rejected) to check that the order survives it."""
    half = n // 2
    out: list[PersonData] = []
    for i in range(n):
        j = i % half
        first, last = FIRST[j % len(FIRST)], LAST[(j // len(FIRST)) % len(LAST)]
        email = f"{last}.{j}@workers.example"  # ASCII: a valid address
        if i == 7:
            out.append(PersonData(first_name="", last_name="", email="not an email"))
        elif i < half:
            out.append(PersonData(first_name=first, last_name=last, email=email, country="FR"))
        else:
            out.append(PersonData(first_name=first, last_name=last, email=f"  {email.upper()} "))
    return out


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_resolve_every_person_once_in_the_input_order():
    batch = people(400)
    results = guest_resolve_parallel(
        batch, workers=2, source=Guest.Source.IMPORT, source_detail="workers", batch_size=25
    )

    assert len(results) == len(batch)
    assert results[7].decision == Decision.REJECTED
    assert results[207].decision != Decision.REJECTED  # its twin in the first half was rejected
    for i, (person, result) in enumerate(zip(batch, results, strict=True)):
        if i == 7:
            continue
        assert result.guest is not None
        # In the input order: each result is the guest of that person's email.
        assert GuestEmail.objects.get(guest_id=result.guest.pk).email == (
            person.email.strip().lower()
        )
    # Each person once, though both copies may have been resolved at the same moment.
    assert Guest.objects.count() == 200
    assert GuestEmail.objects.values("email").distinct().count() == 200
    for i in range(200):
        if i != 7:
            assert results[i].guest.pk == results[i + 200].guest.pk


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_workers_use_their_own_connections_and_the_caller_goes_on_after_them():
    guest_resolve_parallel(
        people(200), workers=2, source=Guest.Source.IMPORT, source_detail="workers", batch_size=20
    )
    # The caller's connection was closed before forking and reopens on use.
    assert Guest.objects.filter(source_detail="workers").count() == 100
    assert multiprocessing.active_children() == []


@pytest.mark.django_db
def test_inside_a_transaction_or_on_sqlite_the_caller_resolves_alone(monkeypatch):
    def no_fork(*args, **kwargs):
        raise AssertionError("no worker process may be started here")

    monkeypatch.setattr(multiprocessing, "get_context", no_fork)
    # pytest-django wraps this test in a transaction: the workers' commits would escape it.
    results = guest_resolve_parallel(
        people(60), workers=2, source=Guest.Source.IMPORT, source_detail="alone", batch_size=10
    )
    assert len(results) == 60
    assert Guest.objects.filter(source_detail="alone").count() == 30


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_import_command_with_two_workers_reports_like_one(tmp_path):
    path = tmp_path / "guests.csv"
    columns = ["external_id", "first_name", "last_name", "email", "phone", "country",
               "birth_date", "language"]  # fmt: skip
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for i, p in enumerate(people(300)):
            writer.writerow([f"w{i}", p.first_name, p.last_name, p.email, "", p.country,
                             "1990-02-30" if i == 3 else "", ""])  # fmt: skip
    report = tmp_path / "report.csv"
    call_command(
        "import_guests", str(path), "--report", str(report), source="crm-w", workers=2,
        batch_size=20,
    )  # fmt: skip
    with report.open() as handle:
        rows = list(csv.DictReader(handle))

    assert [r["external_id"] for r in rows] == [f"w{i}" for i in range(300)]
    assert rows[7]["decision"] == Decision.REJECTED
    assert rows[3]["warnings"]  # the impossible birth date, left out
    assert GuestExternalRef.objects.filter(source="crm-w").count() == 299
    assert Guest.objects.count() == 150
    # Run again: every row is known by its external id, nothing changes.
    call_command("import_guests", str(path), source="crm-w", workers=2, batch_size=20)
    assert Guest.objects.count() == 150
