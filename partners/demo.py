"""The partners' part of ``manage.py seed_demo`` (registered from ``partners/apps.py``): the
demo partners with their staff logins, then two seasons of interactions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.utils.translation import gettext as _

from destination import demo_data
from destination.models import User, Visibility
from partners.models import Interaction, Membership, Partner
from partners.services import interaction_log

if TYPE_CHECKING:
    from destination.management.commands.seed_demo import DemoSeeder


def demo_partners_seed(seeder: DemoSeeder) -> None:
    """Partners, a manager and an agent for each, the demo superuser; fills
    ``seeder.partners``, ``seeder.managers`` and ``seeder.agents``."""
    # One hash per password: hashing is deliberately slow, and the demo has 23 accounts.
    hashes = {
        password: make_password(password)
        for password in (
            demo_data.ADMIN_PASSWORD,
            demo_data.MANAGER_PASSWORD,
            demo_data.AGENT_PASSWORD,
            demo_data.DPO_PASSWORD,
        )
    }
    admin, _created = User.objects.update_or_create(
        email=demo_data.ADMIN_EMAIL,
        defaults={
            "first_name": "Alex",
            "last_name": "Operator",
            "is_staff": True,
            "is_superuser": True,
            "password": hashes[demo_data.ADMIN_PASSWORD],
        },
    )
    users = [admin]
    memberships = []
    for demo in demo_data.PARTNERS:
        partner = Partner.objects.create(
            name=demo.name,
            slug=demo.slug,
            kind=demo.kind,
            email=demo.email,
            website=f"https://{demo.slug}.val-neige.example",
            description=demo.description,
        )
        seeder.partners[demo.slug] = partner
        for role, email, (first, last), password, bucket in (
            (
                Membership.Role.MANAGER,
                demo.manager_email,
                demo.manager_name,
                demo_data.MANAGER_PASSWORD,
                seeder.managers,
            ),
            (
                Membership.Role.AGENT,
                demo.agent_email,
                demo.agent_name,
                demo_data.AGENT_PASSWORD,
                seeder.agents,
            ),
        ):
            user, _created = User.objects.update_or_create(
                email=email,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "password": hashes[password],
                    "language": "fr",
                },
            )
            bucket[demo.slug] = user
            users.append(user)
            memberships.append(Membership(user=user, partner=partner, role=role))
    dpo, _created = User.objects.update_or_create(
        email=demo_data.DPO_EMAIL,
        defaults={
            "first_name": "Dominique",
            "last_name": "Protection",
            "password": hashes[demo_data.DPO_PASSWORD],
            "language": "fr",
        },
    )
    users.append(dpo)
    memberships.append(
        Membership(
            user=dpo, partner=seeder.partners[demo_data.DPO_PARTNER], role=Membership.Role.AGENT
        )
    )
    # Migration destination 0009 makes the group; a flushed test database lost it (the
    # permission itself comes back with post_migrate).
    group, _created = Group.objects.get_or_create(name=demo_data.DPO_GROUP)
    group.permissions.add(
        Permission.objects.get(
            content_type__app_label="destination", codename="export_complete_guest_data"
        )
    )
    dpo.groups.add(group)
    Membership.objects.bulk_create(memberships)
    # allauth signs people in by a verified, primary EmailAddress of theirs.
    EmailAddress.objects.bulk_create(
        [EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users],
        ignore_conflicts=True,
    )


def demo_interactions_seed(seeder: DemoSeeder) -> None:
    """Two seasons of interactions of each partner with the guests it knows."""
    rng = seeder.rng
    person_by_key = {p.key: p for p in seeder.people}
    visits = {
        p.key: rng.choices(((0,), (1,), (0, 1)), weights=(25, 50, 25))[0] for p in seeder.people
    }
    records = list(seeder.guest_of_record.items())
    every = max(1, len(records) // 5)
    logged = 0
    for index, ((slug, person_key), guest) in enumerate(records, start=1):
        if index % every == 0:
            seeder.progress(
                _("  interactions: %(logged)s logged, %(done)s of %(total)s relationships")
                % {"logged": logged, "done": index, "total": len(records)}
            )
        person = person_by_key[person_key]
        demo = seeder.demo_partners[slug]
        kinds = demo_data.INTERACTION_KINDS[demo.kind]
        for season in visits[person_key]:
            for _n in range(rng.choices((0, 1, 2, 3), weights=(50, 35, 12, 3))[0]):
                kind = rng.choices(list(kinds), weights=list(kinds.values()))[0]
                private = rng.random() < demo_data.PRIVATE_SHARE.get(kind, 0.05)
                interaction_log(
                    guest=guest,
                    partner=seeder.partners[slug],
                    staff=rng.choice(
                        (seeder.agents[slug], seeder.agents[slug], seeder.managers[slug])
                    ),
                    kind=kind,
                    channel=rng.choice(demo_data.INTERACTION_CHANNELS[kind]),
                    summary=demo_data.interaction_summary(rng, kind, person.language),
                    occurred_at=seeder._past(demo_data.moment_in_season(rng, season)),
                    visibility=Visibility.PRIVATE if private else Visibility.SHARED,
                )
                logged += 1


def demo_partners_summary(seeder: DemoSeeder) -> dict[str, Any]:
    return {
        _("Partners"): Partner.objects.count(),
        _("Staff accounts"): User.objects.filter(memberships__isnull=False).distinct().count(),
    }


def demo_interactions_summary(seeder: DemoSeeder) -> dict[str, Any]:
    return {
        _("Interactions"): Interaction.objects.count(),
        _("Private interactions"): Interaction.objects.filter(
            visibility=Visibility.PRIVATE
        ).count(),
    }
