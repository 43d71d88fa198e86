"""What a person is shown of a server's error code, and of an error that is a bug.

A server's error text can quote what it was sent (a credential), so only a short code
made of letters, digits and ``._-`` (plus what the caller allows, ``:`` for AWS's
``Sender:Throttling``-like codes) is ever shown; anything else shows nothing. An
internal error shows its type and what was being done, never its text.
"""

import pytest

from docker_credential_truss.errors import REPORT_IT, internal_error, safe_code

SENTINEL = "SENTINEL-secret-in-an-error-4e1d"


@pytest.mark.parametrize(
    "code",
    [
        "A",  # one character is a code
        "DENIED",
        "NAME_UNKNOWN",
        "invalid-grant.v2",
        "x" * 64,  # the longest shown
        "AZaz09._-",
    ],
)
def test_a_short_plain_code_is_shown_as_it_is(code):
    assert safe_code(code) == code


@pytest.mark.parametrize(
    "value",
    [
        "",
        "x" * 65,  # one longer than a code may be
        "token abc",  # a space: text, not a code
        "a/b",
        "Sender:Throttling",  # ":" only where the caller allows it
        "d\u00e9ni\u00e9",  # letters outside ASCII
        SENTINEL + "=",
        None,
        42,
        ["DENIED"],
        {"code": "DENIED"},
    ],
)
def test_anything_else_shows_nothing(value):
    assert safe_code(value) == ""


def test_a_caller_may_allow_more_characters_and_only_those():
    assert safe_code("Sender:Throttling", more=":") == "Sender:Throttling"
    assert safe_code("a/b", more=":") == ""
    assert safe_code("a b", more=":") == ""
    assert safe_code(None, more=":") == ""
    assert safe_code("x" * 65, more=":") == ""


def test_an_internal_error_names_its_type_and_what_was_done_never_its_text():
    exc = ValueError(SENTINEL)
    line = internal_error(exc, "checking the registry")
    assert line == "internal error (ValueError) checking the registry"
    assert internal_error(KeyError(SENTINEL)) == "internal error (KeyError)"
    assert SENTINEL not in line
    assert REPORT_IT == "please report it"
