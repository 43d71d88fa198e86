"""What a person's terminal gets from ``debuglog.shown``: every line the human commands
print passes through it, some of it server text.

Control characters become visible escapes (``\\xNN`` below U+0100, ``\\uNNNN`` above),
registered secrets are masked, and secrets under ``SHOWN_SHORTEST`` characters are masked
in the log but left in printed lines (a two-letter test password would otherwise mask
every word that contains it). Secret values here are sentinels.
"""

from __future__ import annotations

from docker_credential_truss import debuglog


def test_controls_are_shown_as_escapes_by_their_code_point():
    text = "ok \x00\x1b[31m\x7f\x85\u2028\u202e\u2069 end"
    assert debuglog.shown(text) == "ok \\x00\\x1b[31m\\x7f\\x85\\u2028\\u202e\\u2069 end"


def test_printable_text_is_shown_unchanged():
    text = "registry said: unauthorized (realm https://auth.example.test/token, ü, 世界)"
    assert debuglog.shown(text) == text


def test_a_short_secret_is_masked_in_the_log_but_not_in_a_printed_line():
    debuglog.redact("pw12")  # shorter than SHOWN_SHORTEST
    assert debuglog.masked("user pw12 said") == "user [redacted] said"
    assert debuglog.shown("user pw12 said") == "user pw12 said"


def test_a_secret_of_the_shown_length_or_more_is_masked_behind_a_shorter_one():
    # Secrets under eight characters are looked up by length; one too short to mask in a
    # printed line must not end the search for the longer ones.
    debuglog.redact("ab")
    debuglog.masked("")  # indexed first, as when a line is logged between the two
    debuglog.redact("s3cr3t7")
    assert debuglog.shown("key s3cr3t7. ab") == "key [redacted]. ab"
