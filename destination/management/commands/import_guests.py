"""Import guests from a CSV file through identity resolution.

    python manage.py import_guests FILE.csv --source NAME [--report REPORT.csv] [--partner SLUG]
        [--batch-size N] [--validation-processes N] [--workers N]

Every row goes through ``guest_resolve_many`` (on ``--workers`` processes:
``guest_resolve_parallel``): known people are matched (and enriched), new ones created,
doubtful ones created and queued for review. A row with a field that cannot be read (a phone, a
malformed birth date, an unknown country) is imported without that field, with a warning in
the report's ``warnings`` column; a row is refused only when its external id is missing or
repeated, or when no name, no email and no phone remain, and then writes nothing.
``(source, external_id)`` is remembered, so running the same file again changes nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from destination.models import Guest, GuestExternalRef
from destination.services.resolution import (
    REASON_LABELS,
    Decision,
    FieldWarning,
    PersonData,
    ResolutionResult,
    person_read,
)
from destination.services.resolution_workers import guest_resolve_parallel
from partners.models import Partner  # layering exception: destination/__init__.py

COLUMNS = (
    "external_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "country",
    "birth_date",
    "language",
)
REPORT_COLUMNS = ("external_id", "guest_id", "decision", "review_with", "reason", "warnings")
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")
MAX_REJECTED_SHOWN = 50


@dataclass
class Row:
    line: int
    external_id: str
    person: PersonData | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    # What the row was kept without (read here, like a malformed date, or by resolution).
    warnings: list[FieldWarning] = field(default_factory=list)
    result: ResolutionResult | None = None


def parse_birth_date(raw: str) -> dt.date | None:
    value = raw.strip()
    if not value:
        return None
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValueError(
        _("“%(value)s” is not a valid date (use YYYY-MM-DD or DD/MM/YYYY).") % {"value": raw}
    )


def format_errors(errors: dict[str, list[str]]) -> str:
    parts: list[str] = []
    for name, messages in errors.items():
        label = "" if name == "__all__" else f"{name}: "
        parts.extend(f"{label}{message}" for message in messages)
    return "; ".join(parts)


def format_warnings(warnings: list[FieldWarning]) -> str:
    return "; ".join(f"{w.field}: {w.message}" for w in warnings)


class Command(BaseCommand):
    help = "Import guests from a CSV file through identity resolution."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="CSV file, UTF-8, with a header row.")
        parser.add_argument(
            "--source", required=True, help="Name of this source (e.g. the partner system)."
        )
        parser.add_argument("--report", type=Path, help="Write one result row per input row.")
        parser.add_argument("--partner", help="Slug of the partner the guests are imported for.")
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="Resolve the batches on this many worker processes, each with its own database "
            "connection (PostgreSQL; a large file on a machine with spare cores). People of the "
            "file who share no email, phone or id and land in batches resolved at the same "
            "moment are not suggested as duplicates of each other: dedupe_guests finds them.",
        )
        parser.add_argument(
            "--validation-processes",
            type=int,
            default=0,
            help="Validate the next batches in this many forked processes while this one writes "
            "(a large file on a machine with a spare core); 0: a thread.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source: str = options["source"].strip()
        max_source = GuestExternalRef._meta.get_field("source").max_length or 64
        if not source or len(source) > max_source:
            raise CommandError(
                _("--source must be a name of 1 to %(max)s characters.") % {"max": max_source}
            )
        partner = None
        if options["partner"]:
            try:
                partner = Partner.objects.get(slug=options["partner"])
            except Partner.DoesNotExist:
                raise CommandError(
                    _("No partner with the slug “%(slug)s”.") % {"slug": options["partner"]}
                ) from None

        rows = self.read(options["file"])
        self.check_duplicates(rows)
        valid = [row for row in rows if not row.errors]
        results = guest_resolve_parallel(
            [row.person for row in valid if row.person is not None],
            workers=options["workers"],
            source=Guest.Source.IMPORT,
            source_detail=source,
            partner=partner,
            batch_size=options["batch_size"],
            keep_partial=True,
            validation_processes=max(0, options["validation_processes"]),
        )
        for row, result in zip(valid, results, strict=True):
            row.result = result
            # A field already warned about here (a date in none of the accepted formats) is left
            # out by resolution too, which audits it: one warning for it in the report.
            warned = {w.field for w in row.warnings}
            row.warnings.extend(w for w in result.warnings if w.field not in warned)
            if result.decision == Decision.REJECTED:
                row.errors = result.errors
        if options["report"]:
            self.write_report(options["report"], rows)
        self.summary(rows)

    # -- reading -------------------------------------------------------------------------

    def read(self, path: Path) -> list[Row]:
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                sample = handle.read(8192)
                handle.seek(0)
                try:
                    dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
                except csv.Error:
                    dialect = csv.excel
                reader = csv.reader(handle, dialect)
                header = next(reader, None)
                if not header:
                    raise CommandError(_("The file is empty: a header row is needed."))
                names = [name.strip().lower() for name in header]
                missing = [column for column in COLUMNS if column not in names]
                if missing:
                    raise CommandError(
                        _("Missing column(s) in the header: %(missing)s. Expected: %(expected)s.")
                        % {"missing": ", ".join(missing), "expected": ", ".join(COLUMNS)}
                    )
                unknown = [n for n in names if n and n not in COLUMNS]
                if unknown:
                    self.stderr.write(
                        _("Ignoring unknown column(s): %(names)s.") % {"names": ", ".join(unknown)}
                    )
                position = {column: names.index(column) for column in COLUMNS}
                rows = []
                for values in reader:
                    if not any(v.strip() for v in values):
                        continue  # blank line
                    rows.append(self.parse(reader.line_num, values, position))
                return rows
        except FileNotFoundError:
            raise CommandError(_("File not found: %(path)s") % {"path": path}) from None
        except UnicodeDecodeError:
            raise CommandError(_("The file is not UTF-8 text.")) from None
        except csv.Error as exc:
            raise CommandError(_("The file is not valid CSV: %(error)s") % {"error": exc}) from None

    def parse(self, line: int, values: list[str], position: dict[str, int]) -> Row:
        def get(column: str) -> str:
            index = position[column]
            return values[index].strip() if index < len(values) else ""

        row = Row(line=line, external_id=get("external_id"))
        if not row.external_id:
            row.errors["external_id"] = [_("The external id is missing.")]
        birth_date: dt.date | str | None
        try:
            birth_date = parse_birth_date(get("birth_date"))
        except ValueError as exc:
            row.warnings.append(
                FieldWarning(
                    "birth_date",
                    FieldWarning.Code.LEFT_OUT,
                    _("Left out: %(reason)s") % {"reason": exc},
                )
            )
            # Passed on as typed: resolution cannot read it either, leaves it out and writes it
            # in the audit row's fields_left_out, like every other field it drops.
            birth_date = get("birth_date")
        row.person = PersonData(
            external_id=row.external_id,
            first_name=get("first_name"),
            last_name=get("last_name"),
            email=get("email"),
            phone=get("phone"),
            country=get("country"),
            birth_date=birth_date,
            language=get("language"),
        )
        if row.errors:
            # Refused for its id: report what else would have been left out, all at once.
            row.warnings.extend(person_read(row.person, keep_partial=True).warnings)
        return row

    def check_duplicates(self, rows: list[Row]) -> None:
        lines: dict[str, list[int]] = defaultdict(list)
        for row in rows:
            if row.external_id:
                lines[row.external_id].append(row.line)
        for row in rows:
            seen = lines.get(row.external_id, [])
            if len(seen) > 1:
                row.errors.setdefault("external_id", []).append(
                    _("The external id “%(id)s” appears on several lines (%(lines)s).")
                    % {"id": row.external_id, "lines": ", ".join(map(str, seen))}
                )

    # -- output --------------------------------------------------------------------------

    def reason(self, row: Row) -> str:
        if row.errors:
            return format_errors(row.errors)
        assert row.result is not None
        labels = [str(REASON_LABELS.get(code, code)) for code in row.result.reasons]
        if row.result.decision == Decision.REVIEW:
            return _("Possible duplicate: %(reasons)s") % {"reasons": ", ".join(labels)}
        return ", ".join(labels)

    def write_report(self, path: Path, rows: list[Row]) -> None:
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(REPORT_COLUMNS)
            for row in rows:
                result = row.result
                if row.errors or result is None:
                    guest_id, decision, review_with = "", Decision.REJECTED, ""
                else:
                    guest_id = "" if result.guest is None else str(result.guest.pk)
                    decision = result.decision
                    review_with = ";".join(map(str, result.review_with))
                writer.writerow(
                    [
                        row.external_id,
                        guest_id,
                        decision,
                        review_with,
                        self.reason(row),
                        format_warnings(row.warnings),
                    ]
                )

    def summary(self, rows: list[Row]) -> None:
        counts = Counter(
            Decision.REJECTED if row.errors or row.result is None else row.result.decision
            for row in rows
        )
        self.stdout.write(_("Rows read: %(n)s") % {"n": len(rows)})
        self.stdout.write(_("Matched: %(n)s") % {"n": counts[Decision.MATCHED]})
        self.stdout.write(_("Created: %(n)s") % {"n": counts[Decision.CREATED]})
        self.stdout.write(_("Sent to review: %(n)s") % {"n": counts[Decision.REVIEW]})
        self.stdout.write(_("Rejected: %(n)s") % {"n": counts[Decision.REJECTED]})
        rejected = [row for row in rows if row.errors]
        self.lines(rejected, self.reason)
        # Imported rows kept without a field, apart from the refusals.
        warned = [row for row in rows if row.warnings and not row.errors]
        self.stdout.write(
            _("Imported with warnings: %(n)s (%(fields)s fields left out or kept as typed)")
            % {"n": len(warned), "fields": sum(len(row.warnings) for row in warned)}
        )
        self.lines(warned, lambda row: format_warnings(row.warnings))

    def lines(self, rows: list[Row], text: Callable[[Row], str]) -> None:
        for row in rows[:MAX_REJECTED_SHOWN]:
            self.stdout.write(
                _("  line %(line)s (%(id)s): %(reason)s")
                % {"line": row.line, "id": row.external_id or "-", "reason": text(row)}
            )
        if len(rows) > MAX_REJECTED_SHOWN:
            self.stdout.write(
                _("  ... and %(n)s more, see the report.") % {"n": len(rows) - MAX_REJECTED_SHOWN}
            )
