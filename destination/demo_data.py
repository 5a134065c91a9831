"""Fixtures for ``manage.py seed_demo``: a fictitious ski destination, Val Neige, its partners,
their staff logins and generators for guests that arrive through several partners the way real
people do (typos, swapped names, national phone formats, shared family emails, homonyms).

Everything here is plain data and pure functions over a ``random.Random``, so one seed always
gives the same destination; the command does the database work.

Guest emails use the reserved ``.example`` top-level domain and staff emails ``.demo``, so demo
data can never mail a real person.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

import phonenumbers
from django.utils.translation import gettext_lazy as _

from destination.normalize import fold

DESTINATION_NAME = "Val Neige"
DESTINATION_BRAND = "Neige United"
DESTINATION_LANGUAGES = "fr,en,de,nl,it,es"
DESTINATION_WEBSITE = "https://www.val-neige.example"
DESTINATION_CONTACT_EMAIL = "hello@val-neige.example"

ADMIN_EMAIL = "admin@destination.demo"
ADMIN_PASSWORD = "demo-admin"  # noqa: S105 - a published demo login
MANAGER_PASSWORD = "demo-manager"  # noqa: S105
AGENT_PASSWORD = "demo-agent"  # noqa: S105
# The destination's data-protection officer: an agent of the tourist office (to find guests in
# the portal) in the "Data protection officer" group (the complete subject-access export).
DPO_EMAIL = "dpo@destination.demo"
DPO_PASSWORD = "demo-dpo"  # noqa: S105
DPO_GROUP = "Data protection officer"
DPO_PARTNER = "tourist-office"


@dataclass(frozen=True)
class DemoPartner:
    slug: str
    name: str
    kind: str  # partners.models.Partner.Kind value
    # How this partner's guests reach the shared profile (destination.models.Guest.Source value).
    source: str
    source_detail: str
    description: str
    # Share of the demo guests this partner knows; a guest can be known by several partners.
    reach: float
    manager_name: tuple[str, str]
    agent_name: tuple[str, str]

    @property
    def email(self) -> str:
        return f"contact@{self.slug}.demo"

    @property
    def manager_email(self) -> str:
        return f"manager@{self.slug}.demo"

    @property
    def agent_email(self) -> str:
        return f"agent@{self.slug}.demo"


PARTNERS: tuple[DemoPartner, ...] = (
    DemoPartner(
        slug="tourist-office",
        name="Office de Tourisme de Val Neige",
        kind="tourist_office",
        source="desk",
        source_detail="Welcome desk",
        description="Welcome desk, events and the destination newsletter; steward of shared data.",
        reach=0.35,
        manager_name=("Claire", "Jacquier"),
        agent_name=("Bastien", "Favre"),
    ),
    DemoPartner(
        slug="booking-desk",
        name="Val Neige Réservations",
        kind="booking_desk",
        source="booking",
        source_detail="Central booking engine",
        description="Central booking service for lodging, lift passes and packages.",
        reach=0.45,
        manager_name=("Nathalie", "Pellissier"),
        agent_name=("Yanis", "Buisson"),
    ),
    DemoPartner(
        slug="ski-school-1",
        name="École de Ski Les Sommets",
        kind="ski_school",
        source="import",
        source_detail="Les Sommets lesson export",
        description="Group and private ski and snowboard lessons, kids' club from 3 years old.",
        reach=0.3,
        manager_name=("Marc", "Tissot"),
        agent_name=("Emma", "Vuillermoz"),
    ),
    DemoPartner(
        slug="ski-school-2",
        name="Glisse Académie",
        kind="ski_school",
        source="import",
        source_detail="Glisse Académie lesson export",
        description="Independent instructors: off-piste, freestyle and ski touring.",
        reach=0.18,
        manager_name=("Sophie", "Perrière"),
        agent_name=("Hugo", "Mermoz"),
    ),
    DemoPartner(
        slug="lodging-1",
        name="Hôtel Les Cimes",
        kind="lodging",
        source="booking",
        source_detail="Hotel property system",
        description="Four-star hotel at the foot of the slopes, spa and restaurant.",
        reach=0.14,
        manager_name=("Isabelle", "Rey"),
        agent_name=("Karim", "Benali"),
    ),
    DemoPartner(
        slug="lodging-2",
        name="Résidence Le Chamois",
        kind="lodging",
        source="booking",
        source_detail="Residence booking system",
        description="Self-catering apartments for families, ski-in ski-out.",
        reach=0.16,
        manager_name=("Olivier", "Gros"),
        agent_name=("Léa", "Mugnier"),
    ),
    DemoPartner(
        slug="lodging-3",
        name="Chalet des Marmottes",
        kind="lodging",
        source="booking",
        source_detail="Chalet bookings",
        description="Catered chalets for groups of eight to fourteen.",
        reach=0.06,
        manager_name=("James", "Whitfield"),
        agent_name=("Chloé", "Cattin"),
    ),
    DemoPartner(
        slug="rental-1",
        name="Neige Sport Location",
        kind="equipment_rental",
        source="desk",
        source_detail="Rental counter",
        description="Ski, snowboard and boot rental, boot fitting.",
        reach=0.22,
        manager_name=("Thierry", "Blanc"),
        agent_name=("Jade", "Collomb"),
    ),
    DemoPartner(
        slug="rental-2",
        name="Alti Glisse Shop",
        kind="equipment_rental",
        source="desk",
        source_detail="Rental counter",
        description="Premium rental and ski touring equipment.",
        reach=0.12,
        manager_name=("Romain", "Guillot"),
        agent_name=("Inès", "Arnaud"),
    ),
    DemoPartner(
        slug="restaurant",
        name="La Bergerie d'Altitude",
        kind="restaurant",
        source="desk",
        source_detail="Table reservations",
        description="Mountain restaurant at 2,300 m, Savoyard cuisine.",
        reach=0.1,
        manager_name=("Pascal", "Duc"),
        agent_name=("Manon", "Girod"),
    ),
    DemoPartner(
        slug="activity",
        name="Val Neige Aventures",
        kind="activity",
        source="desk",
        source_detail="Activity desk",
        description="Dog sledding, snowshoe outings, paragliding and the toboggan run.",
        reach=0.1,
        manager_name=("Lucie", "Bochet"),
        agent_name=("Axel", "Chenal"),
    ),
)


@dataclass(frozen=True)
class DemoLogin:
    partner: str
    role: str
    email: str
    password: str


def demo_logins() -> list[DemoLogin]:
    """Every demo login, the operator first; the README's login table is this list."""
    logins = [DemoLogin(str(_("Operator (superuser)")), "admin", ADMIN_EMAIL, ADMIN_PASSWORD)]
    for partner in PARTNERS:
        logins.append(DemoLogin(partner.name, "manager", partner.manager_email, MANAGER_PASSWORD))
        logins.append(DemoLogin(partner.name, "agent", partner.agent_email, AGENT_PASSWORD))
    office = next(p.name for p in PARTNERS if p.slug == DPO_PARTNER)
    logins.append(DemoLogin(office, str(_("data-protection officer")), DPO_EMAIL, DPO_PASSWORD))
    return logins


