"""A realistic labelled guest file for record linkage, generated from seeded word lists.

``build(seed=..., entities=3000)`` returns about 1.35 records per entity: the people of a ski
destination's guest base (eleven countries and their languages) written the way desks, web forms
and partner files write them: accents dropped or transliterated (Müller, Muller, Mueller), typos,
first and last names swapped, upper case, nicknames, phones in national format with no country
or international with spaces and 00, email case and spaces, a new email or none, a birth date
with day and month swapped or one digit off, fields left empty.

It also holds the people who only look alike and must never be merged: households sharing one
email (and sometimes the home phone) with the same surname, twins (same surname, birth date and
address, other first names), homonyms (same name, different person). ``Dataset.hard_pairs``
lists those pairs by kind so a model's mistakes on them can be counted.

Deterministic (one ``random.Random(seed)``), no network; the word lists are below.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from itertools import accumulate, combinations
from pathlib import Path

import phonenumbers

TUNING_SEED = 14_2026  # thresholds are chosen on this set...
TEST_SEED = 14_1123  # ...and the figures reported on this one

HEAD_FIRST_NAMES: dict[str, dict[str, list[str]]] = {
    "FR": {
        "m": ["Jean", "Louis", "Pierre", "Mathéo", "Hugo", "Étienne", "François", "Noël", "Gaël",
              "Théo", "Raphaël", "Jérôme", "Antoine", "Benoît", "Clément", "Julien", "Mickaël",
              "Nicolas", "Guillaume", "Frédéric", "Sébastien", "Thierry", "Cédric", "Maxime"],
        "f": ["Jeanne", "Louise", "Chloé", "Léa", "Amélie", "Hélène", "Zoé", "Inès", "Céline",
              "Maëlle", "Françoise", "Margaux", "Élodie", "Camille", "Pauline", "Océane",
              "Nathalie", "Sandrine", "Valérie", "Isabelle", "Aurélie", "Anaïs"],
    },
    "BE": {
        "m": ["Wout", "Jef", "Luc", "Thibaut", "Arnaud", "Koen", "Stijn", "Gauthier", "Lander"],
        "f": ["Lotte", "Elke", "Marie", "Amandine", "Griet", "Ilse", "Noémie", "Fien", "Justine"],
    },
    "DE": {
        "m": ["Jürgen", "Lukas", "Maximilian", "Jörg", "Stefan", "Tobias", "Matthias", "Florian",
              "Günter", "Sebastian", "Andreas", "Michael", "Björn", "Uwe", "Christoph"],
        "f": ["Lena", "Anja", "Käthe", "Sophie", "Katharina", "Annelie", "Brigitte", "Jördis",
              "Ursula", "Sabine", "Susanne", "Hannelore", "Gisela", "Ute", "Elisabeth"],
    },
    "GB": {
        "m": ["James", "Oliver", "Harry", "George", "Charles", "William", "Thomas", "Jack",
              "Robert", "Edward", "Richard", "Daniel", "Samuel", "Benjamin", "Alexander"],
        "f": ["Emily", "Charlotte", "Olivia", "Amelia", "Isabella", "Grace", "Sophia", "Ella",
              "Elizabeth", "Victoria", "Jennifer", "Rebecca", "Catherine", "Margaret"],
    },
    "IT": {
        "m": ["Mario", "Giulio", "Francesco", "Paolo", "Alessandro", "Niccolò", "Daniele",
              "Giuseppe", "Lorenzo", "Matteo", "Riccardo", "Stefano", "Vincenzo"],
        "f": ["Maria", "Giulia", "Francesca", "Paola", "Alessandra", "Chiara", "Daniela",
              "Giuseppina", "Federica", "Elena", "Valentina", "Roberta"],
    },
    "ES": {
        "m": ["José", "Álvaro", "Jesús", "Iñigo", "Sergio", "Andrés", "Rubén", "Francisco",
              "Javier", "Manuel", "Ignacio", "Alejandro"],
        "f": ["María José", "Lucía", "Begoña", "Ana Belén", "Inés", "Nuria", "Mónica", "Pilar",
              "Dolores", "Concepción", "Rocío"],
    },
    "NL": {
        "m": ["Daan", "Sem", "Bram", "Joost", "Pieter", "Maarten", "Johannes", "Hendrik", "Willem"],
        "f": ["Sanne", "Femke", "Anouk", "Lieke", "Marieke", "Eline", "Johanna", "Margriet"],
    },
    "CH": {
        "m": ["Ueli", "Reto", "Beat", "Urs", "Nicolas", "Loïc", "Jürg", "Mathias"],
        "f": ["Regula", "Nadine", "Corinne", "Mélanie", "Séverine", "Vreni", "Verena"],
    },
    "DK": {
        "m": ["Søren", "Jens", "Mads", "Rasmus", "Bjørn", "Anders", "Frederik", "Kasper"],
        "f": ["Mette", "Sørine", "Ida", "Freja", "Signe", "Karin", "Åse", "Birgitte"],
    },
    "PL": {
        "m": ["Łukasz", "Paweł", "Wojciech", "Krzysztof", "Piotr", "Michał", "Grzegorz", "Tomasz"],
        "f": ["Małgorzata", "Agnieszka", "Katarzyna", "Joanna", "Ewa", "Zofia", "Magdalena"],
    },
    "PT": {
        "m": ["João", "António", "Gonçalo", "Tiago", "Rui", "Luís", "Duarte"],
        "f": ["Inês", "Conceição", "Leonor", "Beatriz", "Mariana", "Sofia", "Joana"],
    },
}  # fmt: skip
HEAD_LAST_NAMES: dict[str, list[str]] = {
    "FR": ["Martin", "Bernard", "Dubois", "Lefèvre", "Lefebvre", "Moreau", "Laurent", "Girard",
           "Rousseau", "Fournier", "Mercier", "Bonnet", "Chevalier", "Gauthier", "Perrin",
           "Morel", "Faure", "André", "Blanchard", "Garnier", "Rivière", "Lemaître", "Boucher",
           "Caron", "Barbier", "Renaud", "Fontaine", "Brunet", "Roche", "Durand", "Petit",
           "Leroy", "Roux", "Vincent", "Muller", "Lambert", "Bonnefoy", "Marchand", "Duval"],
    "BE": ["Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens",
           "Wouters", "De Smet", "Vandenbroucke", "Dupont", "Lambert", "Dubois", "Van Damme"],
    "DE": ["Müller", "Schmidt", "Schneider", "Fischer", "Weiß", "Schäfer", "Köhler", "Groß",
           "Wagner", "Becker", "Hoffmann", "Schröder", "Neumann", "Zimmermann", "Krüger",
           "Braun", "Hofmann", "Schulz", "Koch", "Richter", "Klein", "Wolf", "Schwarz"],
    "GB": ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
           "Robinson", "Wright", "Thompson", "Evans", "O'Connor", "Walker", "Hughes", "Green",
           "Hall", "Wood", "Jackson", "Clarke", "Harrison", "Turner", "Cooper"],
    "IT": ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
           "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa",
           "Giordano", "Rizzo", "Lombardi", "Moretti"],
    "ES": ["García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez",
           "Pérez", "Gómez", "Núñez", "Jiménez", "Muñoz", "Peña", "Ibáñez", "Martín", "Ruiz",
           "Hernández", "Díaz", "Moreno", "Álvarez"],
    "NL": ["de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Visser",
           "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters"],
    "CH": ["Keller", "Meier", "Brunner", "Baumann", "Frei", "Zürcher", "Favre", "Rochat",
           "Gerber", "Widmer", "Huber", "Steiner", "Müller", "Schmid", "Moser"],
    "DK": ["Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen",
           "Sørensen", "Rasmussen", "Jørgensen", "Møller", "Kristensen"],
    "PL": ["Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski",
           "Zieliński", "Szymański", "Woźniak", "Dąbrowski", "Kozłowski"],
    "PT": ["Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Rodrigues",
           "Martins", "Gonçalves", "Simões", "Magalhães", "Conceição"],
}  # fmt: skip
# The guest base's mix: the home market first, then the neighbours.
COUNTRY_WEIGHTS = {"FR": 30, "BE": 10, "DE": 10, "GB": 12, "IT": 8, "ES": 6, "NL": 8, "CH": 6,
                   "DK": 4, "PL": 3, "PT": 3}  # fmt: skip
LANGUAGES = {"FR": "fr", "BE": "fr", "DE": "de", "GB": "en", "IT": "it", "ES": "es", "NL": "nl",
             "CH": "de", "DK": "da", "PL": "pl", "PT": "pt"}  # fmt: skip
DOMAINS = {
    "FR": ["orange.fr", "free.fr", "laposte.net", "sfr.fr", "wanadoo.fr"],
    "BE": ["skynet.be", "telenet.be", "proximus.be"],
    "DE": ["web.de", "gmx.de", "t-online.de"],
    "GB": ["btinternet.com", "sky.com", "yahoo.co.uk"],
    "IT": ["libero.it", "virgilio.it", "tin.it"],
    "ES": ["yahoo.es", "telefonica.net", "hotmail.es"],
    "NL": ["ziggo.nl", "kpnmail.nl", "planet.nl"],
    "CH": ["bluewin.ch", "gmx.ch", "sunrise.ch"],
    "DK": ["mail.dk", "jubii.dk", "stofanet.dk"],
    "PL": ["wp.pl", "onet.pl", "interia.pl"],
    "PT": ["sapo.pt", "clix.pt", "netcabo.pt"],
}
GLOBAL_DOMAINS = ["gmail.com", "hotmail.com", "outlook.com", "icloud.com", "yahoo.com"]
# Country: (mobile prefix, random digits after it) of valid mobile numbers.
MOBILES = {"FR": ("+336", 8), "BE": ("+3247", 7), "DE": ("+49151", 8), "GB": ("+447", 9),
           "IT": ("+39347", 7), "ES": ("+34612", 6), "NL": ("+316", 8), "CH": ("+4179", 7),
           "DK": ("+4520", 6), "PL": ("+4850", 7), "PT": ("+35191", 7)}  # fmt: skip
NICKNAMES = {"William": "Bill", "Charles": "Charlie", "Thomas": "Tom", "Maximilian": "Max",
             "Alessandro": "Sandro", "Katharina": "Kathi", "José": "Pepe", "Matthias": "Matze",
             "Francesco": "Franco", "Isabella": "Bella", "Alessandra": "Sandra",
             "Robert": "Bob", "Edward": "Ed", "Richard": "Rick", "Daniel": "Dan",
             "Samuel": "Sam", "Benjamin": "Ben", "Alexander": "Alex", "Elizabeth": "Liz",
             "Victoria": "Vicky", "Jennifer": "Jenny", "Rebecca": "Becky",
             "Catherine": "Kate", "Margaret": "Maggie", "Giuseppe": "Beppe",
             "Francisco": "Paco", "Dolores": "Lola", "Concepción": "Concha",
             "Johannes": "Hans", "Elisabeth": "Lisa", "Nicolas": "Nico",
             "Guillaume": "Guigui", "Frédéric": "Fred", "Sébastien": "Seb",
             "Maxime": "Max", "Christoph": "Chris", "Andreas": "Andi", "Michael": "Michi",
             "Alejandro": "Alex", "Ignacio": "Nacho", "Manuel": "Manolo",
             "Małgorzata": "Gosia", "Katarzyna": "Kasia", "Krzysztof": "Krzysiek",
             "Wojciech": "Wojtek", "Willem": "Wim", "Hendrik": "Henk",
             "Frederik": "Frede", "Margriet": "Griet", "Verena": "Vreni"}  # fmt: skip
TRANSLITERATION = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss",
                   "ø": "oe", "Ø": "Oe", "å": "aa", "Å": "Aa", "æ": "ae", "ł": "l", "Ł": "L"}  # fmt: skip


# -- Name frequencies ------------------------------------------------------------------------
# Real name frequencies have a long tail: in a country's guest base the commonest surname is
# under 1 % of people, and most people share their surname with few others. Each list is the
# hand-written head above, then Faker's names for the country (``names.json``, written by
# ``names_from_faker.py``), then, for surnames, names synthesised from the country's own list
# from the country's own list, so that a base of a million guests has as many distinct
# surnames as a real one. Ranks are drawn by a Zipf-Mandelbrot law p(r) ~ 1 / (r + q).
NAMES_FILE = Path(__file__).with_name("names.json")
SURNAMES_PER_COUNTRY_WEIGHT = 2000  # FR (weight 30) gets 60,000 surnames, DK (4) 8,000
ZIPF_Q_LAST = 15.0  # top surname about 0.8 % of a country's people
ZIPF_Q_FIRST = 8.0  # top first name about 3 %


@dataclass(frozen=True)
class NameList:
    names: tuple[str, ...]
    cumulative: tuple[float, ...]
    # Two unrelated people share a name with probability p(name)^2: namesakes (the homonyms of
    # the file) are drawn with these weights, so they mostly carry common names, as in life.
    cumulative_namesake: tuple[float, ...]

    @classmethod
    def zipf(cls, names: list[str], q: float) -> NameList:
        weights = [1.0 / (rank + q) for rank in range(1, len(names) + 1)]
        return cls(
            tuple(names),
            tuple(accumulate(weights)),
            tuple(accumulate(w * w for w in weights)),
        )

    def draw(self, rng: random.Random, *, namesake: bool = False) -> str:
        cumulative = self.cumulative_namesake if namesake else self.cumulative
        i = bisect_right(cumulative, rng.random() * cumulative[-1])
        return self.names[min(i, len(self.names) - 1)]

    def share_of_top(self) -> float:
        return self.cumulative[0] / self.cumulative[-1]


_VOWELS = set("aeiouyàâäáãåæèéêëìíîïòóôöõøùúûüý")


def _synthesise(names: list[str], count: int, seed: str) -> list[str]:
    """``count`` new surnames in the style of ``names``: the start of one of them joined to the
    end of another where a consonant meets a vowel (Bern|ard + Font|aine: Bernaine), drawn with a
    ``random.Random(seed)`` (the lists never depend on the file's seed)."""
    rng = random.Random(seed)
    heads: set[str] = set()
    tails: set[str] = set()
    for name in names:
        if not name.isalpha() or len(name) < 5:
            continue
        low = name.lower()
        for i in range(2, len(name) - 2):
            if low[i - 1] not in _VOWELS and low[i] in _VOWELS:
                heads.add(name[:i])
                tails.add(low[i:])
    head_list, tail_list = sorted(heads), sorted(tails)
    seen = {n.casefold() for n in names}
    out: list[str] = []
    for _ in range(count * 20):
        if len(out) == count or not head_list:
            break
        name = rng.choice(head_list) + rng.choice(tail_list)
        if 4 <= len(name) <= 14 and name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name)
    return out


