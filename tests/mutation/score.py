"""The mutation score per module, from the results ``mutmut run`` left in ./mutants.

Usage: ``python tests/mutation/score.py [--names] GLOB...`` with the mutant-name globs
the run was given (tests/mutation/run passes them). ``--names`` prints instead the
mutants that are not dead (survived or never run), one a line, for ``run --again``.

A mutant counts as killed when a test failed or timed out under it. Survivors listed
in equivalent.txt (name, then the reason) are shown apart: no test can tell them from
the original. Exit status 1 when the score is below TARGET or a survivor is not listed.
"""

from __future__ import annotations

import fnmatch
import json
import sys
from pathlib import Path

TARGET = 95.0
HERE = Path(__file__).parent
KILLED = {"killed", "timeout", "caught by type check"}


def statuses() -> dict[str, str]:
    from mutmut.stats import status_by_exit_code

    found: dict[str, str] = {}
    for meta in sorted(Path("mutants").rglob("*.py.meta")):
        data = json.loads(meta.read_text())
        for name, code in data["exit_code_by_key"].items():
            found[name] = status_by_exit_code[code]
    return found


def equivalents() -> dict[str, str]:
    """mutant name -> why it is equivalent, from equivalent.txt (``#`` starts a comment)."""
    listed: dict[str, str] = {}
    for line in (HERE / "equivalent.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            listed[name] = reason.strip()
    return listed


def module_of(name: str) -> str:
    module = name.split(".x", 1)[0].split(".xǁ", 1)[0]
    return module.removeprefix("docker_credential_truss.")


def main(globs: list[str]) -> int:
    names_only = globs[:1] == ["--names"]
    globs = globs[1:] if names_only else globs
    results = {
        name: status
        for name, status in statuses().items()
        if any(fnmatch.fnmatch(name, glob) for glob in globs)
    }
    if names_only:
        print("\n".join(name for name, status in sorted(results.items()) if status not in KILLED))
        return 0
    if not results:
        print("no mutation results: run tests/mutation/run first")
        return 1
    listed = equivalents()
    rows: dict[str, list[int]] = {}
    unexplained = []
    for name, status in sorted(results.items()):
        row = rows.setdefault(module_of(name), [0, 0, 0])  # total, killed, equivalent
        row[0] += 1
        if status in KILLED:
            row[1] += 1
        elif name in listed:
            row[2] += 1
        else:
            unexplained.append(f"{name}: {status}")
    print(f"{'module':<16}{'mutants':>8}{'killed':>8}{'equiv.':>8}{'score':>9}{'excl. equiv.':>14}")
    total = [0, 0, 0]
    for module, row in sorted(rows.items()):
        total = [a + b for a, b in zip(total, row, strict=True)]
        print(_line(module, row))
    print(_line("all", total))
    for line in unexplained:
        print("not killed, not listed as equivalent:", line)
    score = 100.0 * total[1] / total[0]
    if score < TARGET or unexplained:
        print(f"FAILED: score {score:.1f}% (target {TARGET:.0f}%), {len(unexplained)} unexplained")
        return 1
    return 0


def _line(module: str, row: list[int]) -> str:
    total, killed, equivalent = row
    score = 100.0 * killed / total
    strict = 100.0 * killed / (total - equivalent) if total > equivalent else 100.0
    return f"{module:<16}{total:>8}{killed:>8}{equivalent:>8}{score:>8.1f}%{strict:>13.1f}%"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