def demo_logins_table() -> str:
    """The logins as a Markdown table, ready to paste into the README."""
    rows = [
        f"| {_('Partner')} | {_('Role')} | {_('Email')} | {_('Password')} |",
        "|---|---|---|---|",
    ]
    rows += [f"| {x.partner} | {x.role} | {x.email} | {x.password} |" for x in demo_logins()]
    return "\n".join(rows)


# --- People -----------------------------------------------------------------------------------

# Country -> (weight, languages spoken there, name pools).
COUNTRIES: dict[str, tuple[int, tuple[str, ...]]] = {
    "FR": (40, ("fr",)),
    "GB": (14, ("en",)),
    "BE": (10, ("fr", "nl")),
    "NL": (8, ("nl",)),
    "DE": (7, ("de",)),
    "CH": (6, ("fr", "de")),
    "IT": (5, ("it",)),
    "ES": (5, ("es",)),
    "US": (5, ("en",)),
}

FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "fr": (
        "Jean", "Marie", "Pierre", "Camille", "Léa", "Chloé", "Hélène", "Élodie", "François",
        "Jérôme", "Benoît", "Théo", "Inès", "Maëlle", "Noémie", "Clément", "Mathéo", "Anaïs",
        "Sébastien", "Stéphane", "Céline", "Gaëlle", "Loïc", "Aurélie", "Julien", "Thomas",
        "Nicolas", "Sophie", "Manon", "Lucas", "Hugo", "Emma", "Louise", "Jules", "Arthur", "Zoé",
        "Raphaël", "Margaux", "Océane", "Valérie", "Amélie", "Bérénice", "Grégoire", "Timothée",
    ),
    "en": (
        "Oliver", "Jack", "Harry", "George", "Charlie", "Amelia", "Olivia", "Isla", "Emily",
        "Poppy", "Sophie", "James", "William", "Thomas", "Lucy", "Charlotte", "Hannah", "Daniel",
        "Matthew", "Rebecca", "Chloe", "Sarah", "Michael", "David", "Emma", "Jessica", "Ethan",
        "Noah", "Grace", "Ella", "Freddie", "Imogen", "Alfie", "Harriet",
    ),
    "de": (
        "Lukas", "Leon", "Finn", "Jonas", "Paul", "Felix", "Maximilian", "Jürgen", "Björn",
        "Sören", "Anna", "Lena", "Leonie", "Hannah", "Mia", "Lea", "Jana", "Katharina", "Sabine",
        "Ursula", "Jörg", "Günther", "Käthe", "Lotte", "Niklas", "Tobias", "Sebastian", "Julia",
        "Laura", "Matthias", "Andrea", "Reto", "Urs", "Nadja",
    ),
    "nl": (
        "Daan", "Sem", "Levi", "Lucas", "Bram", "Thijs", "Ruben", "Jesse", "Sanne", "Fleur",
        "Anouk", "Lotte", "Femke", "Eva", "Sophie", "Julia", "Lieke", "Maud", "Noor", "Tess",
        "Joris", "Pieter", "Wouter", "Koen", "Jeroen", "Marloes", "Inge", "Ilse", "Sven", "Bart",
    ),
    "it": (
        "Francesco", "Alessandro", "Lorenzo", "Matteo", "Leonardo", "Andrea", "Giulia", "Sofia",
        "Aurora", "Alice", "Ginevra", "Chiara", "Niccolò", "Gabriele", "Martina", "Federica",
        "Elisa", "Davide", "Simone", "Marco", "Beatrice", "Tommaso",
    ),
    "es": (
        "Hugo", "Martín", "Lucas", "Mateo", "Leo", "Daniel", "Alejandro", "Pablo", "Álvaro",
        "Adrián", "Lucía", "Sofía", "Martina", "María", "Julia", "Paula", "Valeria", "Emma",
        "Daniela", "Carla", "José", "Iñaki", "Begoña", "Núria", "Jordi", "Ramón",
    ),
}  # fmt: skip