@cache
def name_lists() -> dict[str, dict[str, NameList]]:
    data = json.loads(NAMES_FILE.read_text(encoding="utf-8"))["names"]
    out: dict[str, dict[str, NameList]] = {}
    for country, lists in data.items():
        surnames = list(lists["last"])
        wanted = SURNAMES_PER_COUNTRY_WEIGHT * COUNTRY_WEIGHTS[country]
        surnames += _synthesise(surnames, max(0, wanted - len(surnames)), f"surnames {country}")
        out[country] = {
            "m": NameList.zipf(lists["m"], ZIPF_Q_FIRST),
            "f": NameList.zipf(lists["f"], ZIPF_Q_FIRST),
            "last": NameList.zipf(surnames, ZIPF_Q_LAST),
        }
    return out


@dataclass(frozen=True)
class Record:
    """One row of the guest file; ``entity`` is the real person behind it."""

    record_id: int
    entity: int
    kind: str  # single, household, twin, homonym (the entity's kind)
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    country: str = ""
    birth_date: dt.date | None = None
    language: str = ""
    perturbations: tuple[str, ...] = ()  # how this duplicate differs from the original

    def as_dict(self) -> dict:
        return {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "phone": self.phone,
            "country": self.country,
            "birth_date": self.birth_date,
            "language": self.language,
        }


