"""What doctor and baseten print: each kind of line, the count of problems, and that
nothing is written before ``flush``, which masks secrets and shows controls inert."""

from __future__ import annotations

import io

from docker_credential_truss import debuglog
from docker_credential_truss.report import Report


def test_each_kind_of_line_as_a_person_reads_it():
    out = io.BytesIO()
    report = Report(out)
    report.line("Baseten API https://api.baseten.co")
    report.heading("registry ghcr.io")
    report.ok("found")
    report.note("plain http")
    report.warn("token expires soon", "renew it")
    report.fail("not in the workspace", "push it", ["first way", "second way"])
    report.fail("refused", "check the key")
    report.line()
    assert out.getvalue() == b"", "nothing is written before flush"
    assert report.problems == 2  # a WARN is not one
    report.flush()
    assert out.getvalue().decode() == (
        "Baseten API https://api.baseten.co\n"
        "\n"
        "registry ghcr.io\n"
        "  ok    found\n"
        "  --    plain http\n"
        "  WARN  token expires soon\n"
        "        fix: renew it\n"
        "  FAIL  not in the workspace\n"
        "        fix: push it\n"
        "          first way\n"
        "          second way\n"
        "  FAIL  refused\n"
        "        fix: check the key\n"
        "\n"
    )


def test_flush_writes_each_line_once_masked_and_inert():
    class Stream(io.BytesIO):
        flushed = 0

        def flush(self) -> None:
            Stream.flushed += 1
            super().flush()

    out = Stream()
    report = Report(out)
    debuglog.redact("SENTINEL-report-secret-5c")
    report.note("the registry said SENTINEL-report-secret-5c \x1b[2J")
    report.flush()
    report.ok("next")
    report.flush()
    assert out.getvalue().decode() == (
        "  --    the registry said [redacted] \\x1b[2J\n  ok    next\n"
    )
    assert Stream.flushed == 2