LAST_NAMES: dict[str, tuple[str, ...]] = {
    "FR": (
        "Martin", "Bernard", "Dubois", "Durand", "Lefèvre", "Leroy", "Moreau", "Simon", "Laurent",
        "Lefebvre", "Michel", "Roux", "Fournier", "Girard", "Bonnet", "Dupont", "Lambert",
        "Fontaine", "Rousseau", "Vincent", "Faure", "André", "Mercier", "Blanc", "Guérin", "Boyer",
        "Garnier", "Chevalier", "Legrand", "Gauthier", "Perrin", "Robin", "Morin", "Henry",
        "Roussel", "Mathieu", "Masson", "Marchand", "Duval", "Dumont", "Lemaire", "Noël", "Dufour",
        "Meunier", "Brun", "Blanchard", "Giraud", "Joly", "Rivière", "Brunet", "Gaillard",
        "Barbier", "Arnaud", "Favre", "Jacquier", "Pellissier", "Tissot", "Bérard", "Lécuyer",
    ),
    "GB": (
        "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
        "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
        "Wood", "Jackson", "Clarke", "O'Brien", "McDonald", "Hughes", "Edwards", "Turner",
        "Harris", "Cooper", "King", "Baker", "Fletcher", "Ashworth", "Pemberton",
    ),
    "US": (
        "Smith", "Johnson", "Miller", "Davis", "Anderson", "Thomas", "Moore", "Martin", "Lee",
        "Walker", "Allen", "Young", "Hernandez", "Nguyen", "Carter", "Mitchell", "Campbell",
        "Parker", "Collins", "Stewart", "Murphy", "Rivera", "Cook", "Bailey",
    ),
    "DE": (
        "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
        "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder",
        "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange",
        "Weiß", "Köhler", "Huber",
    ),
    "CH": (
        "Keller", "Brunner", "Gerber", "Frei", "Baumann", "Steiner", "Moser", "Meier", "Huber",
        "Favre", "Rochat", "Bonvin", "Fellay", "Zufferey", "Perruchoud", "Müller", "Schmid",
        "Gasser", "Imhof", "Ritz",
    ),
    "NL": (
        "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen",
        "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters",
        "Hendriks", "van Leeuwen", "Dekker", "Brouwer", "de Wit", "Dijkstra", "Smits", "de Graaf",
        "van der Meer",
    ),
    "BE": (
        "Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens",
        "Wouters", "De Smet", "Dubois", "Lambert", "Dupont", "Martin", "Lejeune", "Renard",
        "Leclercq", "Simon", "Hermans", "Michiels", "Van Damme", "Lemmens",
    ),
    "IT": (
        "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
        "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano",
        "Rizzo", "Lombardi", "Moretti", "Nicolò", "Fabbri",
    ),
    "ES": (
        "García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez",
        "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez",
        "Romero", "Alonso", "Gutiérrez", "Navarro", "Torres", "Domínguez", "Vázquez", "Ramos",
    ),
}  # fmt: skip

