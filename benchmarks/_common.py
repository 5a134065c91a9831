"""Shared helpers for the benchmark scripts: a throw-away PostgreSQL database, Django set-up,
timing statistics and realistic multilingual people."""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"


# --- Database -----------------------------------------------------------------------------


def database_url(name: str, server: str | None = None) -> str:
    parts = urlparse(server or os.environ.get("BENCH_SERVER_URL", DEFAULT_SERVER))
    return urlunparse(parts._replace(path=f"/{name}"))


def _admin_connection(server: str | None = None) -> Any:
    import psycopg

    return psycopg.connect(database_url("postgres", server), autocommit=True)


def database_create(name: str, server: str | None = None) -> str:
    """Drop and create a dedicated database; returns its URL."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unsafe database name {name!r}")
    with _admin_connection(server) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_url(name, server)


def database_drop(name: str, server: str | None = None) -> None:
    from django.db import connections

    connections.close_all()
    with _admin_connection(server) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def django_setup(db_url: str) -> None:
    """Point Django at the benchmark database (before any model import) and migrate it."""
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "destination.settings.base")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


# --- Guests and consents in SQL ------------------------------------------------------------
# The newsletter benchmarks load their guests and the consent ledger's tables with
# generate_series (no Python per row); guest i has id i, so other tables can refer to it.


def guests_insert(
    cursor: Any,
    n: int,
    *,
    languages: Sequence[str] = ("fr", "en"),
    countries: Sequence[str] = ("FR",),
    first_name: str = "First",
    surnames: int = 0,
    erased_every: int = 0,
    last_contact_days: int = 0,
) -> None:
    """Guests 1..n: language and country cycle through the lists by id; the last name is
    ``Last<i>`` (``Last<i % surnames>`` with ``surnames``); every ``erased_every``-th guest is
    erased; with ``last_contact_days`` the last real contact goes back up to that many days.
    Moves the id sequence past n."""

    def cycle(values: Sequence[str]) -> str:
        quoted = ",".join(f"'{v}'" for v in values if v.isalnum())
        if quoted.count(",") + 1 != len(values):
            raise ValueError(f"unsafe values {values!r}")
        return f"(ARRAY[{quoted}])[1 + i %% {len(values)}]"

    last = f"(i %% {int(surnames)})" if surnames else "i"
    status = f"CASE WHEN i %% {int(erased_every)} = 0 THEN 'erased' ELSE 'active' END"
    contact = f"now() - (i %% {int(last_contact_days)}) * interval '1 day'"
    cursor.execute(
        f"""
        INSERT INTO destination_guest (id, uuid, first_name, last_name, name_folded, language,
            country, source, source_detail, status, created_at, updated_at, last_contact_at)
        SELECT i, md5(i::text)::uuid, %s || i, 'Last' || {last}, 'first' || i || ' last' || {last},
               {cycle(languages)}, {cycle(countries)}, 'import', 'benchmark',
               {status if erased_every else "'active'"}, now(), now(),
               {contact if last_contact_days else "NULL"}
        FROM generate_series(1, %s) AS i
        """,
        [first_name, n],
    )
    cursor.execute(
        "SELECT setval(pg_get_serial_sequence('destination_guest', 'id'), "
        "(SELECT max(id) FROM destination_guest))"
    )


def consent_proof_create(cursor: Any) -> int:
    """One wording and one import proof that every benchmark consent points to."""
    cursor.execute(
        "INSERT INTO destination_consentwording (purpose, version, language, text, "
        "created_at) VALUES ('newsletter', 'v1', 'fr', 'Oui', now())"
    )
    cursor.execute(
        "INSERT INTO destination_consentproof (method, wording_id, is_objection, evidence, "
        "occurred_at, created_at) SELECT 'import', max(id), false, '{}', now(), now() "
        "FROM destination_consentwording RETURNING id"
    )
    return int(cursor.fetchone()[0])


def consents_insert(
    cursor: Any,
    *,
    n_guests: int,
    proof_id: int,
    purpose: str,
    channel: str,
    partner_id: int | None = None,
    where: str = "true",
    withdrawn_every: int = 0,
) -> None:
    """A ledger event and its current state for each guest 1..n_guests matching ``where`` (SQL
    over ``i``, the guest id, with ``%%`` for modulo), as the consent service writes them;
    granted except every ``withdrawn_every``-th guest."""
    granted = f"i %% {int(withdrawn_every)} <> 0" if withdrawn_every else "true"
    cursor.execute(
        f"""
        WITH e AS (
            INSERT INTO destination_consentevent (guest_id, purpose, partner_id, channel,
                                                  granted, proof_id, created_at)
            SELECT i, %s::varchar, %s::bigint, %s, {granted}, %s, now()
            FROM generate_series(1, %s) AS i WHERE {where}
            RETURNING id, guest_id, granted
        )
        INSERT INTO destination_consentstate (guest_id, purpose, partner_id, channel,
                                              granted, event_id, updated_at)
        SELECT guest_id, %s::varchar, %s::bigint, %s, granted, id, now() FROM e
        """,
        [purpose, partner_id, channel, proof_id, n_guests, purpose, partner_id, channel],
    )


# --- Timing -------------------------------------------------------------------------------


@dataclass
class Timings:
    label: str
    samples_ms: list[float]

    def percentile(self, p: float) -> float:
        ordered = sorted(self.samples_ms)
        if not ordered:
            return float("nan")
        k = (len(ordered) - 1) * p / 100
        lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p95(self) -> float:
        return self.percentile(95)

    def line(self, target_p95: float | None = None) -> str:
        mean = statistics.fmean(self.samples_ms) if self.samples_ms else float("nan")
        text = (
            f"{self.label}: n={len(self.samples_ms)} p50={self.p50:.2f} ms "
            f"p95={self.p95:.2f} ms mean={mean:.2f} ms"
        )
        if target_p95 is not None:
            verdict = "OK" if self.p95 < target_p95 else "MISSED"
            text += f" (target p95 < {target_p95:g} ms: {verdict})"
        return text


def timed(label: str, calls: list[Callable[[], Any]]) -> tuple[Timings, list[Any]]:
    samples, results = [], []
    for call in calls:
        start = time.perf_counter()
        results.append(call())
        samples.append((time.perf_counter() - start) * 1000)
    return Timings(label, samples), results


def load_line() -> str:
    """The load average, to print beside every figure: this machine is shared."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} cores"


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)


