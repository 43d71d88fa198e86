"""The plain-form reader of ~/.truss/config.yaml must mean what PyYAML means, or step aside.

Every text it accepts is also parsed with PyYAML (both the C and the Python loader);
the two results must be equal. Texts are built from pieces chosen to sit on YAML's
edges: bool and null words, numbers, octal-looking digits, colons, comments, tabs,
quotes, odd indentation.
"""

import subprocess
import sys

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from docker_credential_truss.yamlsubset import NOT_SIMPLE, load

LOADERS = [yaml.SafeLoader] + ([yaml.CSafeLoader] if hasattr(yaml, "CSafeLoader") else [])

WORDS = [
    "yes", "Yes", "YES", "yEs", "no", "No", "on", "On", "off", "OFF", "true", "True",
    "false", "y", "n", "null", "Null", "NULL", "nUll", "~", "", "0", "0123", "0x1f",
    "1e3", "1_000", "12:30", "+1", "-1", ".inf", ".nan", "=", "<<", "2024-01-02",
    "abc", "dXNlcjpwYXNz", "dXNlcjpwYXNz==", "a/b+c=", "AKIAIOSFODNN7EXAMPLE", "_x",
    "a:b", "a: b", "a #b", "a#b", "'q'", '"q"', "a\tb", "-a", "@a", "!a", "&a", "*a",
    "[a]", "{a}", "a,b", "a b", "é", "|", ">", "%", "`a`", "?a", "a?", "a:", "a-",
    "DOCKER_REGISTRY_ghcr.io", "DOCKER_REGISTRY_https://index.docker.io/v1/",
    "DOCKER_REGISTRY_127.0.0.1:5000", "secrets",
]  # fmt: skip
NAME = r"[A-Za-z_][A-Za-z0-9_.+/=@-]{0,8}"
INDENTS = [" ", "  ", "    "]


@st.composite
def documents(draw) -> str:
    """Mostly well-formed plain documents, with a sprinkle of every edge in WORDS."""
    # Mostly plain names (so most documents are in the subset), an edge now and then.
    plain = st.from_regex(NAME, fullmatch=True)
    word = st.one_of(*[plain] * 7, st.sampled_from(WORDS))
    tail = st.sampled_from([""] * 20 + [" ", " # note"])
    lines = []
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(st.sampled_from(["", "# c", "  # c", "---", "- a", "\t# c"])))
        key = draw(word)
        if draw(st.booleans()):  # key: value
            lines.append(f"{key}: {draw(word)}{draw(tail)}")
            continue
        lines.append(f"{key}:{draw(tail)}")  # key: and a nested block
        indent = draw(st.sampled_from(INDENTS))
        for _ in range(draw(st.integers(0, 4))):
            this = indent if draw(st.integers(0, 9)) else draw(st.sampled_from([*INDENTS, "\t"]))
            sep = draw(st.sampled_from([": ", ": ", ":  ", ":"]))
            value = draw(word) if sep != ":" else ""
            lines.append(f"{this}{draw(word)}{sep}{value}{draw(tail)}")
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n", "\n", "\r\n"]))


def pyyaml(text: str, loader) -> object:
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - safe loaders
    except yaml.YAMLError:
        return "error"


@settings(max_examples=1500, deadline=None)
@given(documents())
def test_whatever_it_accepts_pyyaml_reads_the_same(text):
    ours = load(text)
    if ours is NOT_SIMPLE:
        return
    for loader in LOADERS:
        theirs = pyyaml(text, loader)
        assert (theirs if theirs is not None else {}) == ours, (text, loader)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab_:#- \n\t~.'\"y=/0")), max_size=40))
def test_random_texts_too(text):
    ours = load(text)
    if ours is not NOT_SIMPLE:
        for loader in LOADERS:
            theirs = pyyaml(text, loader)
            assert (theirs if theirs is not None else {}) == ours, (text, loader)


TRUSS_STYLE = """\
# secrets for truss
secrets:
  DOCKER_REGISTRY_ghcr.io: dXNlcjpwYXNzd29yZA==
  DOCKER_REGISTRY_https://index.docker.io/v1/: ZG9ja2VyOmh1Yg==
  DOCKER_REGISTRY_127.0.0.1:5000: bG9jYWw6cGFzcw==
  aws_access_key_id: AKIAIOSFODNN7EXAMPLE
  aws_secret_access_key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
  hf_access_token: null
  baseten_api_key:
"""


def test_the_usual_file_takes_the_plain_path():
    assert load(TRUSS_STYLE) == yaml.safe_load(TRUSS_STYLE)


@pytest.mark.parametrize(
    "text",
    [
        "secrets:\n  a: yes\n",  # a bool
        "secrets:\n  a: 0123\n",  # octal int in YAML 1.1
        "secrets:\n  a: 'quoted'\n",
        "secrets:\n  a: x # comment\n",
        "secrets:\n  a: |\n    block\n",
        "secrets:\n  a: b\n   c: d\n",  # uneven indentation
        "secrets:\n\ta: b\n",
        "secrets: {a: b}\n",
        "---\nsecrets:\n  a: b\n",
        "secrets:\n  a: b\nsecrets:\n  a: c\n",
        "secrets:\n  a: caf\u00e9\n",
        "\ufeffsecrets:\n  a: b\n",
    ],
)
def test_anything_else_goes_to_pyyaml(text):
    assert load(text) is NOT_SIMPLE


def test_get_with_the_usual_file_does_not_import_yaml(env):
    import base64
    import os

    value = base64.b64encode(b"u:p").decode()
    os.makedirs(os.path.join(env["HOME"], ".truss"))
    with open(os.path.join(env["HOME"], ".truss", "config.yaml"), "w") as handle:
        handle.write(TRUSS_STYLE + f"  DOCKER_REGISTRY_reg.example.test: {value}\n")
    code = (
        "import io, sys\n"
        "from docker_credential_truss.cli import main\n"
        "out = io.BytesIO()\n"
        "main(['get'], stdin=io.BytesIO(b'reg.example.test'), stdout=out)\n"
        "print(b'\"Username\": \"u\"' in out.getvalue(), 'yaml' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["True", "False"]
