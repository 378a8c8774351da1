"""`make mutants`: break SPEC's central promises on purpose; the tests must notice.

    python -m mutation              every mutant of mutation/catalog.py
    python -m mutation --list       their names, files and the tests that must catch them
    python -m mutation NAME ...     only these (e.g. while writing the test that kills one)

Exits 0 only when every mutant chosen was killed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from mutation.catalog import MUTANTS, Mutant
from mutation.runner import CatalogError, Outcome, baseline, mutated_texts, run_all

_ROOT = Path(__file__).resolve().parent.parent
# Per mutant; a mutant that makes its tests hang counts as caught.
_TIMEOUT_SECONDS = 300.0


def _chosen(names: list[str]) -> list[Mutant]:
    by_name = {m.name: m for m in MUTANTS}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        sys.exit(f"mutation: no mutant named {', '.join(unknown)} (see --list)")
    return [by_name[n] for n in names] if names else list(MUTANTS)


def _report(outcomes: list[Outcome]) -> None:
    width = max(len(o.mutant.name) for o in outcomes)
    for o in outcomes:
        caught = f"  caught by {o.caught_by[0]}" if o.caught_by else ""
        print(f"{o.status.upper():9} {o.mutant.name:{width}} {o.seconds:5.0f}s{caught}")
    for o in outcomes:
        if o.status != "killed":
            print(f"\n--- {o.mutant.name} ({o.status}): {o.mutant.why}\n{o.output[-3000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mutation", description=__doc__)
    parser.add_argument("names", nargs="*", help="mutants to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (default 2)")
    args = parser.parse_args(argv)
    mutants = _chosen(args.names)
    if args.list:
        for m in mutants:
            files = ", ".join(sorted({path for path, _, _ in m.edits}))
            print(f"{m.name}\n    {files}: {m.why}\n    caught by: {' '.join(m.tests)}")
        return 0
    try:
        for mutant in mutants:  # every entry still matches the code, before any test runs
            mutated_texts(_ROOT, mutant)
    except CatalogError as exc:
        print(f"mutation: {exc}", file=sys.stderr)
        return 2
    started = time.monotonic()
    code, output = baseline(_ROOT, mutants, _TIMEOUT_SECONDS * 2)
    if code != 0:
        print(f"mutation: the tests fail without any mutant (exit {code}):\n{output[-5000:]}")
        return 2
    print(f"baseline: the catalog's tests pass unmutated ({time.monotonic() - started:.0f}s)")
    outcomes = run_all(_ROOT, mutants, args.jobs, _TIMEOUT_SECONDS)
    _report(outcomes)
    killed = sum(o.status == "killed" for o in outcomes)
    print(f"\n{killed} of {len(outcomes)} mutants killed in {time.monotonic() - started:.0f}s")
    # The conventional closing line, read by CI: a mutant passes when it is caught.
    print(f"mutants: {killed} passed, {len(outcomes) - killed} failed")
    return 0 if killed == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