# --- People -------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    """Space-separated names; an underscore joins a name of several words ("De_Luca")."""
    return [word.replace("_", " ") for word in text.split()]


_FIRST_NAMES: dict[str, str] = {
    "fr": "Jean Pierre Louis Michel Philippe Alain Nicolas Christophe Stéphane Sébastien Julien "
    "Mathieu Antoine Hugo Théo Lucas Mathéo Raphaël Gaël Noël Jérôme François Benoît Clément "
    "Étienne Maxime Thomas Quentin Romain Baptiste Marie Jeanne Louise Nathalie Isabelle Sylvie "
    "Catherine Françoise Chloé Léa Manon Camille Inès Zoé Amélie Hélène Céline Élodie Océane "
    "Margaux Pauline Juliette Maëlle Anaïs Sophie Aurélie Émilie Laetitia Jean-Pierre "
    "Marie-Claire Anne-Sophie Jean-Baptiste",
    "de": "Jürgen Lukas Maximilian Jörg Stefan Tobias Matthias Florian Jonas Leon Felix Paul "
    "Andreas Thomas Michael Klaus Uwe Dieter Sebastian Moritz Lena Anja Käthe Sophie Katharina "
    "Annelie Brigitte Ursula Hannah Emma Mia Lea Lara Johanna Sabine Petra Monika Greta "
    "Friederike Charlotte",
    "en": "James Oliver Harry George Charles William Thomas Jack Noah Jacob Henry Arthur Edward "
    "Samuel Daniel Joseph Liam Ethan Emily Charlotte Olivia Amelia Isabella Grace Sophia Ella "
    "Ava Mia Lily Poppy Evie Jessica Hannah Lucy Ruby Chloe Megan Freya",
    "it": "Mario Giulio Francesco Paolo Alessandro Niccolò Daniele Lorenzo Matteo Leonardo "
    "Andrea Riccardo Marco Luca Giovanni Stefano Davide Maria Giulia Francesca Paola "
    "Alessandra Chiara Daniela Sofia Aurora Alice Ginevra Beatrice Martina Elena Valentina "
    "Federica Silvia Laura",
    "es": "José Álvaro Jesús Iñigo Sergio Andrés Rubén Javier Carlos Manuel Pablo Alejandro "
    "David Diego Adrián Hugo Martín Lucía Begoña Inés Nuria Mónica Carmen Laura Paula Sara "
    "Marta Elena Cristina Alba Claudia Irene Noelia Rocío Pilar",
    "nl": "Daan Sem Bram Joost Pieter Maarten Jan Thijs Ruben Lars Sanne Femke Anouk Lieke "
    "Marieke Eline Fleur Noor Iris Roos Tess Sven Wouter Koen Floor",
}
FIRST_NAMES = {lang: _words(text) for lang, text in _FIRST_NAMES.items()}
_LAST_ROOTS: dict[str, tuple[str, str, str]] = {
    # Whole names, then roots x suffixes for variety.
    "fr": (
        "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent "
        "Lefèvre Lefebvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André "
        "Mercier Dupont Lambert Bonnet François Martinez Legrand Garnier Faure Rousseau Blanc "
        "Guérin Muller Henry Roussel Nicolas Perrin Morin Mathieu Clément Gauthier Dumont "
        "Lopez Fontaine Chevalier Robin Masson Sanchez Gérard Nguyen Boyer Denis Lemaire Duval "
        "Joly Gautier Roger Roche Roy Noël Meyer Lucas Meunier Jean Perez Marchand Dufour "
        "Blanchard Marie Barbier Brun Dumas Brunet Schmitt Leroux Colin Fernandez Pierre "
        "Renard Arnaud Rolland Caron Aubert Giraud Leclerc Vidal Bourgeois Renaud Lemoine "
        "Picard Gaillard Philippe Leclercq Lacroix Fabre Dupuis Olivier Rodriguez Da_Silva "
        "Hubert Louis Charles Guillot Rivière Le_Gall Guillaume Adam Rey Moulin Gonzalez "
        "Berger Lecomte Ménard Fleury Deschamps Carpentier Julien Benoît Paris Maillard Marchal "
        "Aubry Vasseur Le_Roux Renault Jacquet Collet Prévost Poirier Charpentier Royer "
        "Huet Baron Dupuy Pons Paul Laine Carré Breton Rémy Schneider Perrot Guyot Barre "
        "Marty Cousin",
        "Du Le La De Des Beau Bel Grand Petit Mont Val Saint Ro",
        "bois mont val champ pré fontaine roche pont moulin chêne fort lac mas rivière "
        "château vigne clos jardin",
    ),
    "de": (
        "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer "
        "Koch Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger "
        "Hofmann Hartmann Lange Schmitt Werner Schmitz Krause Meier Lehmann Schmid Schulze "
        "Maier Köhler Herrmann König Walter Mayer Huber Kaiser Fuchs Peters Lang Scholz Möller "
        "Weiß Jung Hahn Schubert Vogel Friedrich Keller Günther Frank Berger Winkler Roth Beck "
        "Lorenz Baumann Franke Albrecht Schuster Simon Ludwig Böhm Winter Kraus Martin "
        "Schumacher Krämer Vogt Stein Jäger Otto Sommer Groß Seidel Heinrich Brandt Haas "
        "Schreiber Graf Schulte Dietrich Ziegler Kuhn Kühn Pohl Engel Horn Busch Bergmann "
        "Thomas Voigt Sauer Arnold Wolff Pfeiffer",
        "Schwarz Weiß Berg Hof Kirch Lind Wald Stein Brun Feld Rosen Eich Acker Bach Buch "
        "Holz Linden Sonnen Wasser Birken",
        "mann er berger hofer meier huber inger bauer müller felder stätter bichler",
    ),
    "en": (
        "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts "
        "Robinson Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke "
        "Patel Jackson Wood Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker "
        "Harrison Morgan Allen James Scott Phillips Watson Davis Parker Price Bennett Young "
        "Griffiths Mitchell Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy Miller "
        "Cox Richards Khan Marshall Anderson Simpson Ellis Adams Singh Begum Wilkinson Foster "
        "Chapman Powell Webb Rogers Gray Mason Ali Hunt Hussain Campbell Matthews Owen Palmer "
        "Holmes Mills Barnes Knight Lloyd Butler Russell Barker Fisher Stevens Jenkins O'Connor "
        "O'Brien McDonald",
        "Ash Black Brad Brook Church Cole Fair Hart Lang Mill Red Rock Stan Whit Wood",
        "ford ley ton field worth wood well by stone more",
    ),
    "it": (
        "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo "
        "Conti De_Luca Mancini Costa Giordano Rizzo Lombardi Moretti Barbieri Fontana Santoro "
        "Mariani Rinaldi Caruso Ferrara Galli Martini Leone Longo Gentile Martinelli Vitale "
        "Lombardo Serra Coppola De_Santis D'Angelo Marchetti Parisi Villa Conte Ferraro Ferri "
        "Fabbri Bianco Marini Grasso Valentini Messina Sala De_Angelis Gatti Pellegrini Palumbo "
        "Sanna Farina Rizzi Monti Cattaneo Morelli Amato Silvestri Mazza Testa Grassi "
        "Pellegrino Carbone Giuliani Benedetti Barone Rossetti Caputo Montanari Guerra "
        "Palmieri Bernardi Martino Fiore De_Rosa Ferretti Bellini Basile Riva Donati Piras "
        "Vitali Battaglia Sartori Neri Costantini Milani Pagano Ruggiero Sorrentino D'Amico "
        "Orlando Damico Negri",
        "Ross Bianch Ferr Ricc Gall Cont Mar Sant Fontan Moret Bell Cas Lup Pan Ser",
        "i ini etti elli one ucci ato otti",
    ),
    "es": (
        "García Rodríguez González Fernández López Martínez Sánchez Pérez Gómez Martín "
        "Jiménez Ruiz Hernández Díaz Moreno Muñoz Álvarez Romero Alonso Gutiérrez Navarro "
        "Torres Domínguez Vázquez Ramos Gil Ramírez Serrano Blanco Molina Morales Suárez "
        "Ortega Delgado Castro Ortiz Rubio Marín Sanz Núñez Iglesias Medina Garrido Cortés "
        "Castillo Santos Lozano Guerrero Cano Prieto Méndez Cruz Calvo Gallego Vidal León "
        "Márquez Herrera Peña Flores Cabrera Campos Vega Fuentes Carrasco Diez Caballero "
        "Reyes Nieto Aguilar Pascual Santana Herrero Lorenzo Montero Hidalgo Giménez Ibáñez "
        "Ferrer Durán Santiago Benítez Mora Vicente Vargas Arias Carmona Crespo Román "
        "Pastor Soto Sáez Velasco Moya Soler Parra Esteban Bravo Gallardo Rojas",
        "Gonzál Fernánd Rodrígu Lóp Sánch Pér Góm Martín Hernánd Ramír Domíngu Vázqu",
        "ez",
    ),
    "nl": (
        "de_Jong Jansen de_Vries van_den_Berg van_Dijk Bakker Janssen Visser Smit Meijer "
        "de_Boer Mulder de_Groot Bos Vos Peters Hendriks van_Leeuwen Dekker Brouwer de_Wit "
        "Dijkstra Smits de_Graaf van_der_Meer van_der_Linden Kok Jacobs de_Haan Vermeulen "
        "van_den_Heuvel van_der_Veen van_den_Broek de_Bruijn de_Bruin van_der_Heijden Schouten "
        "van_Beek Willems van_Vliet van_de_Ven Hoekstra Maas Verhoeven Koster van_Dam "
        "van_der_Wal Prins Blom Huisman Peeters",
        "van_de van_der van_den de ter",
        "Berg Veen Meer Wal Bosch Heide Molen Linden Kamp Brink",
    ),
}
COUNTRIES: list[tuple[str, str, float]] = [
    # country, language, weight
    ("FR", "fr", 0.34), ("CH", "fr", 0.05), ("CH", "de", 0.06), ("BE", "fr", 0.04),
    ("BE", "nl", 0.03), ("DE", "de", 0.12), ("GB", "en", 0.14), ("IT", "it", 0.09),
    ("ES", "es", 0.08), ("NL", "nl", 0.05),
]  # fmt: skip
# Mobile number patterns valid for libphonenumber: prefix + this many digits.
MOBILES = {"FR": ("+336", 8), "CH": ("+4179", 7), "BE": ("+3247", 7), "DE": ("+49151", 8),
           "GB": ("+4479", 8), "IT": ("+39347", 7), "ES": ("+346", 8), "NL": ("+3161", 7)}  # fmt: skip
