"""Apply each mutant to a scratch copy of the tree and run the tests that must catch it.

A mutant is killed when its tests fail (pytest exit 1) and survives when they
pass. Anything else (a catalog entry that no longer matches the code, a mutant
that does not compile, pytest unable to run) is an error: the check must never
pass by not running. The tests run unmutated first, so a kill means the
mutant was caught, not that the tests were already red.
"""

from __future__ import annotations

import os
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mutation.catalog import Mutant

_NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", ".data", "build", "dist", "htmlcov", "__pycache__", ".*_cache", ".coverage"
)
_FAILED_LINE = re.compile(r"^(?:FAILED|ERROR) (tests/.+?)(?: - .*)?$", re.MULTILINE)
# pytest's exit codes: 0 all passed, 1 some failed; the rest mean it did not test.
_PASSED, _FAILED = 0, 1


class CatalogError(Exception):
    """A mutant that cannot be applied as written."""


@dataclass(frozen=True)
class Outcome:
    mutant: Mutant
    status: str  # "killed", "survived" or "error"
    seconds: float
    caught_by: tuple[str, ...]
    output: str


def mutated_texts(root: Path, mutant: Mutant) -> dict[str, str]:
    """Each file the mutant edits, edited; every text to find must occur exactly once."""
    texts: dict[str, str] = {}
    for path, find, replace in mutant.edits:
        original = texts.get(path, (root / path).read_text())
        found = original.count(find)
        if found != 1:
            raise CatalogError(
                f"{mutant.name}: the text to mutate occurs {found} times in {path} "
                "(expected exactly once; update mutation/catalog.py with the code)"
            )
        texts[path] = original.replace(find, replace)
    return texts


def scratch_copy(root: Path) -> Path:
    """A copy of the tree (generated code included) that mutants may change."""
    dest = Path(tempfile.mkdtemp(prefix="graphos-scim-mutant-")) / "tree"
    shutil.copytree(root, dest, ignore=_NOT_COPIED)
    return dest


def _pytest(tree: Path, tests: Iterable[str], timeout: float) -> tuple[int, str]:
    # The scratch tree must win over the editable install of the real one.
    env = {**os.environ, "PYTHONPATH": str(tree), "CI": "true"}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-rfE",
        "--no-cov",
        "-p",
        "no:cacheprovider",
        *tests,
    ]
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter, our own test ids
            command,
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        # Captured output of a timed-out run is bytes, whatever `text` said.
        output = (exc.stdout or b"").decode(errors="replace")
        return -1, output + f"\n(no answer within {timeout:.0f}s)"
    return done.returncode, done.stdout + done.stderr


def check_imports_from(tree: Path) -> None:
    """Fail loudly if the scratch tree's packages would not be the ones imported."""
    probe = "import gateway, identity_svc; print(gateway.__file__); print(identity_svc.__file__)"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe], cwd=tree, env=env, capture_output=True, text=True, check=True
    )
    for line in done.stdout.split():
        if not Path(line).is_relative_to(tree):
            raise CatalogError(f"the scratch copy is shadowed: imported {line}")


def baseline(root: Path, mutants: Sequence[Mutant], timeout: float) -> tuple[int, str]:
    """Run every test the catalog names, unmutated: they must all pass."""
    tree = scratch_copy(root)
    try:
        check_imports_from(tree)
        tests = sorted({test for mutant in mutants for test in mutant.tests})
        return _pytest(tree, tests, timeout)
    finally:
        shutil.rmtree(tree.parent, ignore_errors=True)


def run_one(root: Path, tree: Path, mutant: Mutant, timeout: float) -> Outcome:
    started = time.monotonic()
    paths = [path for path, _, _ in mutant.edits]
    try:
        for path, text in mutated_texts(root, mutant).items():
            target = tree / path
            target.write_text(text)
            if target.suffix == ".py":  # migrations (.sql) are checked by running them
                py_compile.compile(str(target), doraise=True)
        code, output = _pytest(tree, mutant.tests, timeout)
    except (CatalogError, py_compile.PyCompileError) as exc:
        code, output = -2, str(exc)
    finally:
        for path in paths:
            shutil.copyfile(root / path, tree / path)
    seconds = time.monotonic() - started
    # A run that hangs past the timeout also means the tests noticed.
    status = {_PASSED: "survived", _FAILED: "killed", -1: "killed"}.get(code, "error")
    caught = tuple(_FAILED_LINE.findall(output)) if status == "killed" else ()
    return Outcome(mutant, status, seconds, caught, output)


def run_all(root: Path, mutants: Sequence[Mutant], jobs: int, timeout: float) -> list[Outcome]:
    """Each mutant alone, `jobs` at a time, each worker on a scratch copy of its own."""
    trees = [scratch_copy(root) for _ in range(max(1, min(jobs, len(mutants))))]
    free = list(trees)

    def work(mutant: Mutant) -> Outcome:
        tree = free.pop()
        try:
            return run_one(root, tree, mutant, timeout)
        finally:
            free.append(tree)

    try:
        with ThreadPoolExecutor(max_workers=len(trees)) as pool:
            return list(pool.map(work, mutants))
    finally:
        for tree in trees:
            shutil.rmtree(tree.parent, ignore_errors=True)
