"""Seed a fictitious ski destination, Val Neige: partners, staff logins, about --guests people
arriving through several partners (with the duplicates real data has), households, interests,
consents with proof and two seasons of interactions.

Every write to the shared core goes through the services (resolution, consent, interactions,
guests), so the demo shows what production data looks like, review queue included. The core
seeds its own data; the apps above it add their steps through
``destination.registry.register_demo_seeder`` (partners and staff, interactions, bookings).
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from destination import demo_data
from destination.demo_data import DemoPartner, DemoPerson, DemoRecord
from destination.models import (
    CHANNEL_PURPOSES,
    Channel,
    ConsentEvent,
    ConsentProof,
    ConsentWording,
    Destination,
    Guest,
    PossibleDuplicate,
    Purpose,
    Tag,
    User,
)
from destination.registry import demo_seeders
from destination.services.consent import consent_object, consent_record, consent_wording_create
from destination.services.guests import household_link
from destination.services.merge import guest_merge
from destination.services.resolution import Decision, PersonData, guest_resolve_many
from partners.models import Partner  # layering exception: destination/__init__.py


class Command(BaseCommand):
    help = "Seed the Val Neige demo destination: partners, staff, guests, consents, interactions."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--guests", type=int, default=2000, help="Number of distinct people (default 2000)."
        )
        parser.add_argument("--seed", type=int, default=42, help="Random seed (default 42).")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when any partner exists (safe to run on every start).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["if_empty"] and Partner.objects.exists():
            self.stdout.write(_("Partners exist already: demo data not seeded."))
            return
        if options["guests"] < 1:
            raise CommandError(_("--guests must be at least 1."))
        slugs = [p.slug for p in demo_data.PARTNERS]
        if Partner.objects.filter(slug__in=slugs).exists():
            raise CommandError(
                _("The demo partners exist already: seed an empty database, or use --if-empty.")
            )
        started = time.monotonic()
        seeder = DemoSeeder(
            rng=random.Random(options["seed"]), guests=options["guests"], log=self._log
        )
        with transaction.atomic():
            seeder.run()
        self._log(_("Done in %(seconds).1f s.") % {"seconds": time.monotonic() - started})
        self.stdout.write("")
        self.stdout.write(self.style.MIGRATE_HEADING(_("Summary")))
        for label, value in seeder.summary().items():
            self.stdout.write(f"  {label}: {value}")
        self.stdout.write("")
        self.stdout.write(self.style.MIGRATE_HEADING(_("Demo logins")))
        self.stdout.write(demo_data.demo_logins_table())

    def _log(self, message: str) -> None:
        self.stdout.write(self.style.SUCCESS(message))


class DemoSeeder:
    def __init__(self, *, rng: random.Random, guests: int, log: Any) -> None:
        self.rng = rng
        self.count = guests
        self.log = log
        self.now = timezone.now()
        self.partners: dict[str, Partner] = {}
        self.demo_partners: dict[str, DemoPartner] = {p.slug: p for p in demo_data.PARTNERS}
        self.managers: dict[str, User] = {}
        self.agents: dict[str, User] = {}
        self.wordings: dict[tuple[str, str], ConsentWording] = {}
        self.people: list[DemoPerson] = []
        self.household_names: dict[int, str] = {}
        # person key -> the guest the person first became; (slug, person key) -> the guest that
        # partner's record resolved to (a duplicate in review when the match was uncertain).
        self.guest_of_person: dict[int, Guest] = {}
        self.guest_of_record: dict[tuple[str, int], Guest] = {}
        self.decisions: Counter[str] = Counter()
        self.timings: dict[str, float] = {}

    # -- orchestration ---------------------------------------------------------------------

    def _steps(self) -> list[tuple[int, str, Callable[[], None]]]:
        core: list[tuple[int, str, Callable[[], None]]] = [
            (10, "destination", self.seed_destination),
            (30, "wordings", self.seed_wordings),
            (40, "guests", self.seed_guests),
            (50, "households", self.seed_households),
            (60, "interests", self.seed_tags),
            (70, "consents", self.seed_consents),
            (90, "reviews", self.seed_reviews),
        ]
        registered: list[tuple[int, str, Callable[[], None]]] = [
            (step.order, step.name, partial(step.seed, self)) for step in demo_seeders()
        ]
        return sorted(core + registered, key=lambda step: step[0])

    def run(self) -> None:
        steps = self._steps()
        for number, (_order, name, step) in enumerate(steps, start=1):
            # Said before the step, so a long one (interactions) is not a silent minute.
            self.progress(f"[{number}/{len(steps)}] {name}…")
            started = time.monotonic()
            step()
            self.timings[name] = time.monotonic() - started
            self.log(f"{name}: {self.timings[name]:.1f} s")

    def progress(self, message: str) -> None:
        """A progress line of a long step ("interactions: 1,000 of about 3,000")."""
        self.log(message)

    def summary(self) -> dict[str, Any]:
        parts: list[tuple[int, Mapping[str, Any]]] = [(40, self._core_summary())]
        parts += [(step.order, step.summary(self)) for step in demo_seeders() if step.summary]
        result: dict[str, Any] = {}
        for _order, lines in sorted(parts, key=lambda part: part[0]):
            result.update(lines)
        return result

    def _core_summary(self) -> dict[str, Any]:
        return {
            _("People generated"): len(self.people),
            _("Guests"): Guest.objects.count(),
            _("Resolution decisions"): dict(sorted(self.decisions.items())),
            _("Possible duplicates to review"): PossibleDuplicate.objects.filter(
                status=PossibleDuplicate.Status.OPEN
            ).count(),
            _("Consent proofs"): ConsentProof.objects.count(),
            _("Consent events"): ConsentEvent.objects.count(),
            _("Consent withdrawals"): ConsentEvent.objects.filter(granted=False).count(),
            _("Objections"): ConsentProof.objects.filter(is_objection=True).count(),
            _("Guests merged by the tourist office"): Guest.objects.filter(
                status=Guest.Status.MERGED
            ).count(),
        }

    def _past(self, moment: datetime) -> datetime:
        # Season dates are fixed; on a machine whose clock is before them, stay in the past.
        return min(moment, self.now - timedelta(hours=1))

    # -- steps -----------------------------------------------------------------------------

    def seed_destination(self) -> None:
        destination = Destination.load()
        destination.name = demo_data.DESTINATION_NAME
        destination.brand_name = demo_data.DESTINATION_BRAND
        destination.languages = demo_data.DESTINATION_LANGUAGES
        destination.website = demo_data.DESTINATION_WEBSITE
        destination.contact_email = demo_data.DESTINATION_CONTACT_EMAIL
        destination.save()

    def seed_wordings(self) -> None:
        for purpose, texts in demo_data.CONSENT_WORDINGS.items():
            for language, text in texts.items():
                existing = ConsentWording.objects.filter(
                    purpose=purpose, language=language, version=demo_data.CONSENT_WORDING_VERSION
                ).first()
                self.wordings[(purpose, language)] = existing or consent_wording_create(
                    purpose=purpose,
                    language=language,
                    text=text,
                    version=demo_data.CONSENT_WORDING_VERSION,
                )
        Tag.objects.bulk_create(
            [
                Tag(slug=slug, name=name, category=Tag.Category.INTEREST)
                for slug, name in demo_data.INTERESTS
            ]
            + [
                Tag(slug=slug, name=name, category=Tag.Category.LABEL)
                for slug, name in demo_data.LABELS
            ],
            ignore_conflicts=True,
        )

    def seed_guests(self) -> None:
        self.people, self.household_names = demo_data.build_people(self.rng, self.count)
        records = demo_data.build_records(self.rng, self.people)
        # First what each partner had before the CRM (clean first records), then the daily flow
        # where the same people come back through other partners, typed differently.
        total = sum(len(partner_records) for partner_records in records.values())
        done = 0
        for first_pass in (True, False):
            for slug, partner_records in records.items():
                batch = [r for r in partner_records if (r.variant == "clean") == first_pass]
                if batch:
                    self._resolve(slug, batch)
                    done += len(batch)
            self.progress(
                _("  guests: %(done)s of %(total)s partner records resolved")
                % {"done": done, "total": total}
            )

    def _resolve(self, slug: str, records: list[DemoRecord]) -> None:
        demo = self.demo_partners[slug]
        people = [
            PersonData(
                first_name=r.first_name,
                last_name=r.last_name,
                email=r.email,
                phone=r.phone,
                country=r.country,
                birth_date=r.birth_date,
                language=r.language,
                external_id=r.external_id,
            )
            for r in records
        ]
        # Imports run unattended; desks and booking engines act for their front-line agent.
        actor = self.managers[slug] if demo.source == Guest.Source.IMPORT else self.agents[slug]
        results = guest_resolve_many(
            people,
            source=demo.source,
            source_detail=demo.source_detail,
            partner=self.partners[slug],
            actor=actor,
        )
        for record, result in zip(records, results, strict=True):
            self.decisions[str(result.decision)] += 1
            if result.errors:
                # A typo can make an address invalid; a real import rejects that line too.
                self.log(
                    _("%(partner)s rejected a record: %(errors)s")
                    % {"partner": demo.name, "errors": result.errors}
                )
            if result.guest is None:
                continue
            self.guest_of_record[(slug, record.person)] = result.guest
            if result.decision != Decision.REVIEW or record.person not in self.guest_of_person:
                self.guest_of_person.setdefault(record.person, result.guest)

    def seed_households(self) -> None:
        members: dict[int, list[Guest]] = defaultdict(list)
        for person in self.people:
            guest = self.guest_of_person.get(person.key)
            if person.household is None or guest is None:
                continue
            if all(g.pk != guest.pk for g in members[person.household]):
                members[person.household].append(guest)
        for household, guests in members.items():
            if len(guests) >= 2:
                household_link(guests=guests, name=self.household_names[household])

    def seed_tags(self) -> None:
        # Straight into the join table: guest_tags_set costs an audit row and six queries per
        # guest, a third of the seed's time, for tags nobody edited.
        tag_ids = dict(Tag.objects.values_list("slug", "pk"))
        through = Guest.tags.through
        rows = {}
        for person in self.people:
            guest = self.guest_of_person.get(person.key)
            if guest is None:
                continue
            for slug in [*person.interests, *person.labels]:
                rows[(guest.pk, tag_ids[slug])] = through(guest_id=guest.pk, tag_id=tag_ids[slug])
        through.objects.bulk_create(rows.values(), ignore_conflicts=True)

    def _wording(self, purpose: str, language: str) -> ConsentWording:
        return self.wordings[(purpose, "fr" if language == "fr" else "en")]

    def _known_partners(self, person: DemoPerson) -> list[Partner]:
        return [
            self.partners[slug]
            for slug in self.partners
            if (slug, person.key) in self.guest_of_record
        ]

    def seed_consents(self) -> None:
        rng = self.rng
        office = self.partners["tourist-office"]
        for person in self.people:
            guest = self.guest_of_person.get(person.key)
            if guest is None:
                continue
            known = self._known_partners(person)
            first = known[0] if known else office
            season = rng.choice((0, 1, 1))
            given_at = self._past(demo_data.moment_in_season(rng, season))
            if person.birth_date and (given_at.date() - person.birth_date).days < 16 * 365:
                # Children's consent is their parents' to give (GDPR art. 8): none in the demo.
                continue
            method, evidence, recorded_by = self._consent_context(person, first, given_at)
            channels_for: dict[str, list[Channel]] = {
                Purpose.NEWSLETTER: [Channel.EMAIL] if person.email else [],
                Purpose.PARTNER_OFFERS: [Channel.EMAIL] if person.email else [],
            }
            if person.phone and rng.random() < 0.3:
                channels_for[Purpose.PARTNER_OFFERS].append(Channel.SMS)
            plan: list[tuple[str, list[Partner]]] = []
            if person.email and rng.random() < 0.55:
                plan.append((Purpose.NEWSLETTER, []))
            if person.email and known and rng.random() < 0.25:
                plan.append((Purpose.PARTNER_OFFERS, rng.sample(known, k=min(len(known), 2))))
            if known and rng.random() < 0.2:
                plan.append((Purpose.PROFILE_SHARING, known))
            if rng.random() < 0.15:
                plan.append((Purpose.PROFILING, []))
            for purpose, partners in plan:
                consent_record(
                    guest=guest,
                    purpose=purpose,
                    granted=True,
                    method=method,
                    partners=partners,
                    channels=channels_for[purpose] if purpose in CHANNEL_PURPOSES else [],
                    wording=self._wording(purpose, person.language),
                    occurred_at=given_at,
                    recorded_by=recorded_by,
                    recorded_by_partner=first,
                    evidence=evidence,
                )
            granted = {purpose for purpose, _p in plan}
            if Purpose.NEWSLETTER in granted and rng.random() < 0.1:
                # Unsubscribed from a newsletter link some weeks later.
                consent_record(
                    guest=guest,
                    purpose=Purpose.NEWSLETTER,
                    granted=False,
                    method=ConsentProof.Method.EMAIL_LINK,
                    channels=[Channel.EMAIL],
                    wording=None,
                    occurred_at=self._past(given_at + timedelta(days=rng.randint(7, 90))),
                    evidence={"campaign": f"newsletter-{given_at:%Y-%m}", "link": "unsubscribe"},
                )
            if rng.random() < 0.006:
                consent_object(
                    guest=guest,
                    via_partner=first,
                    method=ConsentProof.Method.DESK,
                    recorded_by=self.agents[first.slug],
                    evidence={"note": "Asked at the desk that partners stop using their data."},
                    occurred_at=self._past(given_at + timedelta(days=rng.randint(1, 120))),
                )

    def _consent_context(
        self, person: DemoPerson, partner: Partner, at: datetime
    ) -> tuple[str, dict[str, Any], User | None]:
        rng = self.rng
        demo = self.demo_partners[partner.slug]
        if demo.source == Guest.Source.DESK:
            return (
                ConsentProof.Method.DESK,
                {"desk": demo.source_detail, "paper_form": f"F-{at:%y%m%d}-{person.key:05d}"},
                self.agents[partner.slug],
            )
        if demo.source == Guest.Source.IMPORT:
            return (
                ConsentProof.Method.IMPORT,
                {"file": f"{partner.slug}-{at:%Y-%m}.csv", "line": rng.randint(2, 900)},
                self.managers[partner.slug],
            )
        return (
            ConsentProof.Method.FORM,
            {
                "url": f"https://{partner.slug}.val-neige.example/booking/confirm",
                # TEST-NET addresses: documentation ranges, never a real visitor.
                "ip": f"198.51.100.{rng.randint(1, 254)}",
                "user_agent": rng.choice(
                    (
                        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X)",
                        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/133.0",
                        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) Safari/605.1.15",
                        "Mozilla/5.0 (Linux; Android 15) Chrome/131.0 Mobile",
                    )
                ),
            },
            None,
        )

    def seed_reviews(self) -> None:
        """The tourist office has already worked through part of the review queue: it merged
        some pairs that are one person. The rest stays open for the demo."""
        people_of_guest: dict[int, set[int]] = defaultdict(set)
        for (_slug, person_key), guest in self.guest_of_record.items():
            people_of_guest[guest.pk].add(person_key)
        manager = self.managers["tourist-office"]
        office = self.partners["tourist-office"]
        pairs = PossibleDuplicate.objects.filter(status=PossibleDuplicate.Status.OPEN).order_by(
            "pk"
        )
        same_person = [
            (pair.guest_a_id, pair.guest_b_id)
            for pair in pairs
            if len(people_of_guest[pair.guest_a_id]) == 1
            and people_of_guest[pair.guest_a_id] == people_of_guest[pair.guest_b_id]
        ]
        merged: set[int] = set()
        for survivor_id, merged_id in same_person[: max(1, len(same_person) // 4)]:
            if {survivor_id, merged_id} & merged:
                continue
            guests = Guest.objects.in_bulk([survivor_id, merged_id])
            guest_merge(
                survivor=guests[survivor_id],
                merged=guests[merged_id],
                actor=manager,
                partner=office,
            )
            merged.add(merged_id)