@dataclass
class Dataset:
    records: list[Record]
    # Pairs of entities that look alike but are different people, by kind.
    hard_pairs: dict[str, set[tuple[int, int]]] = field(default_factory=dict)

    def entity_of(self) -> dict[int, int]:
        return {r.record_id: r.entity for r in self.records}

    def true_pairs(self) -> set[tuple[int, int]]:
        by_entity: dict[int, list[int]] = {}
        for r in self.records:
            by_entity.setdefault(r.entity, []).append(r.record_id)
        pairs: set[tuple[int, int]] = set()
        for ids in by_entity.values():
            pairs.update(combinations(sorted(ids), 2))
        return pairs

    def hard_kind_of(self) -> dict[tuple[int, int], str]:
        """Entity pair -> kind (household, twin, homonym), smaller entity id first."""
        out: dict[tuple[int, int], str] = {}
        for kind, pairs in self.hard_pairs.items():
            for a, b in pairs:
                out[(min(a, b), max(a, b))] = kind
        return out


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower().replace("ß", "ss").replace("ł", "l"))
    return "".join(c for c in text if c.isalnum() and not unicodedata.combining(c))


def strip_accents(text: str) -> str:
    text = text.replace("ß", "ss").replace("ł", "l").replace("Ł", "L")
    text = text.replace("ø", "o").replace("Ø", "O").replace("æ", "ae")
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c))


