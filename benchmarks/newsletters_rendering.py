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

Node's ``mjml`` is timed on the same MJML when ``node -e "require('mjml')"`` works (not on this
machine: the ratio is printed only when it is there). The database is dropped unless ``--keep``.
"""

from __future__ import annotations

import argparse
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
        },
    ),
}


def _node_mjml_ms(source: str, runs: int) -> float | None:
    node = shutil.which("node")
    if node is None:
        return None
    probe = subprocess.run(  # noqa: S603 - our own script, no outside input
        [node, "-e", "require('mjml')"], capture_output=True, check=False, timeout=30
    )
    if probe.returncode != 0:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".mjml", delete=False) as f:
        f.write(source)
    script = (
        "const mjml=require('mjml');const fs=require('fs');const s=fs.readFileSync(process.argv[1],"
        f"'utf8');mjml(s);const t=process.hrtime.bigint();for(let i=0;i<{runs};i++)mjml(s);"
        f"console.log(Number(process.hrtime.bigint()-t)/1e6/{runs})"
    )
    out = subprocess.run(  # noqa: S603
        [node, "-e", script, f.name], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def measure(compiles: int, recipients: int) -> list[str]:
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
            node = _node_mjml_ms(source, max(10, compiles // 4))
            if node is None:
                lines.append(f"{name}/{language} Node mjml: not installed, no ratio")
            else:
                lines.append(
                    f"{name}/{language} Node mjml: {node:.2f} ms (x{node / mrml_t.p50:.1f})"
                )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="crm_bench_newsletters")
    parser.add_argument("--compiles", type=int, default=200)
    parser.add_argument("--recipients", type=int, default=20000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    url = database_create(args.db)
    try:
        django_setup(url)
        print(f"# {platform.node()} Python {platform.python_version()}", flush=True)
        for line in measure(args.compiles, args.recipients):
            print(line, flush=True)
    finally:
        if not args.keep:
            database_drop(args.db)


if __name__ == "__main__":
    main()