EMAIL_DOMAINS: dict[str, tuple[str, ...]] = {
    "fr": ("courriel.example", "boitemail.example", "lamouette.example", "mail.example"),
    "en": ("mailbox.example", "inbox.example", "postbox.example", "mail.example"),
    "de": ("postfach.example", "webpost.example", "mail.example"),
    "nl": ("brievenbus.example", "postbus.example", "mail.example"),
    "it": ("posta.example", "casella.example", "mail.example"),
    "es": ("correo.example", "buzon.example", "mail.example"),
}

# National mobile prefixes (after the trunk prefix) and the national significant number length.
MOBILE_PLANS: dict[str, tuple[tuple[str, ...], int, str]] = {
    # region: (first digits of the national significant number, its length, trunk prefix)
    "FR": (("6", "7"), 9, "0"),
    "GB": (("74", "75", "77", "78", "79"), 10, "0"),
    "BE": (("470", "471", "472", "475", "476", "477", "478", "479", "484", "485", "486", "487", "488", "489", "494", "495", "496", "497", "498", "499"), 9, "0"),
    "NL": (("6",), 9, "0"),
    "DE": (("151", "152", "157", "160", "162", "170", "171", "172", "175", "176"), 11, "0"),
    "CH": (("76", "77", "78", "79"), 9, "0"),
    "IT": (("320", "328", "333", "338", "340", "347", "348", "349", "366", "380"), 10, ""),
    "ES": (("6",), 9, ""),
    "US": (("212", "303", "312", "415", "617", "646", "720", "802", "917"), 10, "1"),
}  # fmt: skip

INTERESTS: tuple[tuple[str, str], ...] = (
    ("alpine-skiing", "Alpine skiing"),
    ("snowboard", "Snowboard"),
    ("ski-touring", "Ski touring"),
    ("cross-country", "Cross-country skiing"),
    ("snowshoeing", "Snowshoeing"),
    ("freeride", "Freeride"),
    ("family", "Family holidays"),
    ("kids-club", "Kids' club"),
    ("gastronomy", "Gastronomy"),
    ("wellness", "Spa and wellness"),
    ("nightlife", "Après-ski and nightlife"),
    ("events", "Events and concerts"),
    ("dog-sledding", "Dog sledding"),
    ("summer", "Summer holidays"),
)
LABELS: tuple[tuple[str, str], ...] = (
    ("vip", "VIP"),
    ("season-pass", "Season pass holder"),
    ("repeat-visitor", "Repeat visitor"),
    ("group-leader", "Group leader"),
    ("accessibility", "Accessibility needs"),
)


@dataclass
class DemoPerson:
    """A real person of the demo world, before any partner typed them in."""

    key: int
    first_name: str
    last_name: str
    email: str
    phone: str  # E.164, or "" when nobody has it
    country: str
    language: str
    birth_date: date | None
    household: int | None = None
    interests: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)


@dataclass
class DemoRecord:
    """How one partner's system holds a person: possibly with typos, missing data, other formats."""

    person: int
    partner: str
    first_name: str
    last_name: str
    email: str
    phone: str
    country: str
    language: str
    birth_date: date | None
    external_id: str
    variant: str  # which real-life mess this record carries, for the seed's report


def ascii_fold(text: str) -> str:
    return "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
    )


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _mobile(rng: random.Random, region: str) -> str:
    """A random mobile number that phonenumbers accepts as valid, in E.164."""
    prefixes, length, _trunk = MOBILE_PLANS[region]
    for _attempt in range(50):
        prefix = rng.choice(prefixes)
        national = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix)))
        if region == "US":
            # Exchange codes start 2-9; 555 keeps the number in the fictional range.
            national = prefix + "555" + "".join(rng.choice("0123456789") for _ in range(4))
        number = phonenumbers.parse(
            "+" + str(phonenumbers.country_code_for_region(region)) + national
        )
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise RuntimeError(f"No valid mobile number generated for {region}")


