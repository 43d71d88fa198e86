"""Reading the common, plain form of ``~/.truss/config.yaml`` without importing PyYAML.

``get`` reads this file whenever it exists, and importing ``yaml`` costs about as
much as the interpreter's own start-up here (~20 ms: the package imports its Python
scanner, parser, emitter and representer and compiles their regular expressions,
though the C loader never uses them). Most such files are a flat map of names to
plain values::

    secrets:
      DOCKER_REGISTRY_ghcr.io: dXNlcjpwYXNzd29yZA==
      aws_access_key_id: AKIA...
      hf_access_token: null

:func:`load` reads exactly that form and returns :data:`NOT_SIMPLE` for anything
else, which then goes to PyYAML; it never guesses. It accepts only printable ASCII
without tabs or carriage returns; blank and comment lines; top-level ``key:`` or
``key: value``; and one level of ``name: value`` entries, equally indented, under a
top-level ``key:``. Keys and values are plain scalars that start with a letter or
``_`` and hold only letters, digits and ``+/=_.@-`` (keys also ``:``, not last).
Starting with a letter, such a scalar can only resolve to a bool or null under YAML
1.1, so words that would (``yes``, ``On``, ``null``...) go to PyYAML too, except the
null forms, read as None. tests/test_yamlsubset.py checks against PyYAML that every
text accepted here means the same there.
"""

from __future__ import annotations

import re

NOT_SIMPLE = object()

_UNSAFE_TEXT = re.compile(r"[^\x20-\x7e\n]")
_SCALAR = r"[A-Za-z_][A-Za-z0-9+/=_.@-]*"
_KEY = r"[A-Za-z_](?:[A-Za-z0-9+/=_.@:-]*[A-Za-z0-9+/=_.@-])?"
_LINE = re.compile(rf"( *)({_KEY}):(?: +(~|{_SCALAR}))? *")
# YAML 1.1 words that resolve to bool or null; compared lower-cased, so mixed-case
# forms that PyYAML would read as strings go to PyYAML too (correct, just slower).
_WORDS = frozenset({"yes", "no", "true", "false", "on", "off", "null", "y", "n"})
_NULLS = frozenset({"~", "null", "Null", "NULL"})


def load(text: str) -> dict | object:
    """The document as a dict (values str or None, one nested level), or NOT_SIMPLE."""
    if _UNSAFE_TEXT.search(text):
        return NOT_SIMPLE
    data: dict = {}
    block: dict | None = None  # the nested map being filled, if any
    opener: str | None = None  # the top-level key whose value was left empty
    indent = 0
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            return NOT_SIMPLE
        spaces, key, value = len(match[1]), match[2], match[3]
        if key.lower() in _WORDS or (
            value is not None and value not in _NULLS and value.lower() in _WORDS
        ):
            return NOT_SIMPLE
        if value in _NULLS:
            value = None
        if spaces == 0:
            if key in data:
                return NOT_SIMPLE  # a repeated key: leave the rule to PyYAML
            data[key] = value
            opener, block = (key, None) if value is None else (None, None)
            continue
        if opener is None or (block is not None and spaces != indent):
            return NOT_SIMPLE  # nested under a value, or deeper/shallower than its siblings
        if block is None:
            block, indent = {}, spaces
            data[opener] = block
        block[key] = value
    return data
