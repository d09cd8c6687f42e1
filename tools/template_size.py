"""The size of the templates and how much of it is repetition: ``python tools/template_size.py FILE...``.

It is given the templates' sources, what a person writes and reads (``templates/root.yaml templates/packs/*.yaml``,
from which ``make templates`` generates ``template.yaml`` and ``packs/*.yaml``); tests/unit/test_template.py holds the
sources to their goals. A line is counted when it is neither blank nor a comment; a line "repeated" is one
whose stripped text occurs ten times or more across the files given.
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path
from typing import NamedTuple

REPEATED = 10


class Size(NamedTuple):
    lines: int
    repeated: int

    @property
    def repeated_share(self) -> float:
        return self.repeated / self.lines if self.lines else 0.0


def measure(paths: list[Path]) -> Size:
    lines = [
        stripped
        for path in paths
        for line in path.read_text(encoding="utf-8").splitlines()
        if (stripped := line.strip()) and not stripped.startswith("#")
    ]
    counts = collections.Counter(lines)
    return Size(len(lines), sum(1 for line in lines if counts[line] >= REPEATED))


def main(argv: list[str]) -> None:
    size = measure([Path(arg) for arg in argv])
    print(f"lines {size.lines} repeated>={REPEATED} {size.repeated} ({100 * size.repeated_share:.0f}%)")


if __name__ == "__main__":
    main(sys.argv[1:])