def national_format(e164: str) -> str:
    """ "+33612345678" -> "06 12 34 56 78": how people type their own number at home."""
    number = phonenumbers.parse(e164)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def _email_for(rng: random.Random, first: str, last: str, language: str, birth: date | None) -> str:
    f = fold(first).replace(" ", "")
    l_ = fold(last).replace(" ", "")
    domain = rng.choice(EMAIL_DOMAINS[language])
    year = str(birth.year) if birth else str(rng.randint(60, 99))
    local = rng.choice(
        (
            f"{f}.{l_}",
            f"{f}{l_}",
            f"{f[0]}.{l_}",
            f"{f}.{l_}{year[-2:]}",
            f"{f}_{l_}",
            f"{l_}.{f}",
            f"{f}{year}",
        )
    )
    return f"{local}@{domain}"


def _birth_date(rng: random.Random, adult: bool = True) -> date:
    if adult:
        start, days = date(1950, 1, 1), 365 * 52
    else:
        start, days = date(2008, 1, 1), 365 * 15
    return start + timedelta(days=rng.randrange(days))


def build_people(rng: random.Random, count: int) -> tuple[list[DemoPerson], dict[int, str]]:
    """``count`` distinct people; about a quarter travel as families or couples sharing a
    household (children share a parent's email), and a few are homonyms of someone else.

    Returns the people and the household names by household number.
    """
    countries = {code: weight for code, (weight, _langs) in COUNTRIES.items()}
    people: list[DemoPerson] = []
    households: dict[int, str] = {}

    def interests() -> list[str]:
        return rng.sample([slug for slug, _name in INTERESTS], k=rng.choice((0, 1, 2, 2, 3, 4)))

    while len(people) < count:
        country = _weighted(rng, countries)
        language = rng.choice(COUNTRIES[country][1])
        last = rng.choice(LAST_NAMES[country])
        shape = rng.random()
        if shape < 0.09 and count - len(people) >= 5:
            # A family: two parents, one to three children. Children are often booked under a
            # parent's address, which identity resolution must not read as the parent.
            household = len(households) + 1
            households[household] = str(_("%(name)s family") % {"name": last})
            names = rng.sample(FIRST_NAMES[language], 5)
            birth = _birth_date(rng)
            family_email = _email_for(rng, names[0], last, language, birth)
            tags = [*interests(), "family"]
            members: list[tuple[str, bool, date | None]] = [
                (names[0], True, birth),
                (names[1], True, _birth_date(rng)),
            ]
            members += [
                (names[2 + n], False, _birth_date(rng, adult=False))
                for n in range(rng.randint(1, 3))
            ]
            for index, (first, adult, born) in enumerate(members):
                if index == 0:
                    email = family_email
                elif index == 1:
                    own = rng.random() < 0.5
                    email = _email_for(rng, first, last, language, born) if own else family_email
                else:
                    email = family_email if rng.random() < 0.6 else ""
                people.append(
                    DemoPerson(
                        key=len(people),
                        first_name=first,
                        last_name=last,
                        email=email,
                        phone=_mobile(rng, country) if adult else "",
                        country=country,
                        language=language,
                        birth_date=born,
                        household=household,
                        interests=sorted(set(tags)),
                    )
                )
            continue
        if shape < 0.17 and count - len(people) >= 2:
            household = len(households) + 1
            partner_last = rng.choice(LAST_NAMES[country])
            households[household] = f"{last} - {partner_last}" if partner_last != last else last
            for first, surname in ((rng.choice(FIRST_NAMES[language]), last),
                                   (rng.choice(FIRST_NAMES[language]), partner_last)):  # fmt: skip
                born = _birth_date(rng)
                people.append(
                    DemoPerson(
                        key=len(people),
                        first_name=first,
                        last_name=surname,
                        email=_email_for(rng, first, surname, language, born),
                        phone=_mobile(rng, country) if rng.random() < 0.8 else "",
                        country=country,
                        language=language,
                        birth_date=born,
                        household=household,
                        interests=interests(),
                    )
                )
            continue
        first = rng.choice(FIRST_NAMES[language])
        born = _birth_date(rng) if rng.random() < 0.7 else None
        person = DemoPerson(
            key=len(people),
            first_name=first,
            last_name=last,
            email=_email_for(rng, first, last, language, born) if rng.random() < 0.93 else "",
            phone=_mobile(rng, country) if rng.random() < 0.65 else "",
            country=country,
            language=language,
            birth_date=born,
            interests=interests(),
        )
        compatriots = [p for p in people[-200:] if p.country == country]
        if compatriots and rng.random() < 0.02:
            # A homonym: same name as someone already there, a different person.
            other = rng.choice(compatriots)
            person.first_name, person.last_name = other.first_name, other.last_name
            person.email = _email_for(rng, other.first_name, other.last_name, language, born)
        if rng.random() < 0.06:
            person.labels.append(rng.choice(LABELS)[0])
        people.append(person)

    # Unique emails per person except where a family shares one on purpose.
    seen: dict[str, int | None] = {}
    for person in people:
        if not person.email:
            continue
        owner = seen.get(person.email, -1)
        if owner != -1 and (owner is None or owner != person.household):
            local, _sep, domain = person.email.partition("@")
            person.email = f"{local}{person.key}@{domain}"
        seen.setdefault(person.email, person.household)
    return people, households


