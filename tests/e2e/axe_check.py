"""axe-core in the browser tests: run it on the page open in Playwright and fail on serious or
critical violations, naming each rule, its help and the elements that break it.

The script is vendored (``tests/e2e/vendor/axe.min.js``, axe-core 4.14.1 from npm, MPL-2.0, its
licence beside it): CI has no network, and a pinned file gives the same rules on every run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
FAILING_IMPACTS = frozenset({"serious", "critical"})


def axe_violations(page: Page, *, impacts: frozenset[str] = FAILING_IMPACTS) -> list[dict]:
    """axe's violations on the current page (WCAG 2.x A and AA rules and best practices) with
    one of ``impacts``."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    result: dict[str, Any] = page.evaluate(
        """async () => await window.axe.run(document, {
            runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                            "best-practice"]},
            resultTypes: ["violations"],
        })"""
    )
    return [v for v in result["violations"] if v.get("impact") in impacts]


def axe_report(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:5]:
            lines.append(f"    {' '.join(node['target'])}: {node.get('failureSummary', '')}")
    return "\n".join(lines)


def assert_no_serious_axe_violations(page: Page, where: str) -> None:
    violations = axe_violations(page)
    assert not violations, f"axe on {where} ({page.url}):\n{axe_report(violations)}"
