"""The documentation a newcomer reads: links and images that resolve, install lines that work from
the checkout. (The name of the page's upload button is checked
in tests/app/test_app_browser.py, against the page itself.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "MODEL_CARD.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"""(?:\]\(|src=")([^)"#\s]+)""")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_and_images_resolve(doc):
    text = doc.read_text(encoding="utf-8")
    targets = [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]
    missing = [t for t in targets if not (doc.parent / t).exists()]
    assert not missing, f"{doc.name}: broken links {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_install_lines_install_from_the_checkout(doc):
    # howold is not on a package index: `pip install 'howold[app]'` fails for a newcomer
    text = doc.read_text(encoding="utf-8")
    assert not re.search(r"pip install [-\w ]*'?howold\[", text), f"{doc.name} installs howold from an index"


def test_the_readme_example_is_what_howold_prints():
    """The first screen's console example is the shipped model's real output (not a stale one)."""
    import subprocess
    import sys

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```console\n\$ howold predict (\S+)\n(.*?)```", text, re.S)
    assert block, "README.md has no `$ howold predict` console example"
    run = subprocess.run(
        [sys.executable, "-m", "howold", "predict", block.group(1)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.rstrip() == block.group(2).rstrip()


def test_docs_app_counts_the_tests_in_tests_app():
    """docs/app.md says how many tests `pytest tests/app` runs: the number pytest collects there."""
    said = re.search(r"pytest tests/app +# (\d+) tests", (ROOT / "docs" / "app.md").read_text(encoding="utf-8"))
    assert said, "docs/app.md no longer says how many tests tests/app has"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests/app"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    collected = re.search(r"(\d+) tests? collected", run.stdout)
    if collected is None or "skipped" in run.stdout:
        pytest.skip(f"tests/app is not fully collected here (an extra is missing): {run.stdout[-300:]}")
    assert int(said.group(1)) == int(collected.group(1))