def _typo(rng: random.Random, word: str) -> str:
    """One keyboard slip: two letters swapped, one doubled or one dropped."""
    if len(word) < 4:
        return word + word[-1]
    i = rng.randrange(1, len(word) - 2)
    kind = rng.randrange(3)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    return word[:i] + word[i + 1 :]


def _messy_case(rng: random.Random, email: str) -> str:
    local, _sep, domain = email.partition("@")
    local = ".".join(part.capitalize() for part in local.split("."))
    return rng.choice(("  ", " ", "")) + f"{local}@{domain.capitalize()}" + rng.choice((" ", ""))


def record_variant(rng: random.Random, person: DemoPerson, partner: DemoPartner) -> DemoRecord:
    """The person as typed into ``partner``'s system. The first partner gets it clean; each
    later one carries one kind of real-life mess."""
    record = DemoRecord(
        person=person.key,
        partner=partner.slug,
        first_name=person.first_name,
        last_name=person.last_name,
        email=person.email,
        phone=person.phone,
        country=person.country,
        language=person.language,
        birth_date=person.birth_date,
        external_id=f"{partner.slug.upper()}-{person.key:06d}"
        if partner.source == "import"
        else "",
        variant="clean",
    )
    # Desks and counters rarely ask for a birth date.
    if partner.source == "desk" and rng.random() < 0.7:
        record.birth_date = None
    return record


VARIANTS: dict[str, int] = {
    "clean": 30,
    "email_case": 14,  # "  Jean.Martin@Courriel.example "
    "phone_national": 12,  # "06 12 34 56 78" instead of +33...
    "accents_dropped": 10,  # "Helene Lefevre"
    "swapped_names": 6,  # first and last name fields swapped at a counter
    "name_typo": 8,  # "Jérome Martni", same email
    "phone_only": 8,  # a counter kept only the phone
    "email_typo": 6,  # "jean.martni@courriel.example": nothing exact, fuzzy on name + birth
    "new_email": 6,  # a work address this time, nothing exact in common
}


def messy_copy(rng: random.Random, record: DemoRecord) -> DemoRecord:
    """A later partner's copy of a record, with one kind of real-life mess."""
    variant = _weighted(rng, VARIANTS)
    mess = replace(record, variant=variant)
    if variant == "email_case" and mess.email:
        mess.email = _messy_case(rng, mess.email)
    elif variant == "phone_national" and mess.phone:
        mess.phone = national_format(mess.phone)
        if rng.random() < 0.3:
            mess.phone = mess.phone.replace(" ", ".")
    elif variant == "accents_dropped":
        mess.first_name, mess.last_name = ascii_fold(mess.first_name), ascii_fold(mess.last_name)
        if rng.random() < 0.5:
            mess.last_name = mess.last_name.upper()
    elif variant == "swapped_names":
        mess.first_name, mess.last_name = mess.last_name, mess.first_name
    elif variant == "name_typo":
        mess.last_name = _typo(rng, mess.last_name)
    elif variant == "phone_only" and mess.phone:
        mess.email = ""
    elif variant == "email_typo" and mess.email:
        local, _sep, domain = mess.email.partition("@")
        mess.email = f"{_typo(rng, local)}@{domain}"
        mess.phone = ""
    elif variant == "new_email":
        mess.email = f"{fold(mess.first_name)[:1]}.{fold(mess.last_name).replace(' ', '')}@work-{rng.randint(1, 40)}.example"
        mess.phone = ""
    else:
        mess.variant = "clean"
    return mess


