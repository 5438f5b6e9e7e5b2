"""Assemble BENCHMARKS.md from bench/headlines.md (hand-written summary) and bench/results/*.md.

    python bench/assemble.py

Each results file is appended in a fixed order with its headings shifted so that its top level is ``##``.
The commit it was assembled at is written into the first paragraph.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent
ORDER = ("scale", "memory", "startup", "wild", "monitor", "retention", "detectors", "early_stopping", "guard", "watch",
         "examples",
         "data_diet", "forecast", "hpo")


def shift(text: str) -> str:
    levels = [len(m.group(1)) for m in re.finditer(r"^(#+) ", text, flags=re.MULTILINE)]
    if not levels:
        return text
    d = 2 - min(levels)
    return re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) + d) + " ", text, flags=re.MULTILINE)


def main() -> int:
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.strip()
    head = (ROOT / "headlines.md").read_text().rstrip("\n")
    head = re.sub(r"Assembled from `bench/results/\*\.md` at commit \w+\.",
                  f"Assembled from `bench/results/*.md` at commit {rev}.", head)
    parts = [head] + [shift((ROOT / "results" / f"{name}.md").read_text().strip("\n")) for name in ORDER]
    (ROOT.parent / "BENCHMARKS.md").write_text("\n\n".join(parts) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
