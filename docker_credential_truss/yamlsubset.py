"""Reading YAML: the common forms of ``~/.truss/config.yaml`` without PyYAML, the rest with it.

:func:`parse` is the one way the helper reads YAML (truss's user config, a truss
project's config.yaml); it reads the subset below itself and hands anything else to
PyYAML's safe loader, whose errors are reduced to a position.

``get`` reads this file whenever it exists, and importing ``yaml`` costs about as
much as the interpreter's own start-up here (~20 ms: the package imports its Python
scanner, parser, emitter and representer and compiles their regular expressions,
though the C loader never uses them). truss writes the file with ``yaml.dump`` of a
map of secret names to strings, which gives::

    secrets:
      DOCKER_REGISTRY_ghcr.io: dXNlcjpwYXNzd29yZA==
      aws_access_key_id: AKIA...
      '123': '0123'              <- quoted where a plain scalar would be a number
      note: "caf\\xE9"           <- non-ASCII escaped in double quotes
      hf_access_token: null

:func:`load` reads that and what people add by hand (comments, also after a value;
CRLF line ends; non-ASCII text; single- or double-quoted scalars), and returns
:data:`NOT_SIMPLE` for anything else, which then goes to PyYAML: it never guesses.
What it reads: top-level ``key:`` or ``key: value`` lines, and one level of ``key:
value`` lines, equally indented, under a top-level ``key:``; each key or value a
scalar on one line, or ``{}``. A plain scalar is a string unless one of YAML 1.1's
implicit resolvers (PyYAML's ``yaml/resolver.py``) would make it something else: the
null forms are read as None, and anything a bool, int, float, timestamp, merge or value
resolver matches goes to PyYAML (the same patterns, checked against PyYAML's own).
So a base64 value starting with a digit, ``+`` or ``/`` stays on the fast path.
tests/test_yamlsubset.py checks against PyYAML, on generated files, that every text
accepted here means the same there.
"""

from __future__ import annotations

import functools
import re

from docker_credential_truss.errors import ConfigError

NOT_SIMPLE = object()


class _NotSimple(Exception):
    pass


# Anything but printable text on one line (PyYAML's printable set, less the line breaks
# \x85, \u2028 and \u2029, the BOM and tabs, which have rules of their own), and a CR
# that is not part of a CRLF. Compiling this class costs as much as the rest of the
# module's import, so it is compiled only for text that is not ASCII: ASCII text is
# checked with str methods (see load).
@functools.cache
def _unsafe_text() -> re.Pattern:
    return re.compile(
        "[^\r\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
        "|\r(?!\n)"
    )


# The common line, matched whole at C speed: a key and an optional value made only of
# characters that need no further thought (names, base64, tokens), apart from the
# checks _plain makes when their first character calls for them.
_COMMON = re.compile(
    r"( *)([A-Za-z_][\w.@/+=-]*(?::[\w.@/+=-]+)*):(?: +([\w.@/+=-]+))? *", re.ASCII
)
_CHECK_FIRST = frozenset("-+.0123456789<=@yYnNtTfFoO")
# A ':' that ends a plain key: followed by a space or the end of the line.
_KEY_END = re.compile(r":(?: |$)")
# Plain scalars that YAML 1.1's implicit resolvers (as PyYAML has them) give a type
# other than str or null: the bool, merge and value words, and numbers and timestamps.
_TYPED_WORDS = frozenset({
    "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
    "on", "On", "ON", "off", "Off", "OFF", "<<", "=",
})  # fmt: skip
# Every number or timestamp below starts with one of these and is made only of the
# second set's characters; a scalar that is not (a base64 value with any other letter,
# which is nearly all of them) needs no pattern, whose compiling would cost ~2 ms.
_NUMBER_FIRST = frozenset("-+.0123456789")
_NUMBER_CHARS = frozenset("0123456789-+._:abcdefABCDEFxinINTtZ \t")  # hex, inf/nan, time


@functools.cache
def _number() -> re.Pattern:
    return re.compile(
        r"[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
        r"|[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
        r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+"
        r"|[0-9]{4}-[0-9]{2}-[0-9]{2}"
        r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?"
        r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?"
    )


def _typed(scalar: str) -> bool:
    """Whether PyYAML's implicit resolvers give this plain scalar a type other than str or null."""
    if scalar in _TYPED_WORDS:
        return True
    if scalar[:1] not in _NUMBER_FIRST or not _NUMBER_CHARS.issuperset(scalar):
        return False
    return _number().fullmatch(scalar) is not None


_NULLS = frozenset({"~", "null", "Null", "NULL"})
# Characters that cannot begin a plain scalar ('-', '?' and ':' only when a space or
# the end follows, which _plain checks).
_INDICATORS = frozenset(",[]{}#&*!|>'\"%@`")
_ESCAPES = {
    "0": "\0", "a": "\a", "b": "\b", "t": "\t", "n": "\n", "v": "\v", "f": "\f",
    "r": "\r", "e": "\x1b", " ": " ", '"': '"', "\\": "\\", "/": "/",
    "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029",
}  # fmt: skip
_HEX = {"x": 2, "u": 4, "U": 8}


def parse(text: str, path: str) -> object:
    """Any YAML document ``path`` holds: read here when it is in the subset, else by PyYAML.

    Errors are ConfigErrors naming the position, never the text (it may hold secrets).
    """
    data = load(text)  # the plain form, without PyYAML's start-up cost
    return load_pyyaml(text, path) if data is NOT_SIMPLE else data


