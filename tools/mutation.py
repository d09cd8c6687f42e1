"""`make mutation`: mutmut over the modules that hold business rules, one module at a time, then the kill rate per module.

mutmut names a mutant by its file's path (``src.`` stripped) and the tests by the module they import, so it runs in
``.mutation/``, a folder of links where the layer's package is ``src/utilhub`` (the configuration, ``[tool.mutmut]`` in
pyproject.toml, names the files as seen from there). For each mutant mutmut runs only the unit tests that called the
mutated function (found by one run of the selected test modules first).

A mutant that no test can tell from the code (an equivalent mutant) is listed in ``tools/mutation_equivalents.toml``
with the reason, and left out of the count; one listed there that no longer survives is reported, so the list stays true.

    python tools/mutation.py [--module NAME ...] [--max-children N] [--report-only]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"
EQUIVALENTS = ROOT / "tools" / "mutation_equivalents.toml"
# What the tests read besides the layer: linked into the working folder (mutmut copies them into its mutants/).
LINKED = ("pyproject.toml", "uv.lock", "tests", "localhub", "functions", "packs", "events", "statemachines", "template.yaml")
KILLED = frozenset({"killed", "timeout", "caught by type check", "segfault"})
NOT_RUN = frozenset({"not checked", "skipped"})
THRESHOLD = 90.0


@dataclass
class Tally:
    """One module's mutants by what became of them."""

    killed: int = 0
    survivors: list[str] = field(default_factory=list)
    equivalent: list[str] = field(default_factory=list)
    not_run: int = 0

    @property
    def counted(self) -> int:
        return self.killed + len(self.survivors)

    @property
    def rate(self) -> float:
        return 100.0 * self.killed / self.counted if self.counted else 100.0


def modules() -> list[str]:
    """The mutated modules (dotted, as mutmut names them), from ``only_mutate``."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
    return [path.removeprefix("src/").removesuffix(".py").replace("/", ".") for path in config["only_mutate"]]


def equivalents() -> dict[str, str]:
    """Each equivalent mutant's name and why no test can kill it."""
    listed = tomllib.loads(EQUIVALENTS.read_text(encoding="utf-8"))
    return {f"{module}.{name}": reason for module, names in listed.items() for name, reason in names.items()}


def prepare() -> None:
    """The working folder: the layer's package as ``src/utilhub``, and what the tests read, as links."""
    (WORK / "src").mkdir(parents=True, exist_ok=True)
    links = {WORK / "src" / "utilhub": ROOT / "layers" / "common" / "utilhub"} | {WORK / name: ROOT / name for name in LINKED}
    for link, target in links.items():
        if not link.is_symlink():
            link.symlink_to(target)


def mutmut(*args: str) -> subprocess.CompletedProcess[str]:
    # the virtualenv's interpreter with ``-m``, not its ``mutmut`` script: the script's first line names the interpreter
    # of the folder the virtualenv was installed from, which a virtualenv shared by several checkouts may no longer have
    return subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=WORK, capture_output=True, text=True, check=False)  # noqa: S603


def run(module: str, max_children: int) -> float:
    """Mutate one module and run its mutants; the seconds it took."""
    started = time.monotonic()
    done = mutmut("run", "--max-children", str(max_children), f"{module}.*")
    took = time.monotonic() - started
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"mutmut failed on {module} (exit {done.returncode})")
    return took


def results() -> dict[str, str]:
    """Every mutant's status, from mutmut's records."""
    listing = mutmut("results", "--all", "true")
    statuses: dict[str, str] = {}
    for line in listing.stdout.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            statuses[name] = status
    return statuses


def tally(module: str, statuses: dict[str, str], known: dict[str, str]) -> Tally:
    counts = Tally()
    for name, status in sorted(statuses.items()):
        if not name.startswith(f"{module}.x"):
            continue
        if status in NOT_RUN:
            counts.not_run += 1
        elif name in known:
            counts.equivalent.append(name)
        elif status in KILLED:
            counts.killed += 1
        else:
            counts.survivors.append(f"{name} ({status})")
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--module", action="append", help="a dotted module of only_mutate (default: all, one after the other)")
    parser.add_argument("--max-children", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--report-only", action="store_true", help="report the last runs' results without running")
    args = parser.parse_args()
    chosen = args.module or modules()
    unknown = set(chosen) - set(modules())
    if unknown:
        parser.error(f"not in [tool.mutmut] only_mutate: {', '.join(sorted(unknown))}")
    prepare()
    timings = {} if args.report_only else {module: run(module, args.max_children) for module in chosen}
    statuses, known = results(), equivalents()
    below = []
    for module in chosen:
        counts = tally(module, statuses, known)
        took = f", {timings[module]:.0f} s" if module in timings else ""
        print(
            f"{module}: {counts.rate:.1f}% killed ({counts.killed} of {counts.counted};"
            f" {len(counts.equivalent)} equivalent left out; {counts.not_run} not run{took})"
        )
        for survivor in counts.survivors:
            print(f"    survived: {survivor}")
        if counts.rate < THRESHOLD:
            below.append(module)
    stale = sorted(name for name in known if name.rpartition(".x")[0] in chosen and statuses.get(name) in KILLED | {None})
    for name in stale:
        print(f"listed as equivalent but killed or gone (update {EQUIVALENTS.relative_to(ROOT)}): {name}")
    if below:
        print(f"below {THRESHOLD:.0f}% killed: {', '.join(below)}")
    return 1 if below or stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