def build_records(rng: random.Random, people: list[DemoPerson]) -> dict[str, list[DemoRecord]]:
    """Which partner knows whom, and how each partner typed them, by partner slug.

    A person is known by one to four partners (each partner's ``reach`` weights the draw); the
    first one records them cleanly, the others with ``messy_copy``. A family usually books
    together, so children come through the parents' partners.
    """
    by_slug = {partner.slug: partner for partner in PARTNERS}
    weights = {partner.slug: int(partner.reach * 100) for partner in PARTNERS}
    records: dict[str, list[DemoRecord]] = {partner.slug: [] for partner in PARTNERS}
    household_partners: dict[int, list[str]] = {}
    for person in people:
        if person.household is not None and person.household in household_partners:
            slugs = household_partners[person.household]
        else:
            n = rng.choices((1, 2, 3, 4), weights=(50, 30, 14, 6))[0]
            slugs = []
            while len(slugs) < n:
                slug = _weighted(rng, weights)
                if slug not in slugs:
                    slugs.append(slug)
            if person.household is not None:
                household_partners[person.household] = slugs
        first = record_variant(rng, person, by_slug[slugs[0]])
        records[slugs[0]].append(first)
        for slug in slugs[1:]:
            base = record_variant(rng, person, by_slug[slug])
            # Family members without their own contact details are typed cleanly: the
            # parents' records carry the mess.
            copy = messy_copy(rng, base) if person.email or person.phone else base
            records[slug].append(copy)
    return records


# --- Seasons, consents and interactions --------------------------------------------------------

SEASONS: tuple[tuple[str, datetime, datetime], ...] = (
    ("2024-25", datetime(2024, 12, 7, tzinfo=UTC), datetime(2025, 4, 21, tzinfo=UTC)),
    ("2025-26", datetime(2025, 12, 6, tzinfo=UTC), datetime(2026, 4, 20, tzinfo=UTC)),
)


def moment_in_season(rng: random.Random, season: int) -> datetime:
    """A daytime moment in a season, busier at Christmas and in February."""
    _label, start, end = SEASONS[season]
    days = (end - start).days
    day = int(rng.triangular(0, days, days * 0.45))
    hour = rng.choice((8, 9, 9, 10, 11, 12, 14, 15, 16, 17, 17, 18))
    return start + timedelta(days=day, hours=hour, minutes=rng.randrange(60))


CONSENT_WORDINGS: dict[str, dict[str, str]] = {
    "newsletter": {
        "fr": "J'accepte de recevoir la lettre d'information de Val Neige (actualités, événements, "
        "offres de la station). Je peux me désinscrire à tout moment.",
        "en": "I agree to receive the Val Neige newsletter (news, events and resort offers). I can "
        "unsubscribe at any time.",
    },
    "partner_offers": {
        "fr": "J'accepte de recevoir les offres des partenaires de Val Neige cités ci-dessus.",
        "en": "I agree to receive offers from the Val Neige partners named above.",
    },
    "profile_sharing": {
        "fr": "J'accepte que mon profil (coordonnées, centres d'intérêt, historique) soit partagé "
        "avec les partenaires de Val Neige cités ci-dessus pour mieux m'accueillir.",
        "en": "I agree that my profile (contact details, interests, history) is shared with the "
        "Val Neige partners named above so they can welcome me better.",
    },
    "profiling": {
        "fr": "J'accepte que Val Neige utilise mes séjours et mes centres d'intérêt pour "
        "personnaliser ses messages.",
        "en": "I agree that Val Neige uses my stays and interests to personalise its messages.",
    },
}
CONSENT_WORDING_VERSION = "2024-11"

