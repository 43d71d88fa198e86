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

from docker_credential_truss.errors import ConfigError
from docker_credential_truss.yamlsubset import NOT_SIMPLE, load, parse

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
        assert theirs == ours, (text, loader)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab_:#- \n\t~.'\"y=/0")), max_size=40))
def test_random_texts_too(text):
    ours = load(text)
    if ours is not NOT_SIMPLE:
        for loader in LOADERS:
            theirs = pyyaml(text, loader)
            assert theirs == ours, (text, loader)


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
        "secrets:\n  a: 12:30\n",  # sexagesimal int
        "secrets:\n  a: 1.5\n",  # a float (1e3 is a string in YAML 1.1)
        "secrets:\n  a: 2024-01-02\n",  # a date
        "secrets:\n  a: |\n    block\n",
        "secrets:\n  a: b\n   c: d\n",  # uneven indentation
        "secrets:\n\ta: b\n",
        "secrets: {a: b}\n",
        "---\nsecrets:\n  a: b\n",
        "secrets:\n  a: b\nsecrets:\n  a: c\n",
        "secrets:\n  a: b\n  a: c\n",
        "\ufeffsecrets:\n  a: b\n",
        "secrets:\n  a: 'two\n    lines'\n",
        'secrets:\n  a: "x\\q"\n',  # an escape YAML does not have
        "secrets:\n  a: x\r  b: y\n",  # a lone CR is a line break
        "secrets:\n  a: x\u2028\n",
    ],
)
def test_anything_else_goes_to_pyyaml(text):
    assert load(text) is NOT_SIMPLE


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("secrets:\n  a: 'quoted'\n", "quoted"),
        ("secrets:\n  a: 'it''s'  # said\n", "it's"),
        (
            'secrets:\n  a: "caf\\xE9 \\u2603 \\U0001F600 \\" \\\\"\n',
            'caf\xe9 \u2603 \U0001f600 " \\',
        ),
        ("secrets:\n  a: x # comment\n", "x"),
        ("secrets:\n  a: x#y\n", "x#y"),
        ("secrets:\r\n  a: x\r\n", "x"),
        ("# caf\u00e9\nsecrets:\n  a: caf\u00e9\n", "caf\u00e9"),
        ("secrets:\n  a: 0a9Zq+/x\n", "0a9Zq+/x"),  # base64 starting with a digit
        ("secrets:\n  a: +Zq/x==\n", "+Zq/x=="),
        ("secrets:\n  a: /K7MDENG/bPxRfiCY\n", "/K7MDENG/bPxRfiCY"),
        ("secrets:\n  a: -Zq_x\n", "-Zq_x"),  # base64url
        ("secrets:\n  a: 12ab34cg\n", "12ab34cg"),
        ("secrets:\n  a: ''\n", ""),
        ("secrets: {}\n", None),
    ],
)
def test_quoted_commented_crlf_and_digit_first_values_stay_on_the_fast_path(text, value):
    ours = load(text)
    assert ours == yaml.safe_load(text)
    assert ours["secrets"] == ({} if value is None else {"a": value})


# The alphabets real secrets are drawn from: base64 (REGISTRY_SECRET values, AWS secret
# keys), base64url and hex (tokens), AWS key ids; and anything printable without spaces.
ALPHABETS = [
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    "0123456789abcdef",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
    "".join(chr(c) for c in range(0x21, 0x7F)),
]
SECRET_NAMES = st.from_regex(r"[A-Za-z0-9_.-]{1,30}|DOCKER_REGISTRY_[a-z0-9.-]{1,20}(:[0-9]{2,5})?",
                             fullmatch=True)  # fmt: skip
ORDINARY = st.one_of(*[st.text(alphabet=a, min_size=1, max_size=60) for a in ALPHABETS])


def dumped(secrets: dict) -> str:
    """What truss writes (truss/local/local_config.py: yaml.dump of {"secrets": ...})."""
    return yaml.dump({"secrets": secrets})


@settings(max_examples=250, deadline=None)
@given(st.dictionaries(SECRET_NAMES, st.one_of(ORDINARY, st.none()), max_size=6))
def test_every_file_truss_writes_for_ordinary_secrets_is_read_without_pyyaml(secrets):
    text = dumped(secrets)
    ours = load(text)
    assert ours is not NOT_SIMPLE, text
    assert ours == yaml.safe_load(text) == {"secrets": secrets}


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.text(max_size=12), st.one_of(st.text(max_size=30), st.none()), max_size=5),
    st.sampled_from(["", " # note", "  #caf\u00e9", " #"]),
    st.booleans(),
    st.booleans(),
)
def test_any_dumped_file_with_hand_edits_means_what_pyyaml_says(secrets, comment, crlf, unicode):
    """Any strings (dump picks plain, quoted or multi-line forms), then what a person
    adds: comments after values, CRLF line ends, non-ASCII text left unescaped."""
    text = yaml.dump({"secrets": secrets}, allow_unicode=unicode)
    text = "\n".join(line + comment if ": " in line else line for line in text.split("\n"))
    if crlf:
        text = text.replace("\n", "\r\n")
    ours = load(text)
    if ours is NOT_SIMPLE:
        return
    for loader in LOADERS:
        assert pyyaml(text, loader) == ours, (text, loader)


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


