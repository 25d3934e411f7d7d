"""What a reader reads, the notebooks (markdown and code cells), docs/, the README and the
package's and tests' own words, names no issue or pull request by number: those numbers mean
nothing outside the tracker."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# "issue 25", "issues #3", "pull request 12", "pull-request #4", "PR 7", and a bare "#25" that is not
# a colour (six digits, or "=" right before it, as in a hint X,Y=#RRGGBB) or an anchor inside a string or link
# (a quote, "&" or a word character right before it)
TRACKER_NUMBER = re.compile(r"(?i:\bissues?|\bpull[ -]requests?)\s*#?\s*\d+|\bPRs?\s*#?\s*\d+"
                            r"|(?<![\w&/'\"#=-])#(?!\d{6}\b)\d+(?![\w-])")


def tracker_numbers(text: str) -> list[str]:
    return [match.group(0) for match in TRACKER_NUMBER.finditer(text)]


def read_texts() -> dict[str, str]:
    """{where: text} for every notebook cell, docs/*.md, README.md, ARCHITECTURE.md and every Python
    file of the package and the tests (this one's examples aside)."""
    texts = {}
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for number, cell in enumerate(json.loads(notebook.read_text())["cells"]):
            texts[f"{notebook.relative_to(ROOT)} cell {number} ({cell['cell_type']})"] = "".join(cell["source"])
    sources = [path for path in sorted([*(ROOT / "lib").rglob("*.py"), *(ROOT / "tests").glob("*.py")])
               if path != Path(__file__).resolve()]
    for page in [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md", ROOT / "ARCHITECTURE.md", *sources]:
        texts[str(page.relative_to(ROOT))] = page.read_text()
    return texts


@pytest.mark.parametrize("text, found", [
    ("60 minutes until issue 25 raised it", ["issue 25"]),
    ("see Issue #25 and issues 3", ["Issue #25", "issues 3"]),
    ("fixed in pull request 12, then pull-request #13", ["pull request 12", "pull-request #13"]),
    ("as PR 7 did (PR#8)", ["PR 7", "PR#8"]),
    ("raised in #25.", ["#25"]),
    ("(#341)", ["#341"]),
])
def test_tracker_numbers_are_found(text, found):
    assert tracker_numbers(text) == found


@pytest.mark.parametrize("text", [
    'plt.plot(x, color="#3366cc")', "colors = ['#333333', '#000']", "# 25 photos per batch",
    "## 3.3 Data", "#### Figure 9", "colorize a.jpg --hint 10,20=#123456", "black is #000000",
    "see [the table](docs/results.md#2-psnr)", "&#25;", "the issue here is the light",
    "a PR curve", "PSNR 21.04 dB", "x = y  # 2 epochs",
])
def test_colours_headings_anchors_and_prose_are_not(text):
    assert tracker_numbers(text) == []


def test_no_notebook_or_page_names_an_issue_or_pull_request_by_number():
    found = {where: numbers for where, text in read_texts().items() if (numbers := tracker_numbers(text))}
    assert not found, f"issue or pull-request numbers (say what changed instead): {found}"
