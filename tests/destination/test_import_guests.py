"""The import_guests command: summary, report, rows kept without an unreadable field (with a
warning), rejected rows, bad headers, idempotent re-runs."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command

from destination.models import Guest, GuestExternalRef, PossibleDuplicate
from partners.models import PartnerGuestLink
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db

HEADER = "external_id,first_name,last_name,email,phone,country,birth_date,language\n"
GOOD_AND_BAD = HEADER + (
    "A1,Jean,Martin,jean.martin@example.com,06 12 34 56 78,FR,1980-05-17,fr\n"
    "A2,Jean,Martin, JEAN.MARTIN@example.com ,,FR,17/05/1980,\n"  # same person, other format
    "A3,Lucie,Martin,jean.martin@example.com,,FR,2012-03-01,fr\n"  # child on the family email
    "A4,Anna,Keller,not-an-email,,CH,,de\n"  # bad email
    "A5,Urs,Frei,urs@frei.example,12,CH,,\n"  # bad phone
    ",No,Id,noid@example.com,,,,\n"  # missing external id
    "A6,Dup,One,dup1@example.com,,,,\n"
    "A6,Dup,Two,dup2@example.com,,,,\n"  # duplicate external id
    "A7,Zoé,Futur,zoe@example.com,,FR,2999-01-01,\n"  # birth date in the future
    "A8,Eva,Date,eva@example.com,,XX,31/02/2001,\n"  # impossible date, unknown country
    "\n"
    "A9,,,only.email@example.com,,,,\n"
    "A10,,,not-an-email,12,,,\n"  # nothing identifying left: refused
)


def write(tmp_path: Path, text: str, name: str = "guests.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(path: Path, *args: str) -> str:
    out = io.StringIO()
    call_command("import_guests", str(path), *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def report_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def table_counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count()
        for app in ("destination", "partners")
        for model in apps.get_app_config(app).get_models()
    }


def test_mixed_file_is_resolved_reported_and_summarised(tmp_path):
    partner = PartnerFactory(slug="ski-school")
    report = tmp_path / "report.csv"
    out = run(
        write(tmp_path, GOOD_AND_BAD),
        "--source",
        "legacy",
        "--report",
        str(report),
        "--partner",
        "ski-school",
    )

    rows = report_rows(report)
    assert [r["external_id"] for r in rows] == [
        "A1",
        "A2",
        "A3",
        "A4",
        "A5",
        "",
        "A6",
        "A6",
        "A7",
        "A8",
        "A9",
        "A10",
    ]
    assert list(rows[0]) == [
        "external_id", "guest_id", "decision", "review_with", "reason", "warnings"
    ]  # fmt: skip
    decisions = {r["external_id"] or "-": r["decision"] for r in rows}
    assert decisions["A1"] == "created"
    assert decisions["A2"] == "matched"
    assert decisions["A3"] == "created"  # a household (family rule): neither merged nor queued
    assert decisions["A9"] == "created"  # only an email is enough to create a guest
    # One unreadable field: the person is kept without it, with a warning.
    for key in ("A4", "A5", "A7", "A8"):
        assert decisions[key] == "created", key
    for key in ("-", "A6", "A10"):
        assert decisions[key] == "rejected", key
    by_id = {r["external_id"]: r for r in rows}
    assert by_id["A2"]["guest_id"] == by_id["A1"]["guest_id"]
    assert by_id["A3"]["review_with"] == ""
    assert (
        by_id["A4"]["warnings"] == "email: Left out: “not-an-email” is not a valid email address."
    )
    assert by_id["A5"]["warnings"] == "phone: Left out: “12” is not a valid phone number."
    assert by_id["A7"]["warnings"].startswith("birth_date: Left out:")
    assert "future" in by_id["A7"]["warnings"]
    assert "birth_date: Left out: “31/02/2001” is not a valid date" in by_id["A8"]["warnings"]
    assert "country: Left out: “XX” is not a known country." in by_id["A8"]["warnings"]
    assert all(by_id[k]["reason"] == "" for k in ("A4", "A5", "A7", "A8"))
    assert "external id is missing" in rows[5]["reason"]
    assert "several lines (8, 9)" in by_id["A6"]["reason"]
    assert "at least a name, an email address or a phone number" in by_id["A10"]["reason"]
    assert "email: “not-an-email” is not a valid email address" in by_id["A10"]["reason"]
    assert "phone: “12” is not a valid phone number" in by_id["A10"]["reason"]
    assert all(r["guest_id"] == "" for r in rows if r["decision"] == "rejected")
    assert all(r["warnings"] == "" for r in rows if r["external_id"] in ("A1", "A2", "A3", "A9"))

    assert "Matched: 1" in out
    assert "Created: 7" in out
    assert "Sent to review: 0" in out
    assert "Rejected: 4" in out
    # Warnings are counted apart from the refusals.
    assert "Imported with warnings: 4 (5 fields left out or kept as typed)" in out
    assert "line 6 (A5): phone: Left out:" in out
    assert "line 14 (A10)" in out

    assert Guest.objects.count() == 7
    keller = Guest.objects.get(last_name="Keller")
    assert not keller.emails.exists() and str(keller.country) == "CH"
    eva = Guest.objects.get(last_name="Date")
    assert eva.birth_date is None and not eva.country
    # Every field left out is audited, the date the command could not read included.
    assert eva.audit_entries.get(action="create").details["fields_left_out"] == [
        "birth_date",
        "country",
    ]
    assert set(Guest.objects.values_list("source", "source_detail")) == {("import", "legacy")}
    assert set(GuestExternalRef.objects.values_list("external_id", flat=True)) == {
        "A1", "A2", "A3", "A4", "A5", "A7", "A8", "A9"
    }  # fmt: skip
    assert PossibleDuplicate.objects.count() == 0
    assert PartnerGuestLink.objects.filter(partner=partner, reason="imported").count() == 7
    # Rejected rows wrote nothing.
    assert not Guest.objects.filter(last_name__in=["Id", "One", "Two"]).exists()


def test_rerunning_the_same_file_changes_nothing(tmp_path):
    PartnerFactory(slug="desk")
    path = write(tmp_path, GOOD_AND_BAD)
    run(path, "--source", "legacy", "--partner", "desk", "--report", str(tmp_path / "r1.csv"))
    before = table_counts()
    run(path, "--source", "legacy", "--partner", "desk", "--report", str(tmp_path / "r2.csv"))
    assert table_counts() == before
    first, second = report_rows(tmp_path / "r1.csv"), report_rows(tmp_path / "r2.csv")
    assert [r["guest_id"] for r in first] == [r["guest_id"] for r in second]
    assert {r["decision"] for r in second} == {"matched", "rejected"}


def test_same_people_under_another_source_are_matched_not_duplicated(tmp_path):
    run(write(tmp_path, GOOD_AND_BAD), "--source", "legacy")
    guests = Guest.objects.count()
    out = run(write(tmp_path, GOOD_AND_BAD, "again.csv"), "--source", "booking-engine")
    # Everyone with a readable contact is matched. Anna Keller, kept without her unreadable
    # email, has nothing but a name and a country: a new guest, suggested as a duplicate of
    # the first one (the same rare name and country reach the model's review threshold).
    assert Guest.objects.count() == guests + 1
    assert "Created: 0" in out
    assert "Sent to review: 1" in out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "external_id,first_name,last_name,email,phone,country,language\nA1,Jean,Martin,,,,\n",
            "birth_date",
        ),
        (
            "first_name,last_name,email,phone,country,birth_date,language\nJean,Martin,,,,,\n",
            "external_id",
        ),
        ("", "empty"),
    ],
)
def test_bad_header_is_a_command_error_and_writes_nothing(tmp_path, text, message):
    report = tmp_path / "report.csv"
    with pytest.raises(CommandError, match=message):
        run(write(tmp_path, text), "--source", "legacy", "--report", str(report))
    assert Guest.objects.count() == 0
    assert not report.exists()


def test_semicolon_files_and_extra_columns_are_read(tmp_path):
    text = (
        "External_ID;First_Name;Last_Name;Email;Phone;Country;Birth_Date;Language;Notes\n"
        "B1;Ueli;Keller;ueli@keller.example;044 668 18 00;CH;01/02/1970;de;VIP\n"
    )
    report = tmp_path / "r.csv"
    run(write(tmp_path, text), "--source", "swiss", "--report", str(report))
    guest = Guest.objects.get()
    assert str(guest.phones.get().phone) == "+41446681800"
    assert guest.birth_date.isoformat() == "1970-02-01"
    assert report_rows(report)[0]["decision"] == "created"


def test_unknown_partner_or_missing_file_is_a_command_error(tmp_path):
    path = write(tmp_path, GOOD_AND_BAD)
    with pytest.raises(CommandError, match="No partner"):
        run(path, "--source", "legacy", "--partner", "nope")
    with pytest.raises(CommandError, match="not found"):
        run(tmp_path / "missing.csv", "--source", "legacy")
    assert Guest.objects.count() == 0