# PyYAML's implicit resolvers that give a type other than str or null, as compiled there
# (but "yaml", which takes only "!", "&" and "*": indicators _plain refuses first).
UNTYPED = ("tag:yaml.org,2002:str", "tag:yaml.org,2002:null", "tag:yaml.org,2002:yaml")
PYYAML_TYPED = sorted(
    {
        regexp
        for resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.values()
        for tag, regexp in resolvers
        if tag not in UNTYPED
    },
    key=lambda regexp: regexp.pattern,
)


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.text(
            alphabet=st.sampled_from(list("0123456789+-._:eExXbB aficnNIFTtZ<=~\tgh")), max_size=30
        ),
        st.sampled_from(WORDS),
        st.from_regex(
            r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt]| +)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(\.[0-9]*)?"
            r"( *(Z|[-+][0-9]{1,2}(:[0-9]{2})?))?",
            fullmatch=True,
        ),
        # Whatever PyYAML's own typing patterns match, however unusual.
        st.sampled_from(PYYAML_TYPED).flatmap(lambda p: st.from_regex(p, fullmatch=True)),
    )
)
def test_the_resolver_patterns_are_pyyamls(scalar):
    """A plain scalar is left to PyYAML exactly when PyYAML's resolvers type it (which
    also checks the character sets that spare most scalars the number pattern)."""
    from docker_credential_truss.yamlsubset import _typed

    tag = yaml.resolver.Resolver().resolve(yaml.ScalarNode, scalar, (True, False))
    assert _typed(scalar) == (tag not in UNTYPED), (scalar, tag)


# --- what a text gives, read here or by PyYAML; and its error, with its line -------------


@pytest.fixture(params=["libyaml", "python"])
def loader(request, monkeypatch) -> str:
    """PyYAML with its C loader (libyaml), as the release has it, or without (pure Python)."""
    if request.param == "python":
        monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    elif not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML is built without libyaml here")
    return request.param


@pytest.mark.parametrize(
    ("text", "says"),
    [
        # libyaml and PyYAML's scanner word it differently; neither quotes the text
        (
            "secrets: [unclosed\n",
            {
                "libyaml": "at line 2, column 1: did not find expected",
                "python": "at line 2, column 1: expected",
            },
        ),
        (
            "secrets:\n  a: b\n   c: d\n",
            {
                "libyaml": "at line 3, column 5: mapping values are not allowed in this context",
                "python": "at line 3, column 5: mapping values are not allowed here",
            },
        ),
        # a tag or an alias may be a secret's value: the words before it only
        (
            "secrets:\n  a: !hunter2 x\n",
            {"libyaml": "at line 2, column 6: could not determine a constructor for the tag"},
        ),
        (
            # PyYAML's scanner quotes the character: '"\'"'
            'secrets:\n  a: "\\\'"\n',
            {
                "libyaml": "at line 2, column 7: found unknown escape character",
                "python": "at line 2, column 8: found unknown escape character",
            },
        ),
        ("secrets:\n  a: b\x00\n", {"libyaml": ": syntax error"}),  # no position, no words
        ("secrets:\n  a: 2024-13-45\n", {"libyaml": ": a value in it cannot be read"}),
        ("secrets:\n  a: !!int '12x'\n", {"libyaml": ": a value in it cannot be read"}),
    ],
)
def test_yaml_that_cannot_be_read_says_where_and_never_what(loader, text, says):
    with pytest.raises(ConfigError) as raised:
        parse(text, "/p/config.yaml")
    wording = says.get(loader, says["libyaml"])
    sep = "" if wording.startswith(":") else " "
    assert raised.value.message == f"/p/config.yaml is not valid YAML{sep}{wording}"
    assert "hunter2" not in raised.value.message and "12x" not in raised.value.message


def test_the_usual_file_is_read_without_pyyaml(monkeypatch):
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml fails
    assert parse(TRUSS_STYLE, "/p/config.yaml") == {
        "secrets": {
            "DOCKER_REGISTRY_ghcr.io": "dXNlcjpwYXNzd29yZA==",
            "DOCKER_REGISTRY_https://index.docker.io/v1/": "ZG9ja2VyOmh1Yg==",
            "DOCKER_REGISTRY_127.0.0.1:5000": "bG9jYWw6cGFzcw==",
            "aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "hf_access_token": None,
            "baseten_api_key": None,
        }
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('secrets:\n  a: "x" # say "hi"\n', "x"),  # the first closing quote ends it
        ('secrets:\n  a: "x\\"y" # "z"\n', 'x"y'),
        ("secrets:\n  a: 'x' # c\n", "x"),  # one space before the comment
        ("secrets:\n  a: 'x' \n", "x"),  # trailing spaces
        ("secrets:\n  a: 'x'   \n", "x"),
        ("secrets:\n  a: {} # none yet\n", {}),
    ],
)
def test_what_follows_a_quoted_value_is_a_comment_or_nothing(text, value):
    ours = load(text)
    assert ours == {"secrets": {"a": value}}
    for each in LOADERS:
        assert pyyaml(text, each) == ours