def transliterate(text: str) -> str:
    return strip_accents("".join(TRANSLITERATION.get(c, c) for c in text))


class _Gen:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.next_entity = 1
        self.next_record = 1
        self.used_emails: set[str] = set()
        self.used_phones: set[str] = set()
        self.countries = list(COUNTRY_WEIGHTS)
        self.weights = [COUNTRY_WEIGHTS[c] for c in self.countries]

    def entity_id(self) -> int:
        self.next_entity += 1
        return self.next_entity - 1

    def record(self, entity: int, kind: str, **fields) -> Record:
        self.next_record += 1
        return Record(self.next_record - 1, entity, kind, **fields)

    def country(self) -> str:
        return self.rng.choices(self.countries, self.weights)[0]

    def first(self, country: str, gender: str | None = None, *, namesake: bool = False) -> str:
        names = name_lists()[country][gender or self.rng.choice("mf")]
        return names.draw(self.rng, namesake=namesake)

    def last(self, country: str, *, namesake: bool = False) -> str:
        return name_lists()[country]["last"].draw(self.rng, namesake=namesake)

    def birth(self, lo: int = 1945, hi: int = 2012) -> dt.date:
        return dt.date(self.rng.randint(lo, hi), self.rng.randint(1, 12), self.rng.randint(1, 28))

    def true_birth(self, entity: int) -> dt.date:
        """The birth date of a person whose first record has none: the same for every record
        that adds it (drawn from the entity, not from the file's sequence)."""
        rng = random.Random(f"birth {self.seed} {entity}")
        return dt.date(rng.randint(1945, 2012), rng.randint(1, 12), rng.randint(1, 28))

    def domain(self, country: str) -> str:
        if self.rng.random() < 0.55:
            return self.rng.choice(GLOBAL_DOMAINS)
        return self.rng.choice(DOMAINS[country])

    def email(self, first: str, last: str, birth: dt.date | None, country: str) -> str:
        f, s = _fold(first), _fold(last)
        patterns = [f"{f}.{s}", f"{f[0]}{s}", f"{f}{s}", f"{s}.{f}", f"{f}_{s}", f"{f}.{s[0]}"]
        if birth:
            patterns += [f"{f}.{s}{birth.year % 100:02d}", f"{f}{birth.year}"]
        local = self.rng.choice(patterns)
        domain = self.domain(country)
        email = f"{local}@{domain}"
        n = 2
        while email in self.used_emails:
            email = f"{local}{n}@{domain}"
            n += 1
        self.used_emails.add(email)
        return email

    def phone(self, country: str) -> str:
        prefix, digits = MOBILES[country]
        for _ in range(1000):
            number = prefix + "".join(str(self.rng.randint(0, 9)) for _ in range(digits))
            if number not in self.used_phones and phonenumbers.is_valid_number(
                phonenumbers.parse(number)
            ):
                self.used_phones.add(number)
                return number
        raise AssertionError(f"no valid mobile number for {country} with {prefix}")

    def person(self, entity: int, kind: str, *, country: str | None = None, **fixed) -> Record:
        rng = self.rng
        country = country or self.country()
        first = fixed.pop("first_name", None) or self.first(country)
        last = fixed.pop("last_name", None) or self.last(country)
        birth = fixed.pop("birth_date", "draw")
        if birth == "draw":
            birth = self.birth() if rng.random() < 0.7 else None
        email = fixed.pop("email", None)
        if email is None:
            email = self.email(first, last, birth, country) if rng.random() < 0.9 else ""
        phone = fixed.pop("phone", None)
        if phone is None:
            phone = self.phone(country) if rng.random() < 0.65 else ""
        return self.record(
            entity,
            kind,
            first_name=first,
            last_name=last,
            email=email,
            phone=phone,
            country=country if rng.random() < 0.75 else "",
            birth_date=birth,
            language=LANGUAGES[country] if rng.random() < 0.6 else "",
            **fixed,
        )

    # -- ways a person is written again ---------------------------------------------------

    def typo(self, word: str) -> str:
        letters = "abcdefghijklmnopqrstuvwxyz"
        for _ in range(20):
            if len(word) < 4:
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

    def one_digit_off(self, b: dt.date) -> dt.date:
        """A birth date typed with one wrong digit: the day's last digit or the year's."""
        if self.rng.random() < 0.5:
            tens = b.day // 10
            days = [tens * 10 + u for u in range(10) if 1 <= tens * 10 + u <= 28]
            return b.replace(day=self.rng.choice([d for d in days if d != b.day]))
        decade = b.year - b.year % 10
        years = [decade + u for u in range(10) if decade + u <= 2020 and decade + u != b.year]
        return b.replace(year=self.rng.choice(years))

    def phone_written(self, e164: str) -> tuple[str, str]:
        number = phonenumbers.parse(e164)
        style = self.rng.random()
        if style < 0.45:
            fmt = phonenumbers.PhoneNumberFormat.NATIONAL
            return phonenumbers.format_number(number, fmt), "phone_national"
        text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        if style < 0.75:
            return "00" + text[1:], "phone_00"
        return text, "phone_spaced"

    def duplicate(self, original: Record) -> Record:
        """The same person written again: one to four changes, never all evidence lost."""
        rng = self.rng
        r = original
        done: list[str] = []
        changes = rng.choices([1, 2, 3, 4], [35, 35, 20, 10])[0]
        ops = [
            "accents", "transliterate", "typo_first", "typo_last", "swap", "upper", "nickname",
            "email_case", "email_new", "email_drop", "email_other_domain", "phone_format",
            "phone_drop", "birth_swap", "birth_digit", "birth_drop", "country_drop",
            "country_add", "language_drop", "phone_add", "birth_add",
        ]  # fmt: skip
        weights = [10, 5, 9, 9, 5, 5, 4, 8, 8, 6, 3, 10, 5, 2, 2, 5, 5, 3, 4, 9, 20]
        for op in rng.choices(ops, weights, k=changes):
            if op == "accents" and strip_accents(r.first_name + r.last_name) != (
                r.first_name + r.last_name
            ):
                r = replace(r, first_name=strip_accents(r.first_name),
                            last_name=strip_accents(r.last_name))  # fmt: skip
            elif op == "transliterate" and transliterate(r.last_name) != strip_accents(r.last_name):
                r = replace(r, first_name=transliterate(r.first_name),
                            last_name=transliterate(r.last_name))  # fmt: skip
            elif op == "typo_first" and r.first_name:
                r = replace(r, first_name=self.typo(r.first_name))
            elif op == "typo_last" and r.last_name:
                r = replace(r, last_name=self.typo(r.last_name))
            elif op == "swap":
                r = replace(r, first_name=r.last_name, last_name=r.first_name)
            elif op == "upper":
                r = replace(r, first_name=r.first_name.upper(), last_name=r.last_name.upper())
            elif op == "nickname" and r.first_name in NICKNAMES:
                r = replace(r, first_name=NICKNAMES[r.first_name])
            elif op == "email_case" and r.email:
                r = replace(
                    r, email=f" {r.email.upper() if rng.random() < 0.5 else r.email.title()} "
                )
            elif op == "email_new":
                country = r.country or original.country or self.country()
                r = replace(
                    r, email=self.email(original.first_name, original.last_name, None, country)
                )
            elif op == "email_drop" and (r.phone or r.birth_date):
                r = replace(r, email="")
            elif op == "email_other_domain" and r.email:
                local = r.email.strip().lower().partition("@")[0]
                email = f"{local}@{rng.choice(GLOBAL_DOMAINS)}"
                if email in self.used_emails:  # someone else's address: not this person's
                    continue
                self.used_emails.add(email)
                r = replace(r, email=email)
            elif op == "phone_format" and r.phone.startswith("+"):
                phone, how = self.phone_written(r.phone)
                r = replace(r, phone=phone)
                op = how
            elif op == "phone_drop" and r.phone and (r.email or r.birth_date):
                r = replace(r, phone="")
            elif (
                op == "birth_swap"
                and r.birth_date
                and r.birth_date.day <= 12
                and (r.birth_date.day != r.birth_date.month)
            ):
                b = r.birth_date
                r = replace(r, birth_date=b.replace(day=b.month, month=b.day))
            elif op == "birth_digit" and r.birth_date:
                r = replace(r, birth_date=self.one_digit_off(r.birth_date))
            elif op == "birth_drop" and r.birth_date and (r.email or r.phone):
                r = replace(r, birth_date=None)
            elif op == "country_drop":
                r = replace(r, country="")
            elif op == "country_add" and not r.country:
                r = replace(r, country=original.country or "")
            # A second desk asks for what the first record did not hold (the booking desk a
            # phone, the ski school a birth date): the gaps of one record are not the other's.
            elif op == "phone_add" and not original.phone and not r.phone:
                r = replace(r, phone=self.phone(r.country or original.country or self.country()))
            elif op == "birth_add" and not original.birth_date and not r.birth_date:
                r = replace(r, birth_date=self.true_birth(original.entity))
            elif op == "language_drop":
                r = replace(r, language="")
            else:
                continue
            done.append(op)
        if not done:  # nothing applied: at least the email case or the phone format differ
            if r.email:
                r, done = replace(r, email=r.email.upper()), ["email_case"]
            else:
                r, done = replace(r, first_name=r.first_name.upper()), ["upper"]
        self.next_record += 1
        return replace(r, record_id=self.next_record - 1, perturbations=tuple(done))


