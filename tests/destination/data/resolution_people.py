"""A labelled, deterministic data set for identity resolution quality.

Every record carries the id of the real person it describes. ``base_records()`` are the people
already known (singles, families sharing an address, homonyms, twins, people with only an email or
a phone); ``incoming_records()`` are what arrives later: the same people written differently
(typos, dropped accents, swapped names, national phone formats, email case and spaces, a new
address...) mixed with people who only look like someone known (a new child on the family email,
a homonym, a twin).
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from dataclasses import dataclass, replace

import phonenumbers

from destination.services.resolution import PersonData

SEED = 20261123

FIRST_NAMES = {
    "FR": {
        "m": ["Jean", "Louis", "Pierre", "Mathéo", "Hugo", "Étienne", "François", "Noël", "Gaël",
              "Théo", "Raphaël", "Jérôme", "Antoine", "Benoît", "Clément", "Julien", "Mickaël"],
        "f": ["Jeanne", "Louise", "Chloé", "Léa", "Amélie", "Hélène", "Zoé", "Inès", "Céline",
              "Maëlle", "Françoise", "Margaux", "Élodie", "Camille", "Pauline", "Océane"],
    },
    "DE": {
        "m": ["Jürgen", "Lukas", "Maximilian", "Jörg", "Stefan", "Tobias", "Matthias", "Florian"],
        "f": ["Jürgina", "Lena", "Anja", "Käthe", "Sophie", "Katharina", "Annelie", "Brigitte"],
    },
    "GB": {
        "m": ["James", "Oliver", "Harry", "George", "Charles", "William", "Thomas", "Jack"],
        "f": ["Emily", "Charlotte", "Olivia", "Amelia", "Isabella", "Grace", "Sophia", "Ella"],
    },
    "IT": {
        "m": ["Mario", "Giulio", "Francesco", "Paolo", "Alessandro", "Niccolò", "Daniele"],
        "f": ["Maria", "Giulia", "Francesca", "Paola", "Alessandra", "Chiara", "Daniela"],
    },
    "ES": {
        "m": ["José", "Álvaro", "Jesús", "Iñigo", "Sergio", "Andrés", "Rubén"],
        "f": ["María José", "Lucía", "Begoña", "Ana Belén", "Inés", "Nuria", "Mónica"],
    },
    "NL": {
        "m": ["Daan", "Sem", "Bram", "Joost", "Pieter", "Maarten"],
        "f": ["Sanne", "Femke", "Anouk", "Lieke", "Marieke", "Eline"],
    },
    "CH": {
        "m": ["Ueli", "Reto", "Beat", "Urs", "Nicolas", "Loïc"],
        "f": ["Regula", "Nadine", "Corinne", "Mélanie", "Séverine", "Vreni"],
    },
}  # fmt: skip
LAST_NAMES = {
    "FR": ["Martin", "Bernard", "Dubois", "Lefèvre", "Lefebvre", "Moreau", "Laurent", "Girard",
           "Rousseau", "Fournier", "Mercier", "Bonnet", "Chevalier", "Gauthier", "Perrin",
           "Morel", "Faure", "André", "Blanchard", "Garnier", "Rivière", "Lemaître", "Boucher",
           "Caron", "Barbier", "Renaud", "Fontaine", "Brunet", "Roche", "Durand"],
    "DE": ["Müller", "Schmidt", "Schneider", "Fischer", "Weiß", "Schäfer", "Köhler", "Groß",
           "Wagner", "Becker", "Hoffmann", "Schröder", "Neumann", "Zimmermann"],
    "GB": ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
           "Robinson", "Wright", "Thompson", "Evans", "O'Connor", "Walker"],
    "IT": ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
           "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca"],
    "ES": ["García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez",
           "Pérez", "Gómez", "Núñez", "Jiménez", "Muñoz", "Peña", "Ibáñez"],
    "NL": ["de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Visser",
           "Smit", "Meijer", "de Boer", "Mulder", "de Groot"],
    "CH": ["Keller", "Meier", "Brunner", "Baumann", "Frei", "Zürcher", "Favre", "Rochat",
           "Gerber", "Widmer", "Huber", "Steiner"],
}  # fmt: skip
LANGUAGES = {"FR": "fr", "DE": "de", "GB": "en", "IT": "it", "ES": "es", "NL": "nl", "CH": "de"}
DOMAINS = ["gmail.com", "orange.fr", "hotmail.com", "web.de", "libero.it", "yahoo.es", "ziggo.nl",
           "bluewin.ch", "outlook.com", "free.fr", "gmx.de", "icloud.com"]  # fmt: skip
# Country: (mobile prefix, random digits after it), valid numbers of that country.
MOBILES = {"FR": ("+336", 8), "DE": ("+49151", 8), "GB": ("+447", 9), "IT": ("+39347", 7),
           "ES": ("+34612", 6), "NL": ("+316", 8), "CH": ("+4179", 7)}  # fmt: skip


@dataclass(frozen=True)
class Record:
    person: int  # the real person behind the record
    kind: str  # what the record tests ("typo", "family_child", ...)
    data: PersonData
    is_duplicate_of_known: bool = False  # set by the generator for incoming records


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower().replace("ß", "ss"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return "".join(c for c in text if c.isalnum())


class _Gen:
    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        self.next_person = 1
        self.used_emails: set[str] = set()
        self.used_phones: set[str] = set()
        self.people: dict[int, PersonData] = {}

    def person_id(self) -> int:
        self.next_person += 1
        return self.next_person - 1

    def country(self) -> str:
        return self.rng.choice(list(FIRST_NAMES))

    def first(self, country: str, gender: str | None = None) -> str:
        gender = gender or self.rng.choice("mf")
        return self.rng.choice(FIRST_NAMES[country][gender])

    def last(self, country: str) -> str:
        return self.rng.choice(LAST_NAMES[country])

    def birth(self, lo: int = 1950, hi: int = 2004) -> dt.date:
        return dt.date(self.rng.randint(lo, hi), self.rng.randint(1, 12), self.rng.randint(1, 28))

    def email(self, first: str, last: str, birth: dt.date | None) -> str:
        f, s = _fold(first), _fold(last)
        patterns = [f"{f}.{s}", f"{f[0]}{s}", f"{f}{s}", f"{s}.{f}", f"{f}_{s}"]
        if birth:
            patterns.append(f"{f}.{s}{birth.year % 100:02d}")
        local = self.rng.choice(patterns)
        domain = self.rng.choice(DOMAINS)
        email = f"{local}@{domain}"
        n = 2
        while email in self.used_emails:
            email = f"{local}{n}@{domain}"
            n += 1
        self.used_emails.add(email)
        return email

    def phone(self, country: str) -> str:
        prefix, digits = MOBILES[country]
        while True:
            number = prefix + "".join(str(self.rng.randint(0, 9)) for _ in range(digits))
            parsed = phonenumbers.parse(number)
            if phonenumbers.is_valid_number(parsed) and number not in self.used_phones:
                self.used_phones.add(number)
                return number

    def new_person(
        self,
        *,
        country: str | None = None,
        first: str | None = None,
        last: str | None = None,
        birth: dt.date | bool | None = True,
        email: str | bool | None = True,
        phone: str | bool | None = None,
    ) -> tuple[int, PersonData]:
        country = country or self.country()
        first = first or self.first(country)
        last = last or self.last(country)
        if birth is True:
            birth = self.birth() if self.rng.random() < 0.6 else None
        if email is True:
            email = self.email(first, last, birth or None)
        if phone is None:
            phone = self.phone(country) if self.rng.random() < 0.6 else ""
        elif phone is True:
            phone = self.phone(country)
        pid = self.person_id()
        data = PersonData(
            first_name=first,
            last_name=last,
            email=email or "",
            phone=phone or "",
            country=country,
            birth_date=birth or None,
            language=LANGUAGES[country] if self.rng.random() < 0.5 else "",
        )
        self.people[pid] = data
        return pid, data

    # -- perturbations -------------------------------------------------------------------

    def typo(self, word: str) -> str:
        letters = "abcdefghijklmnopqrstuvwxyz"
        for _ in range(20):
            if len(word) < 3:
                return word + self.rng.choice("aeiou")
            i = self.rng.randrange(1, len(word) - 1)
            op = self.rng.choice(["sub", "del", "ins", "swap"])
            if op == "sub":
                out = word[:i] + self.rng.choice(letters) + word[i + 1 :]
            elif op == "del":
                out = word[:i] + word[i + 1 :]
            elif op == "ins":
                out = word[:i] + self.rng.choice(letters) + word[i:]
            else:
                out = word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]
            if out.lower() != word.lower():
                return out
        return word + "e"

    def strip_accents(self, text: str) -> str:
        text = unicodedata.normalize("NFKD", text)
        return "".join(c for c in text if not unicodedata.combining(c))

    def national(self, e164: str) -> str:
        number = phonenumbers.parse(e164)
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)

    def spaced_international(self, e164: str) -> str:
        number = phonenumbers.parse(e164)
        text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        return "00" + text[1:] if self.rng.random() < 0.5 else text


def build() -> tuple[list[Record], list[Record]]:
    g = _Gen()
    rng = g.rng
    base: list[Record] = []

    # Singles.
    singles: list[int] = []
    for _ in range(320):
        pid, data = g.new_person()
        singles.append(pid)
        base.append(Record(pid, "single", data))
    # People known by an email only, or a phone only (newsletter signups, call-backs).
    email_only: list[int] = []
    for _ in range(30):
        country = g.country()
        pid = g.person_id()
        data = PersonData(email=g.email(g.first(country), g.last(country), None))
        g.people[pid] = replace(data, country=country, first_name="", last_name="")
        email_only.append(pid)
        base.append(Record(pid, "email_only", data))
    phone_only: list[int] = []
    for _ in range(15):
        country = g.country()
        pid = g.person_id()
        data = PersonData(phone=g.phone(country))
        g.people[pid] = replace(data, country=country)
        phone_only.append(pid)
        base.append(Record(pid, "phone_only", data))

    # Families sharing one address (and sometimes the home phone).
    families: list[dict] = []
    for _ in range(45):
        country = g.country()
        last = g.last(country)
        family_email = (
            rng.choice([f"famille.{_fold(last)}", f"the{_fold(last)}s", f"{_fold(last)}.family"])
            + f"{rng.randint(1, 999)}@{rng.choice(DOMAINS)}"
        )
        home_phone = g.phone(country) if rng.random() < 0.4 else ""
        members = []
        parent_first = g.first(country, "m")
        partner_first = g.first(country, "f")
        for first, birth in (
            (parent_first, g.birth(1960, 1985)),
            (partner_first, g.birth(1960, 1985)),
        ):
            pid, data = g.new_person(
                country=country, first=first, last=last, birth=birth, email=family_email,
                phone=home_phone or "",
            )  # fmt: skip
            members.append(pid)
            base.append(Record(pid, "family_parent", data))
        for _c in range(rng.randint(1, 2)):
            child_first = g.first(country)
            if child_first in {parent_first, partner_first}:
                child_first = g.first(country)
            pid, data = g.new_person(
                country=country, first=child_first, last=last, birth=g.birth(2005, 2020),
                email=family_email, phone=home_phone or "",
            )  # fmt: skip
            members.append(pid)
            base.append(Record(pid, "family_child", data))
        families.append(
            {"country": country, "last": last, "email": family_email, "phone": home_phone,
             "members": members, "parent_first": parent_first}
        )  # fmt: skip

    # Twins on the family address: same last name, same birth date, other first names, some of
    # them only an ending apart (Mario/Maria, Louis/Louise).
    twin_pairs = [("Mario", "Maria"), ("Louis", "Louise"), ("Jean", "Jeanne"), ("Paolo", "Paola"),
                  ("Daniele", "Daniela"), ("Giulio", "Giulia"), ("Lukas", "Lena"),
                  ("Francesco", "Francesca"), ("Emily", "Ella"), ("Daan", "Sanne"),
                  ("Hugo", "Théo"), ("Harry", "Jack")]  # fmt: skip
    twins: list[tuple[int, int]] = []
    for a_first, b_first in twin_pairs:
        country = g.country()
        last = g.last(country)
        birth = g.birth(1990, 2015)
        email = f"{_fold(last)}.twins{rng.randint(1, 99)}@{rng.choice(DOMAINS)}"
        pa, da = g.new_person(
            country=country, first=a_first, last=last, birth=birth, email=email, phone=""
        )
        pb, db = g.new_person(
            country=country, first=b_first, last=last, birth=birth, email=email, phone=""
        )
        base += [Record(pa, "twin", da), Record(pb, "twin", db)]
        twins.append((pa, pb))

    # Homonyms: two different people with the same name.
    homonyms: list[tuple[int, int]] = []
    for _ in range(30):
        country = g.country()
        first, last = g.first(country), g.last(country)
        pa, da = g.new_person(country=country, first=first, last=last, birth=g.birth())
        pb, db = g.new_person(
            country=country if rng.random() < 0.5 else g.country(), first=first, last=last,
            birth=g.birth() if rng.random() < 0.7 else None,
        )  # fmt: skip
        base += [Record(pa, "homonym", da), Record(pb, "homonym", db)]
        homonyms.append((pa, pb))

    # --- Incoming records ---------------------------------------------------------------
    incoming: list[Record] = []

    def dup(pid: int, kind: str, data: PersonData) -> None:
        incoming.append(Record(pid, kind, data, is_duplicate_of_known=True))

    named = list(singles) + [m for f in families for m in f["members"][:2]]
    for pid in rng.sample(named, 60):
        p = g.people[pid]
        if p.email:
            dup(
                pid,
                "email_case",
                replace(
                    p, email=f"  {p.email.upper() if rng.random() < 0.5 else p.email.title()} "
                ),
            )
    for pid in rng.sample(named, 50):
        p = g.people[pid]
        dup(pid, "accents_dropped", replace(p, first_name=g.strip_accents(p.first_name).upper(),
                                            last_name=g.strip_accents(p.last_name)))  # fmt: skip
    for pid in rng.sample(named, 60):
        p = g.people[pid]
        field = rng.choice(["first_name", "last_name"])
        dup(pid, "typo_exact_contact", replace(p, **{field: g.typo(getattr(p, field))}))
    for pid in rng.sample(named, 40):
        p = g.people[pid]
        dup(pid, "swapped_names", replace(p, first_name=p.last_name, last_name=p.first_name))
    with_phone = [pid for pid in named if g.people[pid].phone]
    for pid in rng.sample(with_phone, 40):
        p = g.people[pid]
        dup(pid, "phone_national", replace(p, email="", phone=g.national(p.phone)))
    for pid in rng.sample(with_phone, 25):
        p = g.people[pid]
        dup(pid, "phone_international", replace(p, email="", phone=g.spaced_international(p.phone)))
    with_birth = [pid for pid in singles if g.people[pid].birth_date]
    for pid in rng.sample(with_birth, 50):
        p = g.people[pid]
        new_email = g.email(p.first_name, p.last_name, None)
        field = rng.choice(["first_name", "last_name", None])
        changes = {"email": new_email, "phone": ""}
        if field:
            changes[field] = g.typo(getattr(p, field))
        dup(pid, "new_email_fuzzy", replace(p, **changes))
    for pid in rng.sample(with_birth, 25):
        p = g.people[pid]
        dup(
            pid,
            "desk_no_contact",
            replace(p, email="", phone="", first_name=g.strip_accents(p.first_name)),
        )
    for pid in rng.sample(singles, 20):
        p = g.people[pid]
        local, _sep, _domain = p.email.partition("@")
        dup(
            pid,
            "same_local_other_domain",
            replace(p, email=f"{local}@{rng.choice(DOMAINS)}x.org", phone="", birth_date=None),
        )
    for pid in email_only:
        p = g.people[pid]
        dup(
            pid,
            "email_only_now_named",
            PersonData(
                email=p.email.upper(),
                first_name=g.first(p.country),
                last_name=g.last(p.country),
                country=p.country,
            ),
        )
    for pid in phone_only:
        p = g.people[pid]
        dup(
            pid,
            "phone_only_national",
            PersonData(phone=g.national(p.phone), country=p.country, first_name=g.first(p.country)),
        )
    for pid in rng.sample(singles, 25):
        p = g.people[pid]
        dup(pid, "only_email", PersonData(email=p.email))
    # Hard cases, kept to measure honestly: a typo, a new address and nothing else to go on;
    # a nickname with a new address (only the last name and the birth date agree).
    for pid in rng.sample(singles, 20):
        p = g.people[pid]
        field = rng.choice(["first_name", "last_name"])
        names = {"first_name": p.first_name, "last_name": p.last_name}
        names[field] = g.typo(names[field])
        dup(pid, "hard_typo_name_only", PersonData(
            **names, country=p.country, email=g.email(p.first_name, p.last_name, None),
        ))  # fmt: skip
    nicknames = {"William": "Bill", "Charles": "Charlie", "Thomas": "Tom", "Maximilian": "Max",
                 "Alessandro": "Sandro", "Katharina": "Kathi", "José": "Pepe", "Matthias": "Matze",
                 "Francesco": "Franco", "Isabella": "Bella", "Alessandra": "Sandra",
                 "Margaux": "Margot", "Mickaël": "Mika", "Maarten": "Martijn"}  # fmt: skip
    for pid in singles:
        p = g.people[pid]
        if p.first_name in nicknames:
            dup(pid, "hard_nickname", replace(
                p, first_name=nicknames[p.first_name], phone="",
                email=g.email(nicknames[p.first_name], p.last_name, None),
            ))  # fmt: skip

    # Look-alikes that are someone else.
    def other(kind: str, data: PersonData) -> None:
        pid = g.person_id()
        g.people[pid] = data
        incoming.append(Record(pid, kind, data))

    for fam in families:
        country = fam["country"]
        child_first = g.first(country)
        known_firsts = {_fold(g.people[m].first_name) for m in fam["members"]}
        if _fold(child_first) in known_firsts:
            continue
        other("family_new_member", PersonData(
            first_name=child_first, last_name=fam["last"], email=fam["email"],
            phone=g.national(fam["phone"]) if fam["phone"] else "", country=country,
            birth_date=g.birth(2015, 2024),
        ))  # fmt: skip
    for fam in families[:25]:
        # The parent's child named after the parent, born 30 years later.
        parent = g.people[fam["members"][0]]
        other("family_junior", replace(parent, birth_date=g.birth(2000, 2010), email=fam["email"]))
    for pa, _pb in homonyms:
        p = g.people[pa]
        other("homonym_new", PersonData(
            first_name=p.first_name, last_name=p.last_name, email=g.email(p.first_name, p.last_name, None),
            phone=g.phone(p.country) if rng.random() < 0.5 else "", country=p.country,
            birth_date=g.birth() if rng.random() < 0.6 else None,
        ))  # fmt: skip
    for pa, pb in twins:
        # Each twin comes back with their own first name: must attach to themselves only.
        for pid in (pa, pb):
            p = g.people[pid]
            dup(pid, "twin_again", replace(p, email=f" {p.email.upper()}"))
    for _ in range(80):
        pid, data = g.new_person()
        incoming.append(Record(pid, "new_person", data))

    rng.shuffle(incoming)
    return base, incoming