@pytest.mark.parametrize(
    "text",
    [
        "secrets:\n  a: 'x'#c\n",  # not a comment without a space before it
        "secrets:\n  a: 'x' y\n",
        "secrets:\n  a: {}x\n",
        "secrets:\n  a: 'x' \t# c\n",  # a tab has rules of its own
        "secrets:\n  a: 'x' X\n",
        "secrets:\n  a: 'x' \xa0# c\n",  # a no-break space is not white space in YAML
    ],
)
def test_anything_after_a_quoted_value_but_a_comment_goes_to_pyyaml(text):
    assert load(text) is NOT_SIMPLE


@pytest.mark.parametrize(
    ("text", "data"),
    [
        # every escape of a double-quoted scalar, and the code points either side of the
        # surrogates and at the top of Unicode
        (
            'a: "\\0\\a\\b\\t\\n\\v\\f\\r\\e\\ \\"\\\\\\/\\N\\_\\L\\P"\n',
            {"a": '\x00\x07\x08\t\n\x0b\x0c\r\x1b "\\/\x85\xa0\u2028\u2029'},
        ),
        (
            'a: "\\x41\\xe9\\uD7FF\\uE000\\U0010FFFF\\U0001F600"\n',
            {"a": "A\xe9\ud7ff\ue000\U0010ffff\U0001f600"},
        ),
        # keys: quoted, with spaces, with colons not followed by a space
        ("'a b': c\n'it''s': d\n", {"a b": "c", "it's": "d"}),
        ('"k\\"q": v\n', {'k"q': "v"}),
        ("a b: c\n", {"a b": "c"}),
        ("a: b:c\n", {"a": "b:c"}),
        ("a: ?x\nb: :x\nc: -x\n", {"a": "?x", "b": ":x", "c": "-x"}),
        ("---x: y\n...z: w\n", {"---x": "y", "...z": "w"}),  # not document markers
        # empty values, null forms and comments
        ("a:\nb: ~\nc: null # c\nd:   # c\n", {"a": None, "b": None, "c": None, "d": None}),
        ("# only a comment\n\n", None),
        ("", None),
        # one nested level, under each key that opens one
        ("a:\n  b: 1x\n  c:\nd:\n    e: y\n", {"a": {"b": "1x", "c": None}, "d": {"e": "y"}}),
        ("a:\n  # c\n\n  b: x\n", {"a": {"b": "x"}}),
        ("'" + "k" * 1000 + "': v\n", {"k" * 1000: "v"}),  # as long a key as it reads
        ("k" * 1000 + ": v\n", {"k" * 1000: "v"}),
        ("'a b':\n  c: d\n", {"a b": {"c": "d"}}),
        ("X y: z\nab c: d\na b  : c\n", {"X y": "z", "ab c": "d", "a b": "c"}),
        ("a: X y\nb: x # c # d\n", {"a": "X y", "b": "x"}),
        # a no-break space is text, not YAML's white space
        (
            "a\xa0: b\n\xa0c: d\ne: f\xa0\ng: \xa0h\n",
            {"a\xa0": "b", "\xa0c": "d", "e": "f\xa0", "g": "\xa0h"},
        ),
    ],
)
def test_what_a_text_in_the_subset_gives(text, data):
    ours = load(text)
    assert ours == data
    for each in LOADERS:
        assert pyyaml(text, each) == ours


@pytest.mark.parametrize(
    "text",
    [
        # double-quoted scalars PyYAML refuses, or reads into something odd
        'a: "\\uDFFF"\n',
        'a: "\\uD800"\n',
        'a: "\\U00110000"\n',
        'a: "\\x4"\n',
        'a: "\\x4g"\n',
        'a: "\\xZZ"\n',
        'a: "\\xAX"\n',
        'a: "x\\\n',
        'a: "x"y\n',
        "a: 'x\n",
        # document markers, and what is not a one-level map
        "---\na: b\n",
        "--- \na: b\n",
        "a: b\n...\n",
        "? a\n",
        "- a\n",
        "a: -\n",
        "a: - x\n",
        "a: b: c\n",
        "--- a: b\n",
        "... a: b\n",
        "a #b: c\n",
        "a: x:\n",
        "'a'b: c\n",
        "'a':b\n",
        "'a' : b\n",
        "  a: x\n",
        "a: x\n  b: y\n",
        "a:\n  b: x\n    c: y\n",
        "a:\n  b: x\n c: y\n",
        # null keys, repeated keys
        "~: x\n",
        "null: x\n",
        "a:\n  ~: x\n",
        "a:\n  b: x\n  b: y\n",
        "a:\n b: x\na:\n b: y\n",
        "'" + "k" * 1001 + "': v\n",  # longer than PyYAML takes a simple key
        "k" * 1001 + ": v\n",  # PyYAML refuses a plain key of more than 1024 characters
        "secrets:\n  " + "k" * 1025 + ": v\n",
    ],
)
def test_these_are_left_to_pyyaml(text):
    assert load(text) is NOT_SIMPLE
