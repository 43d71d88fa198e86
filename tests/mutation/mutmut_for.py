"""Run mutmut over some modules with the tests they need, not [tool.mutmut]'s whole lists.

``MUTATION_FILES`` (source files, space-separated) replaces ``only_mutate`` and
``MUTATION_TESTS`` (pytest node ids) replaces ``pytest_add_cli_args_test_selection``;
the arguments are mutmut's own (``run --max-children 1 NAME...``). mutmut reads its
configuration once and forks every worker from this process, so the workers see the
same lists. tests/mutation/run sets both from its table of modules.
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
    sys.argv[0] = "mutmut"
    cli()
