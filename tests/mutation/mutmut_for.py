"""Run mutmut over some modules with the tests they need, not [tool.mutmut]'s whole lists.

``MUTATION_FILES`` (source files, space-separated) replaces ``only_mutate`` and
``MUTATION_TESTS`` (pytest node ids) replaces ``pytest_add_cli_args_test_selection``;
the arguments are mutmut's own (``run --max-children 1 NAME...``). mutmut reads its
configuration once and forks every worker from this process, so the workers see the
same lists. tests/mutation/run sets both from its table of modules.

``MUTATION_TIMEOUT_MULTIPLIER`` (default 4, mutmut's own is 15) bounds a mutant's run at
that many times the estimated time of its tests (wall clock; twice that in CPU time).
A mutant that loops forever (``i = end - 2`` in a scanner) is then caught as a timeout
after a minute rather than eight: yamlsubset's tests take ~15 s, and mutmut's default
kept each looping mutant for (15 + 1) * 15 s.
"""

from __future__ import annotations

import os
import sys

from mutmut import configuration
from mutmut.__main__ import cli

if __name__ == "__main__":
    config = configuration.config()
    config.only_mutate = os.environ["MUTATION_FILES"].split()
    config.pytest_add_cli_args_test_selection = os.environ["MUTATION_TESTS"].split()
    config.timeout_multiplier = float(os.environ.get("MUTATION_TIMEOUT_MULTIPLIER", "4"))
    sys.argv[0] = "mutmut"
    cli()