def build(*, seed: int = TEST_SEED, entities: int = 3000, duplicates: float = 0.30) -> Dataset:
    """About ``entities`` people, in arrival order. ``duplicates`` is the share of people
    written more than once (a sixth of them three times): 0.30 gives 1.35 records per person,
    0.151 a file with 15 % duplicate records."""
    g = _Gen(seed)
    rng = g.rng
    originals: list[Record] = []
    hard: dict[str, set[tuple[int, int]]] = {"household": set(), "twin": set(), "homonym": set()}

    households = entities // 15  # about 20 % of people live in a household of 2 to 4
    twins = entities // 75
    homonyms = entities // 20
    for _ in range(households):
        country = g.country()
        last = g.last(country)
        local = rng.choice([f"famille.{_fold(last)}", f"the{_fold(last)}s", f"{_fold(last)}.family",
                            f"{_fold(last)}{rng.randint(1, 99)}"])  # fmt: skip
        email = f"{local}@{g.domain(country)}"
        home = g.phone(country) if rng.random() < 0.5 else ""
        members: list[Record] = []
        for gender, lo, hi in [("m", 1955, 1985), ("f", 1955, 1985), (None, 1995, 2018),
                               (None, 1995, 2018)][: rng.choice([2, 3, 3, 4])]:  # fmt: skip
            taken = {_fold(m.first_name) for m in members}
            first = g.first(country, gender)
            while _fold(first) in taken:
                first = g.first(country, gender)
            own_phone = g.phone(country) if rng.random() < 0.3 else home
            members.append(g.person(g.entity_id(), "household", country=country, first_name=first,
                                    last_name=last, birth_date=g.birth(lo, hi), email=email,
                                    phone=own_phone))  # fmt: skip
        originals += members
        for a, b in combinations(members, 2):
            hard["household"].add((a.entity, b.entity))
    for _ in range(twins):
        country = g.country()
        last = g.last(country)
        birth = g.birth(1985, 2016)
        email = f"{_fold(last)}.twins{rng.randint(1, 99)}@{g.domain(country)}"
        home = g.phone(country) if rng.random() < 0.5 else ""
        a_first = g.first(country)
        b_first = g.first(country)
        while _fold(b_first) == _fold(a_first):
            b_first = g.first(country)
        pair = [g.person(g.entity_id(), "twin", country=country, first_name=f, last_name=last,
                         birth_date=birth, email=email, phone=home)
                for f in (a_first, b_first)]  # fmt: skip
        originals += pair
        hard["twin"].add((pair[0].entity, pair[1].entity))
    for _ in range(homonyms):
        country = g.country()
        first, last = g.first(country, namesake=True), g.last(country, namesake=True)
        pair = [g.person(g.entity_id(), "homonym", country=country, first_name=first,
                         last_name=last) for _ in range(2)]  # fmt: skip
        originals += pair
        hard["homonym"].add((pair[0].entity, pair[1].entity))
    while len(originals) < entities:
        originals.append(g.person(g.entity_id(), "single"))

    records = list(originals)
    for original in originals:
        draw = rng.random()
        copies = 2 if draw < duplicates / 6 else 1 if draw < duplicates else 0
        records += [g.duplicate(original) for _ in range(copies)]
    rng.shuffle(records)
    return Dataset(records=records, hard_pairs=hard)


def iter_person_data(dataset: Dataset) -> Iterator[tuple[Record, dict]]:
    for record in dataset.records:
        yield record, record.as_dict()
