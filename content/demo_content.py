"""The demo site's words, in English and French, written for this project.

Every translatable string is an ``(english, french)`` pair. The seed builds the English tree from
the first items and hands the pairs to wagtail-localize as the French translation memory, so the
French tree is a real translation that translators can open in wagtail-localize's editor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Pair = tuple[str, str]


@dataclass(frozen=True)
class Block:
    """One StreamField block: its type, its English value and the strings it holds in pairs."""

    type: str
    value: dict | str
    pairs: tuple[Pair, ...] = ()


def paragraph(en: str, fr: str) -> Block:
    return Block("paragraph", f"<p>{en}</p>", ((en, fr),))


def heading(en: str, fr: str) -> Block:
    return Block("heading", {"text": en, "size": "h2"}, ((en, fr),))


def quote(text: Pair, attribution: Pair) -> Block:
    return Block("quote", {"text": text[0], "attribution": attribution[0]}, (text, attribution))


def image(key: str, caption: Pair, credit: str = "") -> Block:
    # The image id is filled in by the seed once the file is imported. No credit: the demo
    # photographs are the brand's own, and the page credits them to the brand's current name.
    return Block("image", {"image": key, "caption": caption[0], "credit": credit}, (caption,))


def gallery(title: Pair, keys: list[str], captions: list[Pair]) -> Block:
    items = [
        {"image": key, "caption": cap[0], "credit": ""}
        for key, cap in zip(keys, captions, strict=True)
    ]
    return Block("gallery", {"title": title[0], "images": items}, (title, *captions))


def call_to_action(title: Pair, text: Pair, button: Pair, url: str) -> Block:
    value = {"title": title[0], "text": text[0], "button_label": button[0], "url": url}
    return Block("call_to_action", value, (title, text, button))


def newsletter_signup(title: Pair, text: Pair) -> Block:
    return Block("newsletter_signup", {"title": title[0], "text": text[0]}, (title, text))


# Closes every demo story: the signup block editors can place on any page.
STORY_SIGNUP = newsletter_signup(
    ("Get the next story first", "Recevez le prochain récit en avant-première"),
    (
        "One letter a month: stories, events and offers from the mountains.",
        "Une lettre par mois : récits, événements et offres de la montagne.",
    ),
)

# "%(brand)s" is the brand name of the Destination setting when the seed runs.
LEGAL_FOOTER_EN = (
    "%(brand)s is the shared brand of the destination's tourist office and partner "
    "businesses. Demo content: places, people and events are fictional."
)
LEGAL_FOOTER_FR = (
    "%(brand)s est la marque partagée de l'office de tourisme et des entreprises partenaires "
    "de la destination. Contenu de démonstration : lieux, personnes et événements sont fictifs."
)


@dataclass(frozen=True)
class StoryText:
    slug: Pair
    theme: str
    image: str
    author: str
    days_ago: int
    title: Pair
    intro: Pair
    body: list[Block]
    featured: bool = False


@dataclass(frozen=True)
class EventText:
    slug: Pair
    image: str
    days_from_now: int
    duration_hours: int
    title: Pair
    intro: Pair
    place: Pair
    address: str
    body: list[Block] = field(default_factory=list)


HOME = {
    "title": ("Welcome", "Bienvenue"),
    "slug": ("home", "accueil"),
    "hero_title": ("Live the high mountains", "Vivez la haute montagne"),
    "intro": (
        "Six hundred kilometres of slopes, a village without cars and partners who know your "
        "name. Stories, events and ideas for your next stay.",
        "Six cents kilomètres de pistes, un village sans voitures et des partenaires qui "
        "connaissent votre prénom. Récits, événements et idées pour votre prochain séjour.",
    ),
    "hero_button_label": ("Read our stories", "Lire nos récits"),
    "search_description": (
        "The destination's magazine: skiing, family holidays, mountain food, events and "
        "wellbeing, told by the people who live here.",
        "Le magazine de la destination : ski, vacances en famille, cuisine de montagne, "
        "événements et bien-être, racontés par ceux qui vivent ici.",
    ),
}

STORY_INDEX = {
    "title": ("Stories", "Récits"),
    "slug": ("stories", "recits"),
    "intro": (
        "Guides, chefs, instructors and guests tell the mountain as they live it.",
        "Guides, chefs, moniteurs et visiteurs racontent la montagne comme ils la vivent.",
    ),
}

EVENT_INDEX = {
    "title": ("Events", "Événements"),
    "slug": ("events", "evenements"),
    "intro": (
        "Concerts on the snow, races, tastings and evenings under the stars: what is on.",
        "Concerts sur la neige, courses, dégustations et soirées sous les étoiles : le programme.",
    ),
}

# Offer pages: live bookable offers of one kind, read from the bookings catalogue at each view.
OFFER_PAGES = [
    (
        "lessons",
        "bluebird-day",
        {
            "title": ("Ski lessons", "Cours de ski"),
            "slug": ("ski-lessons", "cours-de-ski"),
            "intro": (
                "Group and private lessons with the destination's ski schools: pick a morning, "
                "see the places left and book in a minute.",
                "Cours collectifs et particuliers avec les écoles de ski de la destination : "
                "choisissez une matinée, voyez les places restantes et réservez en une minute.",
            ),
        },
    ),
    (
        "stay",
        "village-night",
        {
            "title": ("Stays", "Séjours"),
            "slug": ("stays", "sejours"),
            "intro": (
                "Hotels, residences and chalets of the village, with a deposit at booking and the "
                "balance a month before you arrive.",
                "Hôtels, résidences et chalets du village, avec un acompte à la réservation et le "
                "solde un mois avant votre arrivée.",
            ),
        },
    ),
]

DIRECTORY = {
    "title": ("Our partners", "Nos partenaires"),
    "slug": ("partners", "partenaires"),
    "intro": (
        "Ski schools, rental shops, restaurants and lodgings of the destination, all in one place.",
        "Écoles de ski, loueurs, restaurants et hébergements de la destination, réunis au même "
        "endroit.",
    ),
}

STORIES: list[StoryText] = [
    StoryText(
        slug=("first-tracks-at-sunrise", "premieres-traces-au-lever-du-soleil"),
        theme="skiing",
        image="sunrise-peaks",
        author="Camille Roux",
        days_ago=2,
        featured=True,
        title=("First tracks at sunrise", "Premières traces au lever du soleil"),
        intro=(
            "Before the lifts open to everyone, a small group rides up with the patrollers to "
            "ski the groomed slopes in the first light.",
            "Avant l'ouverture des remontées au public, un petit groupe monte avec les pisteurs "
            "pour skier les pistes damées dans la première lumière.",
        ),
        body=[
            paragraph(
                "The alarm rings at six. By seven, the chairlift creaks into motion and the "
                "valley is still blue below us. At the top, the sky turns from violet to gold "
                "in a few minutes.",
                "Le réveil sonne à six heures. À sept heures, le télésiège s'ébranle et la "
                "vallée est encore bleue sous nos pieds. Au sommet, le ciel passe du violet à "
                "l'or en quelques minutes.",
            ),
            heading("Corduroy, and nobody else", "Du velours, et personne d'autre"),
            paragraph(
                "The groomers worked all night. The snow is firm, even and silent under the "
                "skis. Our guide sets a calm pace so that everyone keeps their breath for the "
                "view.",
                "Les dameuses ont travaillé toute la nuit. La neige est ferme, régulière et "
                "silencieuse sous les skis. Notre guide impose un rythme calme pour que chacun "
                "garde son souffle pour la vue.",
            ),
            quote(
                (
                    "The first run of the day belongs to the mountain. We just borrow it.",
                    "La première descente de la journée appartient à la montagne. Nous ne "
                    "faisons que l'emprunter.",
                ),
                ("Lucas, ski patroller", "Lucas, pisteur secouriste"),
            ),
            image(
                "bluebird-day",
                (
                    "By nine, the sun is on every slope.",
                    "À neuf heures, le soleil touche toutes les pistes.",
                ),
            ),
            call_to_action(
                ("Join a sunrise session", "Participez à une session au lever du soleil"),
                (
                    "Every Tuesday and Friday, from mid-December to April. Breakfast included.",
                    "Chaque mardi et vendredi, de mi-décembre à avril. Petit-déjeuner compris.",
                ),
                ("Ask the tourist office", "Demandez à l'office de tourisme"),
                "https://example.com/sunrise",
            ),
        ],
    ),
    StoryText(
        slug=("a-family-week-on-the-snow", "une-semaine-en-famille-sur-la-neige"),
        theme="family",
        image="family-slope",
        author="Inès Morel",
        days_ago=5,
        featured=True,
        title=("A family week on the snow", "Une semaine en famille sur la neige"),
        intro=(
            "Three children, two parents and one grandmother: how a family of skiers of every "
            "level found its rhythm in six days.",
            "Trois enfants, deux parents et une grand-mère : comment une famille de skieurs de "
            "tous niveaux a trouvé son rythme en six jours.",
        ),
        body=[
            paragraph(
                "Monday started with tears over a boot buckle. Friday ended with a race between "
                "the youngest and her grandmother, which nobody will ever agree on.",
                "Lundi a commencé par des larmes sur une boucle de chaussure. Vendredi s'est "
                "terminé par une course entre la cadette et sa grand-mère, dont personne ne "
                "connaîtra jamais le vrai vainqueur.",
            ),
            heading("Mornings at ski school", "Les matinées à l'école de ski"),
            paragraph(
                "The children joined small groups by level, which left the parents two hours to "
                "explore further afield before meeting everyone at the foot of the slopes.",
                "Les enfants ont rejoint de petits groupes par niveau, ce qui laissait aux "
                "parents deux heures pour aller plus loin avant de retrouver tout le monde au "
                "pied des pistes.",
            ),
            paragraph(
                "Afternoons were for sledging, hot chocolate and the pool, in an order decided "
                "each day by a family vote.",
                "Les après-midi étaient consacrés à la luge, au chocolat chaud et à la piscine, "
                "dans un ordre décidé chaque jour par un vote familial.",
            ),
            quote(
                (
                    "We came for the skiing. The children will remember the sledging.",
                    "Nous sommes venus pour le ski. Les enfants se souviendront de la luge.",
                ),
                ("Marc, father of three", "Marc, père de trois enfants"),
            ),
        ],
    ),
    StoryText(
        slug=("dinner-at-the-top", "diner-au-sommet"),
        theme="gastronomy",
        image="chalet-dusk",
        author="Hugo Blanc",
        days_ago=8,
        featured=True,
        title=("Dinner at the top", "Dîner au sommet"),
        intro=(
            "A snowcat ride, a mountain restaurant lit by candles and a menu built on what the "
            "valley's farms produce.",
            "Une montée en dameuse, un restaurant d'altitude éclairé à la bougie et un menu "
            "construit avec les produits des fermes de la vallée.",
        ),
        body=[
            paragraph(
                "The chef buys his cheese from three farms within twenty kilometres. He says "
                "the menu writes itself once he has tasted the week's milk.",
                "Le chef achète son fromage auprès de trois fermes à moins de vingt kilomètres. "
                "Il dit que le menu s'écrit tout seul une fois qu'il a goûté le lait de la "
                "semaine.",
            ),
            heading("A menu in four seasons", "Un menu en quatre saisons"),
            paragraph(
                "Winter brings slow-cooked dishes and mountain herbs dried in summer. Dessert is "
                "often a tart made with blueberries picked on the same slopes in August.",
                "L'hiver apporte des plats mijotés et des herbes de montagne séchées l'été. Le "
                "dessert est souvent une tarte aux myrtilles cueillies sur les mêmes pentes en "
                "août.",
            ),
            quote(
                (
                    "Up here, a good dinner starts with a good farmer.",
                    "Ici, un bon dîner commence par un bon paysan.",
                ),
                ("The chef", "Le chef"),
            ),
        ],
    ),
    StoryText(
        slug=("warm-water-cold-air", "eau-chaude-air-froid"),
        theme="wellbeing",
        image="spa-twilight",
        author="Léa Girard",
        days_ago=11,
        title=("Warm water, cold air", "Eau chaude, air froid"),
        intro=(
            "An outdoor pool at thirty-four degrees, snow on the edges and the peaks turning "
            "pink: the best end to a ski day.",
            "Un bassin extérieur à trente-quatre degrés, de la neige sur les bords et des "
            "sommets qui rosissent : la meilleure fin de journée de ski.",
        ),
        body=[
            paragraph(
                "Muscles that worked all day relax in minutes. The steam rises, the light goes, "
                "and conversations drop to a whisper.",
                "Les muscles qui ont travaillé toute la journée se relâchent en quelques "
                "minutes. La vapeur monte, la lumière baisse et les conversations se font "
                "murmures.",
            ),
            paragraph(
                "Book a late slot: after five, the pool belongs to those who have skied until "
                "the last lift.",
                "Réservez un créneau tardif : après dix-sept heures, le bassin appartient à "
                "ceux qui ont skié jusqu'à la dernière remontée.",
            ),
        ],
    ),
    StoryText(
        slug=("blue-hour-on-the-glacier", "l-heure-bleue-sur-le-glacier"),
        theme="outdoors",
        image="glacier-blue",
        author="Nathan Perrin",
        days_ago=14,
        title=("Blue hour on the glacier", "L'heure bleue sur le glacier"),
        intro=(
            "A snowshoe walk with a mountain guide, roped up, to watch the ice turn blue as the "
            "day ends.",
            "Une sortie en raquettes avec un guide de haute montagne, encordés, pour voir la "
            "glace bleuir à la tombée du jour.",
        ),
        body=[
            paragraph(
                "Our guide checks each harness twice. The glacier is quiet and wide, and the "
                "only sound is the crunch of our steps.",
                "Notre guide vérifie chaque baudrier deux fois. Le glacier est calme et vaste, "
                "et le seul bruit est celui de nos pas dans la neige.",
            ),
            quote(
                (
                    "Respect the glacier and it will show you colours no camera can keep.",
                    "Respectez le glacier et il vous montrera des couleurs qu'aucun appareil "
                    "ne sait garder.",
                ),
                ("Élise, mountain guide", "Élise, guide de haute montagne"),
            ),
            gallery(
                ("Along the way", "En chemin"),
                ["sunrise-peaks", "snowfall-forest", "summer-lake"],
                [
                    ("Setting off at dawn", "Départ à l'aube"),
                    ("Through the larch forest", "À travers la forêt de mélèzes"),
                    ("The lake, in summer", "Le lac, en été"),
                ],
            ),
        ],
    ),
    StoryText(
        slug=("the-snow-front-festival", "le-festival-du-front-de-neige"),
        theme="events",
        image="festival-lights",
        author="Camille Roux",
        days_ago=17,
        featured=True,
        title=("The snow front festival", "Le festival du front de neige"),
        intro=(
            "Three nights of music on a stage built from snow, with the whole village dancing "
            "in ski boots.",
            "Trois soirs de musique sur une scène construite en neige, avec tout le village "
            "qui danse en chaussures de ski.",
        ),
        body=[
            paragraph(
                "The stage takes a week to build and one spring to melt. In between, it hosts "
                "local bands, a brass orchestra and a DJ set that ends at the stroke of midnight.",
                "La scène demande une semaine de construction et un printemps pour fondre. "
                "Entre les deux, elle accueille des groupes locaux, une fanfare et un set de DJ "
                "qui se termine aux douze coups de minuit.",
            ),
            paragraph(
                "Entry is free. Bring a warm layer: the show is outdoors and the temperature "
                "drops fast after sunset.",
                "L'entrée est gratuite. Prévoyez une couche chaude : le spectacle a lieu en "
                "plein air et la température chute vite après le coucher du soleil.",
            ),
        ],
    ),
    StoryText(
        slug=("a-night-in-the-village", "une-nuit-au-village"),
        theme="events",
        image="village-night",
        author="Hugo Blanc",
        days_ago=20,
        title=("A night in the village", "Une nuit au village"),
        intro=(
            "Torchlight descent, mulled apple juice and a sky full of stars: the weekly "
            "evening that closes every holiday week.",
            "Descente aux flambeaux, jus de pomme chaud et ciel étoilé : la soirée "
            "hebdomadaire qui clôt chaque semaine de vacances.",
        ),
        body=[
            paragraph(
                "At dusk, the instructors light their torches at the top of the beginners' "
                "slope and ski down in a long ribbon of fire.",
                "À la nuit tombée, les moniteurs allument leurs flambeaux en haut de la piste "
                "des débutants et descendent en un long ruban de feu.",
            ),
            paragraph(
                "Children watch from the front row. Afterwards, the square fills with music and "
                "the smell of warm spices.",
                "Les enfants regardent depuis le premier rang. Ensuite, la place s'emplit de "
                "musique et d'odeurs d'épices chaudes.",
            ),
        ],
    ),
    StoryText(
        slug=("learning-to-ski-at-forty", "apprendre-a-skier-a-quarante-ans"),
        theme="skiing",
        image="bluebird-day",
        author="Inès Morel",
        days_ago=23,
        title=("Learning to ski at forty", "Apprendre à skier à quarante ans"),
        intro=(
            "It is never too late for a first snowplough. A beginner's diary, from the magic "
            "carpet to the first blue run.",
            "Il n'est jamais trop tard pour un premier chasse-neige. Le journal d'une "
            "débutante, du tapis roulant à la première piste bleue.",
        ),
        body=[
            paragraph(
                "Day one: I fell eleven times. Day three: four. On day five, my instructor "
                "stopped counting and started filming.",
                "Premier jour : onze chutes. Troisième jour : quatre. Le cinquième jour, ma "
                "monitrice a arrêté de compter et a commencé à filmer.",
            ),
            paragraph(
                "Adult lessons run in groups of six at most, with a slow start and no one in a "
                "hurry. Fear, it turns out, melts faster than snow.",
                "Les cours pour adultes se font en groupes de six au plus, avec un démarrage "
                "doux et personne de pressé. La peur, finalement, fond plus vite que la neige.",
            ),
        ],
    ),
    StoryText(
        slug=("cheese-from-the-high-pastures", "les-fromages-des-alpages"),
        theme="gastronomy",
        image="summer-lake",
        author="Nathan Perrin",
        days_ago=27,
        title=("Cheese from the high pastures", "Les fromages des alpages"),
        intro=(
            "In summer, the herds climb to the pastures above the lake. In winter, their cheese "
            "comes down to our tables.",
            "L'été, les troupeaux montent aux alpages au-dessus du lac. L'hiver, leurs "
            "fromages descendent jusqu'à nos tables.",
        ),
        body=[
            paragraph(
                "A wheel needs about four hundred litres of milk and several months in the "
                "cellar, turned and brushed by hand every few days.",
                "Une meule demande environ quatre cents litres de lait et plusieurs mois en "
                "cave, retournée et frottée à la main tous les quelques jours.",
            ),
            paragraph(
                "Several restaurants of the destination list the farm of origin on their menu. "
                "Ask: the staff love telling the story.",
                "Plusieurs restaurants de la destination indiquent la ferme d'origine sur leur "
                "carte. Demandez : le personnel adore raconter l'histoire.",
            ),
        ],
    ),
    StoryText(
        slug=("snowshoes-in-the-forest", "raquettes-en-foret"),
        theme="outdoors",
        image="snowfall-forest",
        author="Léa Girard",
        days_ago=31,
        title=("Snowshoes in the forest", "Raquettes en forêt"),
        intro=(
            "No lifts, no queues: a morning in the larch forest with snow falling softly and "
            "animal tracks to read.",
            "Pas de remontées, pas de file d'attente : une matinée dans la forêt de mélèzes, "
            "sous une neige légère, à lire les traces des animaux.",
        ),
        body=[
            paragraph(
                "Our guide points at a line of small prints: a hare, in a hurry. Further on, "
                "the neat steps of a fox that knew exactly where it was going.",
                "Notre guide montre une ligne de petites empreintes : un lièvre, pressé. Plus "
                "loin, les pas nets d'un renard qui savait exactement où il allait.",
            ),
            paragraph(
                "Snowshoes are easy to learn. Bring sunglasses and water, even when the sky is "
                "grey.",
                "Les raquettes s'apprennent en quelques minutes. Emportez des lunettes de soleil "
                "et de l'eau, même quand le ciel est gris.",
            ),
        ],
    ),
    StoryText(
        slug=("a-quiet-day-off-the-slopes", "une-journee-calme-loin-des-pistes"),
        theme="wellbeing",
        image="glacier-blue",
        author="Camille Roux",
        days_ago=35,
        title=("A quiet day off the slopes", "Une journée calme loin des pistes"),
        intro=(
            "Yoga at altitude, a long lunch in the sun and a massage: the rest day your legs "
            "have been asking for.",
            "Yoga en altitude, long déjeuner au soleil et massage : le jour de repos que vos "
            "jambes réclamaient.",
        ),
        body=[
            paragraph(
                "Breathing is different at two thousand metres. The morning yoga class starts "
                "slowly, with the peaks framed in the studio's big windows.",
                "On respire autrement à deux mille mètres. Le cours de yoga du matin commence "
                "doucement, avec les sommets encadrés par les grandes baies vitrées.",
            ),
            paragraph(
                "Half the village takes a rest day midweek: the terraces are full, the pace is "
                "slow, and nobody looks at their watch.",
                "La moitié du village prend un jour de repos en milieu de semaine : les "
                "terrasses sont pleines, le rythme est lent et personne ne regarde sa montre.",
            ),
        ],
    ),
    StoryText(
        slug=("first-race-for-the-little-ones", "premiere-course-des-petits"),
        theme="family",
        image="festival-lights",
        author="Hugo Blanc",
        days_ago=40,
        title=("First race for the little ones", "Première course des petits"),
        intro=(
            "Bibs, medals and a podium for everyone: the end-of-week race of the ski school's "
            "youngest pupils.",
            "Dossards, médailles et podium pour tout le monde : la course de fin de semaine "
            "des plus jeunes élèves de l'école de ski.",
        ),
        body=[
            paragraph(
                "The course has six gates and a lot of cheering. Some children race, some "
                "stop to wave, and one memorably skied it backwards.",
                "Le parcours compte six portes et beaucoup d'encouragements. Certains enfants "
                "foncent, d'autres s'arrêtent pour saluer, et l'un d'eux l'a descendu à "
                "reculons, pour la postérité.",
            ),
            paragraph(
                "Every child goes home with a medal and a certificate signed by their instructor.",
                "Chaque enfant repart avec une médaille et un diplôme signé par son moniteur.",
            ),
        ],
    ),
]

EVENTS: list[EventText] = [
    EventText(
        slug=("snow-front-festival", "festival-du-front-de-neige"),
        image="festival-lights",
        days_from_now=12,
        duration_hours=72,
        title=("Snow front festival", "Festival du front de neige"),
        intro=(
            "Three evenings of free concerts on a stage carved from snow.",
            "Trois soirées de concerts gratuits sur une scène taillée dans la neige.",
        ),
        place=("Snow front stage", "Scène du front de neige"),
        address="Place centrale",
        body=[
            paragraph(
                "Doors open at six every evening. Hot drinks are served at the foot of the stage.",
                "Ouverture chaque soir à dix-huit heures. Boissons chaudes servies au pied de "
                "la scène.",
            )
        ],
    ),
    EventText(
        slug=("torchlight-descent", "descente-aux-flambeaux"),
        image="village-night",
        days_from_now=4,
        duration_hours=2,
        title=("Torchlight descent", "Descente aux flambeaux"),
        intro=(
            "The ski instructors light up the beginners' slope at nightfall.",
            "Les moniteurs illuminent la piste des débutants à la tombée de la nuit.",
        ),
        place=("Beginners' slope", "Piste des débutants"),
        address="Front de neige",
    ),
    EventText(
        slug=("mountain-food-market", "marche-des-saveurs-de-montagne"),
        image="chalet-dusk",
        days_from_now=19,
        duration_hours=6,
        title=("Mountain food market", "Marché des saveurs de montagne"),
        intro=(
            "Farmers and cheesemakers of the valley sell and share their produce.",
            "Agriculteurs et fromagers de la vallée vendent et font goûter leurs produits.",
        ),
        place=("Village square", "Place du village"),
        address="Place centrale",
    ),
    EventText(
        slug=("sunrise-yoga", "yoga-au-lever-du-soleil"),
        image="sunrise-peaks",
        days_from_now=8,
        duration_hours=1,
        title=("Sunrise yoga", "Yoga au lever du soleil"),
        intro=(
            "An hour of gentle yoga on the panoramic terrace as the sun comes up.",
            "Une heure de yoga doux sur la terrasse panoramique au lever du soleil.",
        ),
        place=("Panoramic terrace", "Terrasse panoramique"),
        address="Sommet du télécabine",
    ),
]