def load_pyyaml(text: str, path: str) -> object:
    """Parse YAML safely (libyaml when present); errors name the position, not the text."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        # A problem may quote what it tripped on (a tag, an alias), which can be a
        # secret's value: keep only the words before the first quote.
        problem = (getattr(exc, "problem", None) or "").split("'")[0].split('"')[0]
        problem = problem.strip(" :,") or "syntax error"
        raise ConfigError(f"{path} is not valid YAML{where}: {problem}") from None
    except Exception:  # PyYAML's constructors raise ValueError, AttributeError... on odd values
        raise ConfigError(f"{path} is not valid YAML: a value in it cannot be read") from None


def load(text: str) -> dict | object | None:
    """The document as a dict (values str, None or {}, one nested level), None for an
    empty document, or NOT_SIMPLE."""
    lines = text.replace("\r\n", "\n")
    if text.isascii():
        if "\r" in lines or not lines.replace("\n", "").isprintable():
            return NOT_SIMPLE  # ASCII's printable characters are exactly \x20-\x7e
    elif _unsafe_text().search(text):
        return NOT_SIMPLE
    try:
        return _load(lines)
    except _NotSimple:
        return NOT_SIMPLE


def _load(text: str) -> dict | None:
    data: dict = {}
    block: dict | None = None  # the nested map being filled, if any
    opener: str | None = None  # the top-level key whose value was left empty
    indent = 0
    for line in text.split("\n"):
        common = _COMMON.fullmatch(line)
        if common is not None:
            spaces, key, value = len(common[1]), common[2], common[3]
            if len(key) > 1000:
                raise _NotSimple  # longer than PyYAML takes a simple key
            if key[0] in _CHECK_FIRST:
                key = _plain(key)
            if value is not None and value[0] in _CHECK_FIRST:
                value = _plain(value)
        else:
            content = line.lstrip(" ")
            if not content or content[0] == "#":
                continue
            spaces = len(line) - len(content)
            if spaces == 0 and line.startswith(("---", "...")) and line[3:4] in ("", " "):
                raise _NotSimple  # a document marker
            key, value = _entry(content)
        if not isinstance(key, str):
            raise _NotSimple  # a null key
        if spaces == 0:
            if key in data:
                raise _NotSimple  # a repeated key: leave the rule to PyYAML
            data[key] = value
            opener, block = (key, None) if value is None else (None, None)
            continue
        if opener is None or (block is not None and spaces != indent):
            raise _NotSimple  # nested under a value, or deeper/shallower than its siblings
        if block is None:
            block, indent = {}, spaces
            data[opener] = block
        if key in block:
            raise _NotSimple
        block[key] = value
    return data or None


def _entry(content: str) -> tuple[str, str | dict | None]:
    """``key: value`` (no leading spaces) -> (key, value)."""
    if content[0] in "'\"":
        key, end = _quoted(content, 0)
        rest = content[end + 1 :]
        if content[end : end + 1] != ":" or rest[:1] not in ("", " "):
            raise _NotSimple
    else:
        found = _KEY_END.search(content)
        if found is None:
            raise _NotSimple
        key = _plain(content[: found.start()].rstrip(" "))
        rest = content[found.end() :]
    if not isinstance(key, str) or len(key) > 1000:
        raise _NotSimple  # a null key, or longer than PyYAML takes a simple key
    rest = rest.lstrip(" ")
    if not rest or rest[0] == "#":
        return key, None
    if rest[0] in "'\"":
        value, end = _quoted(rest, 0)
        _comment_only(rest[end:])
        return key, value
    if rest.startswith("{}"):
        _comment_only(rest[2:])
        return key, {}
    cut = rest.find(" #")
    return key, _plain((rest if cut < 0 else rest[:cut]).rstrip(" "))


def _comment_only(rest: str) -> None:
    """What follows a quoted scalar or {} must be nothing, or spaces and a comment."""
    if rest and not (rest[0] == " " and rest.lstrip(" ")[:1] in ("", "#")):
        raise _NotSimple


def _plain(scalar: str) -> str | None:
    """A plain scalar's value: a str, None for the null forms; NOT_SIMPLE otherwise."""
    if scalar in _NULLS or not scalar:
        return None
    first = scalar[0]
    if (
        first in _INDICATORS
        or (first in "-?:" and scalar[1:2] in ("", " "))
        or ": " in scalar
        or scalar.endswith(":")
        or " #" in scalar
        or _typed(scalar)
    ):
        raise _NotSimple
    return scalar


def _quoted(text: str, start: int) -> tuple[str, int]:
    """The quoted scalar at ``start`` (one line) and the index just after it."""
    quote = text[start]
    out = []
    i = start + 1
    while True:
        if quote == "'":
            end = text.find("'", i)
            if end < 0:
                raise _NotSimple
            out.append(text[i:end])
            if text.startswith("''", end):
                out.append("'")
                i = end + 2
                continue
            return "".join(out), end + 1
        end = _next_special(text, i)
        out.append(text[i:end])
        if end >= len(text):
            raise _NotSimple  # continues on the next line
        if text[end] == '"':
            return "".join(out), end + 1
        code = text[end + 1 : end + 2]
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            i = end + 2
        elif code in _HEX:
            digits = text[end + 2 : end + 2 + _HEX[code]]
            if len(digits) != _HEX[code] or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise _NotSimple
            number = int(digits, 16)
            if 0xD800 <= number <= 0xDFFF or number > 0x10FFFF:
                raise _NotSimple
            out.append(chr(number))
            i = end + 2 + len(digits)
        else:
            raise _NotSimple  # an unknown escape, or a line continuation


def _next_special(text: str, start: int) -> int:
    """Index of the next '"' or '\\' at or after ``start`` (len(text) when none)."""
    found = [i for i in (text.find('"', start), text.find("\\", start)) if i >= 0]
    return min(found) if found else len(text)
