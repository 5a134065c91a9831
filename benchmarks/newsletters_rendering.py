"""MJML compile time per email and personalisation time per recipient (issue 15, benchmark c).

    .venv/bin/python benchmarks/newsletters_rendering.py                  # 200 compiles, 20,000 recipients
    .venv/bin/python benchmarks/newsletters_rendering.py --compiles 20 --recipients 2000   # smoke

Creates a dedicated database (``--db``, default ``crm_bench_newsletters``) for the brand
settings and migrates it. For each shipped email (``test``, ``announcement``) and language:

- ``mrml``: the Rust compiler alone on the email's MJML (already rendered by Django), in-process;
- ``compile``: what a cache miss costs: brand settings read, the three Django templates
  rendered, mrml, lint, split into parts (``email_compile`` after clearing its cache);
- ``personalise``: substituting one recipient's escaped values into the compiled parts, per
  recipient (what a campaign pays per guest);
- ``build``: the whole MIME email of one recipient (``as_bytes()`` of the message Django's SMTP
  backend would send), for scale.

- ``Node mjml``: the same MJML through Node's ``mjml`` (``NODE_MJML_VERSION``, the same options:
  no web fonts, soft validation), timed inside one node process after a warm-up, and the ratio
  to mrml. When ``node`` and ``npm`` are on the PATH the script installs the package with npm
  into ``benchmarks/.cache/node`` (git-ignored) on first use; without them, or with
  ``--no-node``, it prints why it skipped and no ratio.

The database is dropped unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import Timings, database_create, database_drop, django_setup

EMAILS = {
    "test": ("transactional", {"first_name": "Anne"}),
    "announcement": (
        "marketing",
        {
            "first_name": "Anne",
            "title": "Winter is here <3",
            "body": "Fresh snow on every slope & a new lift.",
            "url": "https://www.val.example/news?from=email&id=12",
            "unsubscribe_url": "https://www.val.example/newsletters/unsubscribe/abc:def/",
            "preferences_url": "https://www.val.example/newsletters/preferences/abc:def/",
        },
    ),
}


# Node's mjml, installed by this script into a cache folder (never into the repository's tree:
# benchmarks/.cache/ is git-ignored) when node and npm are on the PATH.
NODE_MJML_VERSION = "5.4.1"
NODE_CACHE = Path(__file__).resolve().parent / ".cache" / "node"
# Times ``runs`` renders of the file argv[1] after one warm-up, with the options our mrml call
# uses (no web fonts, CSS inlined, no minify); prints the samples in ms as JSON. mjml 5 returns a
# promise, mjml 4 the result: awaiting handles both.
_NODE_SCRIPT = """
const mjml = require(process.argv[3]);
const fs = require('fs');
const source = fs.readFileSync(process.argv[1], 'utf8');
const runs = Number(process.argv[2]);
const options = {fonts: {}, validationLevel: 'soft', minify: false};
(async () => {
  const first = await mjml(source, options);
  if (first.errors && first.errors.length) console.error(JSON.stringify(first.errors));
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    await mjml(source, options);
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  console.log(JSON.stringify({samples, bytes: first.html.length}));
})().catch((e) => { console.error(String(e)); process.exit(1); });
"""


def node_mjml_ensure() -> tuple[Path | None, str]:
    """The installed ``mjml`` package folder, or None and why not. Installs
    ``mjml@NODE_MJML_VERSION`` into ``NODE_CACHE`` with npm on first use (about 35 s)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None, "node or npm is not on the PATH"
    package = NODE_CACHE / "node_modules" / "mjml"
    manifest = package / "package.json"
    if manifest.exists() and json.loads(manifest.read_text())["version"] == NODE_MJML_VERSION:
        return package, f"mjml {NODE_MJML_VERSION} (cached in {NODE_CACHE})"
    NODE_CACHE.mkdir(parents=True, exist_ok=True)
    print(f"# installing mjml@{NODE_MJML_VERSION} into {NODE_CACHE} with npm...", flush=True)
    started = time.perf_counter()
    install = subprocess.run(  # noqa: S603 - fixed command line, pinned package
        [
            npm, "install", "--prefix", str(NODE_CACHE), "--no-audit", "--no-fund",
            "--no-save", "--loglevel=error", f"mjml@{NODE_MJML_VERSION}",
        ],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    if install.returncode != 0 or not manifest.exists():
        tail = (install.stderr or install.stdout).strip().splitlines()[-1:] or ["no output"]
        return None, f"npm install mjml@{NODE_MJML_VERSION} failed: {tail[0]}"
    took = time.perf_counter() - started
    return package, f"mjml {NODE_MJML_VERSION} (installed in {took:.0f} s into {NODE_CACHE})"


def node_mjml_timings(package: Path, source: str, runs: int, label: str) -> Timings:
    """``runs`` renders of ``source`` by Node's mjml in one node process (after a warm-up)."""
    with tempfile.NamedTemporaryFile("w", suffix=".mjml", delete=False) as f:
        f.write(source)
    try:
        out = subprocess.run(  # noqa: S603 - our own script, no outside input
            [shutil.which("node") or "node", "-e", _NODE_SCRIPT, f.name, str(runs), str(package)],
            capture_output=True, text=True, check=True, timeout=600,
        )  # fmt: skip
    finally:
        Path(f.name).unlink()
    return Timings(label, json.loads(out.stdout)["samples"])


def measure(compiles: int, recipients: int, node: Path | None) -> list[str]:
    from django.template.loader import render_to_string
    from django.utils import translation

    from newsletters import rendering
    from newsletters.models import Message
    from newsletters.services import message_build

    lines = []
    for name, (kind, values) in EMAILS.items():
        for language in ("fr", "en"):
            brand = rendering.brand_context(language=language)
            context = {"brand": brand, "language": language, "marketing": kind == "marketing"}
            with translation.override(language):
                source = render_to_string(f"newsletters/email/{name}.mjml", context)
            samples = []
            for _ in range(compiles):
                started = time.perf_counter()
                rendering.mjml_to_html(source)
                samples.append((time.perf_counter() - started) * 1000)
            mrml_t = Timings(f"{name}/{language} mrml", samples)
            samples = []
            for _ in range(compiles):
                rendering.cache_clear()
                started = time.perf_counter()
                compiled = rendering.email_compile(name=name, language=language, kind=kind)
                samples.append((time.perf_counter() - started) * 1000)
            compile_t = Timings(f"{name}/{language} compile (cache miss)", samples)
            started = time.perf_counter()
            for n in range(recipients):
                compiled.personalise({**values, "first_name": f"Guest {n}"})
            per_us = (time.perf_counter() - started) / recipients * 1e6
            message = Message(
                source="test", kind=kind, dedupe_key="bench", address="anne@mail.example",
                language=language, template=name, context=values,
                purpose="newsletter" if kind == "marketing" else "", message_id="<b@x>",
            )  # fmt: skip
            builds = max(1, recipients // 20)
            started = time.perf_counter()
            for _ in range(builds):
                message_build(message).message().as_bytes()
            build_ms = (time.perf_counter() - started) / builds * 1000
            html_kb = len(compiled.personalise(values).html.encode()) / 1024
            lines += [
                mrml_t.line(),
                compile_t.line(),
                f"{name}/{language} personalise: {per_us:.1f} µs per recipient "
                f"(n={recipients}, HTML {html_kb:.1f} KB)",
                f"{name}/{language} build MIME email: {build_ms:.2f} ms per recipient (n={builds})",
            ]
            if node is not None:
                node_t = node_mjml_timings(node, source, compiles, f"{name}/{language} Node mjml")
                lines.append(
                    f"{node_t.line()}: mrml is {node_t.p50 / mrml_t.p50:.1f}x faster (p50), "
                    f"{node_t.p95 / mrml_t.p95:.1f}x (p95)"
                )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="crm_bench_newsletters")
    parser.add_argument("--compiles", type=int, default=200)
    parser.add_argument("--recipients", type=int, default=20000)
    parser.add_argument("--no-node", action="store_true", help="skip Node's mjml")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if args.no_node:
        node, why = None, "--no-node"
    else:
        node, why = node_mjml_ensure()
    url = database_create(args.db)
    try:
        django_setup(url)
        print(f"# {platform.node()} Python {platform.python_version()}", flush=True)
        print(f"# load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if node is None:
            print(f"# Node's mjml skipped ({why}): no ratio", flush=True)
        else:
            print(f"# Node {_node_version()}, {why}", flush=True)
        for line in measure(args.compiles, args.recipients, node):
            print(line, flush=True)
        print(f"# load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        if not args.keep:
            database_drop(args.db)


def _node_version() -> str:
    out = subprocess.run(  # noqa: S603
        [shutil.which("node") or "node", "--version"], capture_output=True, text=True, check=False
    )
    return out.stdout.strip()


if __name__ == "__main__":
    main()