DOMAINS = ["gmail.com", "orange.fr", "hotmail.com", "web.de", "libero.it", "yahoo.es",
           "ziggo.nl", "bluewin.ch", "outlook.com", "free.fr", "gmx.de", "icloud.com",
           "sfr.fr", "t-online.de", "btinternet.com", "skynet.be", "proton.me"]  # fmt: skip


def _last_names(lang: str) -> list[str]:
    whole, roots, suffixes = (_words(part) for part in _LAST_ROOTS[lang])
    joiner = " " if lang == "nl" else ""
    made = [f"{r}{joiner}{s}" if lang != "fr" or r not in {"Du", "Le", "La", "De", "Des"}
            else f"{r} {s.capitalize()}" for r in roots for s in suffixes]  # fmt: skip
    if lang == "fr":
        made = [m[0].upper() + m[1:] for m in made]
    return sorted(set(whole + made))


LAST_NAMES = {lang: _last_names(lang) for lang in _LAST_ROOTS}


@dataclass
class FakePerson:
    first_name: str
    last_name: str
    email: str
    phone: str
    country: str
    language: str
    birth_date: Any


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


class PeopleFactory:
    """Deterministic, varied people: person ``i`` always has the same name, email and phone."""

    def __init__(self, seed: int = 7) -> None:
        self.seed = seed
        self.weights = [w for _c, _l, w in COUNTRIES]
        self.all_last = [n for names in LAST_NAMES.values() for n in names]

    def people(self, start: int, count: int) -> Iterator[tuple[int, FakePerson]]:
        """People ``start`` .. ``start + count - 1``; the same range always gives the same
        people. Phone numbers and email suffixes derive from the number, so they are unique."""
        import datetime as dt

        from destination.normalize import fold

        rng = random.Random(self.seed * 1_000_003 + start)
        epoch = dt.date(1940, 1, 1)
        for i in range(start, start + count):
            country, lang, _w = rng.choices(COUNTRIES, self.weights)[0]
            first = rng.choice(FIRST_NAMES[lang])
            r = rng.random()
            last = rng.choice(LAST_NAMES[lang]) if r < 0.85 else rng.choice(self.all_last)
            birth = epoch + dt.timedelta(days=int(r * 1e6) % 27_000) if r < 0.6 else None
            f, s = fold(first).replace(" ", ""), fold(last).replace(" ", "")
            email = ""
            if rng.random() < 0.95:
                local = (f"{f}.{s}", f"{f[0]}{s}", f"{s}.{f}", f"{f}{s}", f"{f}_{s}")[i % 5]
                email = f"{local}.{_b36(i)}@{DOMAINS[(i * 7 + len(s)) % len(DOMAINS)]}"
            phone = ""
            if rng.random() < 0.7:
                prefix, digits = MOBILES[country]
                phone = prefix + str(i % 10**digits).zfill(digits)
            yield i, FakePerson(first, last, email, phone, country, lang, birth)

    @staticmethod
    def typo(rng: random.Random, word: str) -> str:
        if len(word) < 4:
            return word
        i = rng.randrange(1, len(word) - 1)
        op = rng.choice(["sub", "del", "ins", "swap"])
        letter = rng.choice("abcdefghilmnoprstuvz")
        if op == "sub":
            return word[:i] + letter + word[i + 1 :]
        if op == "del":
            return word[:i] + word[i + 1 :]
        if op == "ins":
            return word[:i] + letter + word[i:]
        return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]