# Interaction summaries by kind, in French and English; staff write in the guest's language
# when it is one of these, in English otherwise.
INTERACTION_TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "desk_visit": {
        "fr": (
            "Passage à l'accueil : demande de plan des pistes et horaires des navettes.",
            "Renseignements sur les forfaits famille et la carte piéton.",
            "Réservation d'une sortie raquettes pour {n} personnes.",
            "Récupération d'un objet perdu (gants) au bureau.",
            "Questions sur les animations de la semaine et le feu d'artifice.",
        ),
        "en": (
            "Came to the desk for a piste map and shuttle times.",
            "Asked about family lift passes and the pedestrian pass.",
            "Booked a snowshoe outing for {n} people.",
            "Collected lost property (gloves) at the desk.",
            "Asked about this week's events and the fireworks.",
        ),
    },
    "call": {
        "fr": (
            "Appel pour modifier les dates du séjour, décalé de {n} jours.",
            "Appel : demande de devis pour un groupe de {n} personnes.",
            "Rappel suite au message vocal, question sur l'accès en train.",
        ),
        "en": (
            "Called to move the stay by {n} days.",
            "Called for a quote for a group of {n} people.",
            "Called back after a voicemail; asked about getting here by train.",
        ),
    },
    "email": {
        "fr": (
            "Email : demande de facture pour le comité d'entreprise.",
            "Email : question sur les conditions d'annulation.",
        ),
        "en": (
            "Email asking for an invoice for their employer.",
            "Email about cancellation terms.",
        ),
    },
    "lesson_feedback": {
        "fr": (
            "Cours collectif niveau {level} : très bonne progression, prêt pour le niveau suivant.",
            "Cours particulier : travail des virages courts, à revoir en poudreuse.",
            "Enfant un peu fatigué en fin de semaine, mais a obtenu son {level}.",
        ),
        "en": (
            "Group lesson, level {level}: great progress, ready for the next level.",
            "Private lesson: worked on short turns, needs more practice in powder.",
            "Child tired by the end of the week but passed {level}.",
        ),
    },
    "request": {
        "fr": (
            "Demande un casier à skis proche du front de neige.",
            "Souhaite une chambre au calme, côté vallée.",
            "Demande un moniteur parlant {language_name}.",
        ),
        "en": (
            "Asked for a ski locker near the slopes.",
            "Would like a quiet room on the valley side.",
            "Asked for an instructor who speaks {language_name}.",
        ),
    },
    "complaint": {
        "fr": (
            "Réclamation : chaussures de location trop petites, échangées sur place.",
            "Réclamation : bruit dans la résidence la nuit, geste commercial proposé.",
            "Mécontent de l'attente au télésiège, transmis au service des pistes.",
        ),
        "en": (
            "Complaint: rental boots too small, swapped on the spot.",
            "Complaint: night-time noise in the residence; goodwill gesture offered.",
            "Unhappy with the chairlift queue; passed on to the lift company.",
        ),
    },
    "note": {
        "fr": (
            "Client fidèle, vient chaque année en février.",
            "Allergie aux fruits à coque signalée pour le restaurant.",
            "Paiement en plusieurs fois accordé.",
        ),
        "en": (
            "Loyal guest, comes every February.",
            "Nut allergy reported for the restaurant.",
            "Payment in instalments agreed.",
        ),
    },
}

# Which kinds of interaction each kind of partner logs, with weights.
INTERACTION_KINDS: dict[str, dict[str, int]] = {
    "tourist_office": {"desk_visit": 6, "call": 2, "email": 2, "request": 1, "complaint": 1},
    "booking_desk": {"call": 5, "email": 4, "request": 2, "complaint": 1, "note": 1},
    "ski_school": {"lesson_feedback": 6, "call": 1, "request": 1, "complaint": 1, "note": 1},
    "lodging": {"request": 3, "call": 2, "email": 2, "complaint": 1, "note": 2},
    "equipment_rental": {"desk_visit": 4, "complaint": 1, "request": 1, "note": 1},
    "restaurant": {"call": 3, "request": 2, "note": 2, "complaint": 1},
    "activity": {"desk_visit": 3, "call": 2, "request": 1, "note": 1},
}
INTERACTION_CHANNELS: dict[str, tuple[str, ...]] = {
    "desk_visit": ("in_person",),
    "call": ("phone",),
    "email": ("email",),
    "lesson_feedback": ("in_person",),
    "request": ("email", "phone", "in_person", "web", "chat"),
    "complaint": ("in_person", "email", "phone"),
    "note": ("in_person", "phone"),
}
# Notes and complaints often say things a partner keeps to itself (payment, health, disputes).
PRIVATE_SHARE: dict[str, float] = {"note": 0.6, "complaint": 0.35}
SKI_LEVELS = ("Ourson", "Flocon", "1re Étoile", "2e Étoile", "3e Étoile", "Étoile de Bronze")
LANGUAGE_NAMES = {"fr": "français", "en": "English", "de": "Deutsch", "nl": "Nederlands",
                  "it": "italiano", "es": "español"}  # fmt: skip


def interaction_summary(rng: random.Random, kind: str, language: str) -> str:
    texts = INTERACTION_TEMPLATES[kind]["fr" if language == "fr" else "en"]
    return rng.choice(texts).format(
        n=rng.randint(2, 8),
        level=rng.choice(SKI_LEVELS),
        language_name=LANGUAGE_NAMES.get(language, "English"),
    )
