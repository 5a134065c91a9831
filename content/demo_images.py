"""Stylised mountain pictures for the demo site, drawn with Pillow (no downloads, no stock photos).

``demo_images_build()`` writes them to ``static/content/demo/``, where they are committed; the seed
command imports them into Wagtail's image library and only redraws a file that is missing. Each
scene is drawn at twice its size and scaled down, which smooths the polygon edges.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from PIL import Image, ImageChops, ImageDraw, ImageFilter

WIDTH, HEIGHT = 1600, 1000
SCALE = 2

Colour = tuple[int, int, int]


def demo_image_dir() -> Path:
    return Path(settings.BASE_DIR) / "static" / "content" / "demo"


def _mix(a: Colour, b: Colour, t: float) -> Colour:
    r, g, b_ = (round(a[i] + (b[i] - a[i]) * t) for i in range(3))
    return (r, g, b_)


@dataclass
class Range:
    """One layer of peaks: nearer layers are darker, taller and have sharper snow lines."""

    colour: Colour
    base: float  # fraction of the height where the layer's valley floor sits
    height: float  # fraction of the height of its tallest peak
    peaks: int
    snow: Colour | None = (246, 249, 252)
    snow_depth: float = 0.28
    shade: Colour | None = None
    seed: int = 0


@dataclass
class Scene:
    sky: list[Colour]
    ranges: list[Range]
    sun: tuple[float, float, float, Colour] | None = None  # x, y, radius (fractions), colour
    stars: int = 0
    snowfall: int = 0
    ground: Colour | None = None
    ground_line: float = 0.86
    trees: int = 0
    tree_colour: Colour = (24, 56, 52)
    chalets: list[tuple[float, float, bool]] = field(default_factory=list)  # x, size, lit
    lake: Colour | None = None
    steam: bool = False


def _sky(draw: ImageDraw.ImageDraw, w: int, h: int, stops: list[Colour]) -> None:
    segments = len(stops) - 1
    for y in range(h):
        t = y / (h - 1) * segments
        i = min(int(t), segments - 1)
        draw.line([(0, y), (w, y)], fill=_mix(stops[i], stops[i + 1], t - i))


def _ridge(rng: random.Random, w: int, h: int, r: Range) -> list[tuple[float, float]]:
    """A ridge line: a few main summits joined by jagged shoulders."""
    summits = sorted(rng.uniform(0, 1) for _ in range(r.peaks))
    points: list[tuple[float, float]] = []
    steps = 90
    for s in range(steps + 1):
        x = s / steps
        elevation = 0.0
        for summit in summits:
            width = rng.uniform(0.16, 0.22) if s == 0 else 0.19
            elevation = max(elevation, 1 - abs(x - summit) / width)
        elevation = max(elevation, 0.18) + rng.uniform(-0.05, 0.05)
        y = h * r.base - h * r.height * max(elevation, 0)
        points.append((x * w, y))
    return points


def _draw_range(img: Image.Image, rng: random.Random, r: Range) -> None:
    w, h = img.size
    ridge = _ridge(rng, w, h, r)
    body = [*ridge, (w, h), (0, h)]
    draw = ImageDraw.Draw(img)
    draw.polygon(body, fill=r.colour)
    if r.shade:
        # The shaded flank: from each summit down to the right, a darker wedge.
        for i in range(1, len(ridge) - 1):
            x0, y0 = ridge[i]
            x1, y1 = ridge[i + 1]
            if y1 > y0 and y0 < ridge[i - 1][1]:
                draw.polygon([(x0, y0), (x1, y1), (x0 + (x1 - x0) * 6, h * r.base)], fill=r.shade)
    if r.snow:
        top = min(y for _, y in ridge)
        snow_line = top + (h * r.base - top) * r.snow_depth
        cap = [(x, y) for x, y in ridge]
        # The snow's lower edge wobbles so caps do not look cut with a ruler.
        lower = [
            (x, max(y, snow_line + rng.uniform(-1, 1) * h * 0.02 + (y - top) * 0.15))
            for x, y in reversed(ridge)
        ]
        snow_layer = Image.new("L", img.size, 0)
        ImageDraw.Draw(snow_layer).polygon(cap + lower, fill=255)
        img.paste(Image.new("RGB", img.size, r.snow), mask=snow_layer)


def _trees(draw: ImageDraw.ImageDraw, rng: random.Random, w: int, h: int, scene: Scene) -> None:
    for _ in range(scene.trees):
        x = rng.uniform(-0.02, 1.02) * w
        base = h * rng.uniform(scene.ground_line - 0.02, 1.02)
        size = h * rng.uniform(0.05, 0.11) * (base / h)
        tiers = 3
        for t in range(tiers):
            top = base - size * (1 - t * 0.28)
            half = size * 0.32 * (1 - t * 0.22)
            y = base - size * t * 0.24
            draw.polygon([(x, top), (x + half, y), (x - half, y)], fill=scene.tree_colour)
        if scene.snowfall or scene.ground == (238, 243, 248):
            draw.polygon(
                [
                    (x, base - size),
                    (x + size * 0.1, base - size * 0.8),
                    (x - size * 0.1, base - size * 0.8),
                ],
                fill=(240, 245, 250),
            )


def _chalet(
    draw: ImageDraw.ImageDraw, w: int, h: int, x: float, size: float, lit: bool, ground: float
) -> None:
    cx, s = x * w, size * h
    base = h * ground + s * 0.1
    wall = (92, 58, 38)
    draw.rectangle([cx - s * 0.5, base - s * 0.55, cx + s * 0.5, base], fill=wall)
    draw.polygon(
        [(cx - s * 0.68, base - s * 0.5), (cx, base - s * 1.0), (cx + s * 0.68, base - s * 0.5)],
        fill=(236, 241, 247),
    )
    draw.line(
        [(cx - s * 0.68, base - s * 0.5), (cx, base - s)],
        fill=(60, 40, 30),
        width=max(2, int(s * 0.04)),
    )
    window = (255, 196, 92) if lit else (52, 42, 40)
    for dx in (-0.28, 0.08):
        draw.rectangle(
            [cx + s * dx, base - s * 0.4, cx + s * (dx + 0.2), base - s * 0.2], fill=window
        )


def _glow(img: Image.Image, x: float, y: float, radius: float, colour: Colour) -> Image.Image:
    """A sun (or moon) with a soft halo added onto the sky."""
    w, h = img.size
    r = radius * h
    halo = Image.new("RGB", img.size, (0, 0, 0))
    ImageDraw.Draw(halo).ellipse(
        [x * w - r * 3, y * h - r * 3, x * w + r * 3, y * h + r * 3],
        fill=_mix((0, 0, 0), colour, 0.45),
    )
    img = ImageChops.add(img, halo.filter(ImageFilter.GaussianBlur(r * 1.4)))
    ImageDraw.Draw(img).ellipse([x * w - r, y * h - r, x * w + r, y * h + r], fill=colour)
    return img


def render_scene(scene: Scene, seed: int, size: tuple[int, int] = (WIDTH, HEIGHT)) -> Image.Image:
    rng = random.Random(seed)
    w, h = size[0] * SCALE, size[1] * SCALE
    img = Image.new("RGB", (w, h))
    draw = ImageDraw.Draw(img)
    _sky(draw, w, h, scene.sky)
    for _ in range(scene.stars):
        sx, sy = rng.uniform(0, w), rng.uniform(0, h * 0.55)
        r = rng.choice((1.5, 2, 2.5, 3.5))
        draw.ellipse(
            [sx - r, sy - r, sx + r, sy + r],
            fill=_mix((255, 255, 255), scene.sky[0], rng.uniform(0, 0.5)),
        )
    if scene.sun:
        img = _glow(img, *scene.sun)
    for ridge in scene.ranges:
        _draw_range(img, random.Random(seed * 31 + ridge.seed), ridge)
    draw = ImageDraw.Draw(img)
    if scene.lake:
        top = h * scene.ground_line
        draw.rectangle([0, top, w, h], fill=scene.lake)
        for _ in range(40):
            y = top + (h - top) * rng.random()
            x = rng.uniform(0, w)
            draw.line(
                [(x, y), (x + rng.uniform(40, 200), y)],
                fill=_mix(scene.lake, (255, 255, 255), 0.25),
                width=3,
            )
    elif scene.ground:
        # A gentle slope rather than a flat band: the ground line rises to the left.
        draw.polygon(
            [
                (0, h * (scene.ground_line - 0.05)),
                (w, h * (scene.ground_line + 0.03)),
                (w, h),
                (0, h),
            ],
            fill=scene.ground,
        )
    _trees(draw, rng, w, h, scene)
    for x, s, lit in scene.chalets:
        _chalet(draw, w, h, x, s, lit, scene.ground_line)
    if scene.steam:
        mist = Image.new("L", (w, h), 0)
        md = ImageDraw.Draw(mist)
        for _ in range(14):
            mx, my = rng.uniform(0.1, 0.9) * w, h * rng.uniform(0.7, 0.9)
            md.ellipse([mx - w * 0.12, my - h * 0.05, mx + w * 0.12, my + h * 0.05], fill=110)
        mist = mist.filter(ImageFilter.GaussianBlur(h * 0.03))
        img.paste(Image.new("RGB", (w, h), (245, 248, 252)), mask=mist)
    if scene.snowfall:
        flakes = Image.new("L", (w, h), 0)
        fd = ImageDraw.Draw(flakes)
        for _ in range(scene.snowfall):
            fx, fy, fr = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(2, 7)
            fd.ellipse([fx - fr, fy - fr, fx + fr, fy + fr], fill=rng.randint(140, 255))
        flakes = flakes.filter(ImageFilter.GaussianBlur(1.2))
        img.paste(Image.new("RGB", (w, h), (255, 255, 255)), mask=flakes)
    return img.resize(size, Image.Resampling.LANCZOS)


SNOW = (238, 243, 248)

SCENES: dict[str, tuple[str, Scene]] = {
    "sunrise-peaks": (
        "Sunrise over the peaks",
        Scene(
            sky=[(38, 64, 122), (236, 128, 104), (255, 206, 150)],
            sun=(0.68, 0.5, 0.05, (255, 236, 190)),
            ranges=[
                Range((150, 118, 150), 0.66, 0.34, 3, snow=(252, 226, 220), seed=1),
                Range(
                    (86, 86, 128), 0.8, 0.38, 4, snow=(246, 236, 240), shade=(70, 70, 110), seed=2
                ),
                Range((44, 58, 96), 0.98, 0.3, 3, snow=(232, 236, 248), snow_depth=0.2, seed=3),
            ],
        ),
    ),
    "bluebird-day": (
        "A bluebird day on the slopes",
        Scene(
            sky=[(28, 104, 196), (120, 184, 236), (214, 236, 250)],
            sun=(0.18, 0.18, 0.04, (255, 252, 236)),
            ranges=[
                Range((156, 178, 204), 0.62, 0.3, 4, seed=4),
                Range((104, 128, 160), 0.78, 0.36, 3, shade=(86, 108, 142), seed=5),
            ],
            ground=SNOW,
            ground_line=0.82,
            trees=26,
        ),
    ),
    "village-night": (
        "The village under the stars",
        Scene(
            sky=[(8, 14, 38), (26, 40, 86), (64, 70, 122)],
            stars=260,
            ranges=[
                Range((40, 52, 92), 0.7, 0.34, 3, snow=(150, 164, 204), seed=6),
                Range((24, 32, 64), 0.84, 0.28, 4, snow=(120, 134, 178), snow_depth=0.22, seed=7),
            ],
            ground=(176, 190, 222),
            ground_line=0.86,
            trees=18,
            tree_colour=(14, 28, 40),
            chalets=[(0.22, 0.1, True), (0.42, 0.14, True), (0.63, 0.09, True), (0.83, 0.12, True)],
        ),
    ),
    "family-slope": (
        "A gentle slope for the first turns",
        Scene(
            sky=[(70, 150, 222), (176, 214, 244), (236, 246, 252)],
            ranges=[Range((170, 190, 214), 0.66, 0.26, 5, seed=8)],
            ground=SNOW,
            ground_line=0.74,
            trees=40,
            chalets=[(0.78, 0.1, False)],
        ),
    ),
    "chalet-dusk": (
        "A mountain restaurant at dusk",
        Scene(
            sky=[(54, 40, 96), (196, 96, 102), (250, 180, 120)],
            sun=(0.3, 0.72, 0.04, (255, 214, 150)),
            ranges=[
                Range((110, 76, 112), 0.72, 0.32, 3, snow=(250, 210, 200), seed=9),
                Range((60, 46, 80), 0.86, 0.22, 4, snow=(226, 196, 210), seed=10),
            ],
            ground=(232, 222, 232),
            ground_line=0.88,
            trees=10,
            tree_colour=(40, 30, 48),
            chalets=[(0.58, 0.26, True)],
        ),
    ),
    "spa-twilight": (
        "Warm water, cold air",
        Scene(
            sky=[(30, 44, 92), (112, 116, 170), (214, 176, 192)],
            ranges=[
                Range((88, 96, 146), 0.7, 0.34, 3, snow=(236, 230, 246), seed=11),
            ],
            lake=(64, 170, 184),
            ground_line=0.74,
            steam=True,
        ),
    ),
    "glacier-blue": (
        "Blue hour on the glacier",
        Scene(
            sky=[(12, 36, 80), (52, 104, 160), (160, 204, 232)],
            ranges=[
                Range((120, 160, 200), 0.6, 0.36, 2, snow=(226, 240, 252), snow_depth=0.5, seed=12),
                Range(
                    (60, 96, 140), 0.78, 0.34, 3, snow=(206, 226, 246), shade=(48, 80, 122), seed=13
                ),
                Range((30, 54, 92), 0.96, 0.24, 4, snow=(190, 210, 236), snow_depth=0.3, seed=14),
            ],
        ),
    ),
    "summer-lake": (
        "A lake between the summits",
        Scene(
            sky=[(60, 140, 210), (150, 200, 236), (226, 240, 246)],
            ranges=[
                Range(
                    (120, 150, 170), 0.6, 0.32, 3, snow=(240, 246, 250), snow_depth=0.18, seed=15
                ),
                Range((70, 120, 96), 0.74, 0.22, 4, snow=None, seed=16),
            ],
            lake=(52, 132, 168),
            ground_line=0.76,
        ),
    ),
    "snowfall-forest": (
        "Snow falling on the forest",
        Scene(
            sky=[(120, 136, 160), (176, 188, 206), (222, 228, 236)],
            ranges=[Range((150, 164, 184), 0.6, 0.24, 4, snow=(226, 232, 240), seed=17)],
            ground=SNOW,
            ground_line=0.72,
            trees=70,
            tree_colour=(48, 74, 78),
            snowfall=900,
        ),
    ),
    "festival-lights": (
        "Lights on the snow front",
        Scene(
            sky=[(22, 16, 52), (90, 36, 110), (220, 90, 120)],
            stars=120,
            sun=(0.5, 0.62, 0.035, (255, 180, 220)),
            ranges=[
                Range((70, 40, 100), 0.76, 0.3, 3, snow=(226, 190, 230), seed=18),
                Range((38, 24, 64), 0.9, 0.22, 5, snow=(190, 160, 210), seed=19),
            ],
            ground=(200, 180, 220),
            ground_line=0.9,
            chalets=[(0.15, 0.09, True), (0.88, 0.1, True)],
        ),
    ),
}


def render_logo(size: int = 256) -> Image.Image:
    """The brand mark: two summits in a disc, on a transparent background."""
    s = size * SCALE
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.ellipse([0, 0, s - 1, s - 1], fill=(11, 92, 173, 255))
    d.polygon(
        [
            (s * 0.14, s * 0.72),
            (s * 0.42, s * 0.3),
            (s * 0.62, s * 0.6),
            (s * 0.72, s * 0.46),
            (s * 0.88, s * 0.72),
        ],
        fill=(255, 255, 255, 255),
    )
    d.polygon(
        [
            (s * 0.42, s * 0.3),
            (s * 0.35, s * 0.41),
            (s * 0.42, s * 0.38),
            (s * 0.48, s * 0.42),
            (s * 0.5, s * 0.42),
        ],
        fill=(11, 92, 173, 255),
    )
    d.ellipse([s * 0.62, s * 0.18, s * 0.74, s * 0.3], fill=(242, 169, 0, 255))
    d.rectangle([s * 0.14, s * 0.76, s * 0.88, s * 0.8], fill=(255, 255, 255, 255))
    return img.resize((size, size), Image.Resampling.LANCZOS)


def demo_images_build(directory: Path | None = None, *, force: bool = False) -> dict[str, Path]:
    """Writes every demo picture that is missing (all of them with ``force``); returns the
    files by key. JPEG at quality 80 keeps the set well under 2 MB."""
    directory = directory or demo_image_dir()
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for index, (key, (_title, scene)) in enumerate(SCENES.items()):
        path = directory / f"{key}.jpg"
        if force or not path.exists():
            render_scene(scene, seed=index + 7).save(
                path, "JPEG", quality=80, optimize=True, progressive=True
            )
        files[key] = path
    logo = directory / "logo.png"
    if force or not logo.exists():
        render_logo().save(logo, "PNG", optimize=True)
    files["logo"] = logo
    return files
