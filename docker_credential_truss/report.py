"""What ``doctor`` and ``baseten`` print: plain lines, and checks as ``ok``, ``--``,
``WARN`` or ``FAIL`` with the fix under it.

One format for both, so a person reads a check the same way wherever it comes from.
Nothing is written until :meth:`Report.flush`: a failure before then (an error line
from the CLI) stands alone instead of after half a report.
"""

from __future__ import annotations

from docker_credential_truss import debuglog

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import BinaryIO


class Report:
    """Lines held back until :meth:`flush`, and the count of problems (FAIL lines)."""

    def __init__(self, stdout: BinaryIO) -> None:
        self.stdout = stdout
        self.lines: list[str] = []
        self.problems = 0

    def line(self, text: str = "") -> None:
        self.lines.append(text)

    def heading(self, text: str) -> None:
        self.lines += ["", text]

    def ok(self, text: str) -> None:
        self.lines.append(f"  ok    {text}")

    def note(self, text: str) -> None:
        self.lines.append(f"  --    {text}")

    def warn(self, text: str, fix: str) -> None:
        """Works for docker, but will bite elsewhere: said, not counted as a problem."""
        self.lines.append(f"  WARN  {text}")
        self.lines.append(f"        fix: {fix}")

    def fail(self, text: str, fix: str, ways: Sequence[str] = ()) -> None:
        """A problem and its fix; ``ways``, when there are several, a line each to paste."""
        self.problems += 1
        self.lines.append(f"  FAIL  {text}")
        self.lines.append(f"        fix: {fix}")
        self.lines += [f"          {way}" for way in ways]

    def flush(self) -> None:
        """Write the lines, masked and made inert: they may quote servers' answers."""
        self.stdout.write("".join(debuglog.shown(line) + "\n" for line in self.lines).encode())
        self.stdout.flush()
        self.lines = []
