"""The common mistakes ``doctor`` looks for, and fixes a person can paste.

Each of these made a set-up fail while every step looked right on its own:

- a secret made with ``echo 'user:pw' | base64``: the password ends in a newline, the
  helper answers it faithfully, and the registry says 401;
- a secret under a name one slip away from the one looked for (a letter, the case,
  the registry's port left off, another spelling of Docker Hub), or at the top level of
  ``~/.truss/config.yaml`` instead of under ``secrets:``;
- a credential that answers before the helper is asked: a ``podman login`` in a
  containers ``auth.json`` (skopeo, podman and buildah read those before docker's
  config), or a docker ``auths`` entry that docker-py falls back to;
- the helper on PATH only while a virtual environment is active.

A fix is a command that works when pasted: ``docker login HOST``, a file in
``$TRUSS_SECRETS_DIR``, a quoted ``~/.truss/config.yaml`` line, or ``env 'NAME=value'
cmd`` (``export`` cannot name ``TRUSS_SECRET_DOCKER_REGISTRY_ghcr.io``: no shell takes
a dot in a variable's name). Only names and places are shown, never a value.
"""

from __future__ import annotations

import json
import os
import sys

from docker_credential_truss.registry import SECRET_PREFIX, InvalidRegistry, parse
from docker_credential_truss.secrets import DIR_VARIABLE, ENV_PREFIX, file_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

ECHO_HINT = "made with `echo`? use `printf %s user:pw | base64`"
#: What a person replaces in a pasted fix.
LOGIN = "USER:PASSWORD"
VALUE = "VALUE"
_TAILS = {"\n": "a newline", "\r": "a carriage return", " ": "a space", "\t": "a tab"}


# -- a value made with echo --------------------------------------------------------


def blank_end(user: str, password: str) -> str | None:
    """Which part of a decoded ``user:password`` ends in white space, or None."""
    for what, text in (("password", password), ("user name", user)):
        if text and text[-1].isspace():
            return f"the {what} ends in {_TAILS.get(text[-1], 'white space')}"
    return None


# -- near-miss names ---------------------------------------------------------------


def near_misses(name: str, available: Mapping[str, str]) -> list[str]:
    """``did you mean`` lines for secret names close to ``name`` (name -> where it is)."""
    lines = []
    for other, source in available.items():
        why = _close(name, other)
        if why:
            lines.append(f"did you mean {other!r} (in {source})? {why}")
    return lines


def top_level(name: str, truss_config: str) -> str | None:
    """The line for ``name`` put at the top level of ~/.truss/config.yaml, or None."""
    try:
        from docker_credential_truss import files, yamlsubset

        data = yamlsubset.parse(files.read_text(truss_config), truss_config)
    except Exception:  # unreadable or not YAML: reported where the secrets are read
        return None
    if not isinstance(data, dict):
        return None
    for key in data:
        if isinstance(key, str) and key != "secrets" and key.lower() == name.lower():
            return (
                f"did you mean {key!r} at the top level of {truss_config}? truss reads"
                " secrets only under secrets: (indent it by two spaces below a secrets: line)"
            )
    return None


def _close(name: str, other: str) -> str | None:
    if other == name:
        return None
    if other.lower() == name.lower():
        return "names are case-sensitive"
    if name.startswith(SECRET_PREFIX) and other.startswith(SECRET_PREFIX):
        try:
            want, have = parse(name[len(SECRET_PREFIX) :]), parse(other[len(SECRET_PREFIX) :])
        except InvalidRegistry:
            want = have = None
        if want is not None and have is not None:
            if want.key == have.key:
                return f"the same registry, but the helper looks for exactly {name!r}"
            if want.host == have.host and want.port != have.port:
                return "the port is part of the registry's name: docker sends host:port"
    if len(name) >= 6 and _distance(name, other, 2) <= 2:
        return "a spelling slip?"
    return None


def _distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, or ``limit + 1`` as soon as it must exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


# -- credentials that answer before the helper ---------------------------------------


def containers_auth_files(env: Mapping[str, str], home: str) -> list[str]:
    """The auth files skopeo, podman and buildah read before docker's, in their order."""
    runtime = env.get("XDG_RUNTIME_DIR") or f"/run/containers/{os.getuid()}"
    found = [env.get("REGISTRY_AUTH_FILE", "")]
    found += [os.path.join(runtime, "containers", "auth.json")]
    found += [os.path.join(home, ".config", "containers", "auth.json")]
    return [path for path in dict.fromkeys(found) if path]


def auths_entries(path: str, key: str) -> tuple[list[str], str | None]:
    """The ``auths`` keys in the JSON file ``path`` that name registry ``key``, and the
    ``credHelpers`` helper it names for ``key`` (None if none); ([], None) if unreadable."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return [], None
    if not isinstance(data, dict):
        return [], None
    helpers = data.get("credHelpers")
    helper = helpers.get(key) if isinstance(helpers, dict) else None
    auths = data.get("auths")
    entries = []
    for entry in auths if isinstance(auths, dict) else ():
        try:
            if isinstance(entry, str) and parse(entry).key == key:
                entries.append(entry)
        except InvalidRegistry:
            continue
    return entries, helper if isinstance(helper, str) else None


# -- the helper on PATH --------------------------------------------------------------


def venv_only(found: str, env: Mapping[str, str]) -> str | None:
    """The active virtual environment whose bin put ``found`` on PATH, or None."""
    venv = env.get("VIRTUAL_ENV") or _frozen_away("VIRTUAL_ENV", env)
    if not venv:
        return None
    bin_dir = os.path.realpath(os.path.join(venv, "bin"))
    return venv if os.path.realpath(os.path.dirname(found)) == bin_dir else None


def _frozen_away(name: str, env: Mapping[str, str]) -> str | None:
    """A variable PyInstaller's bootstrap deleted from ``os.environ`` (it deletes
    VIRTUAL_ENV in every frozen program), as the process was started with it: Linux
    keeps that environment in /proc/self/environ. None for any other ``env``."""
    if not getattr(sys, "frozen", False) or env is not os.environ:
        return None
    try:
        with open("/proc/self/environ", "rb") as handle:
            started = handle.read().split(b"\0")
    except OSError:
        return None
    prefix = name.encode() + b"="
    for entry in started:
        if entry.startswith(prefix):
            return os.fsdecode(entry[len(prefix) :])
    return None


# -- fixes that paste ------------------------------------------------------------------


def secret_fixes(
    name: str, login: str | None, env: Mapping[str, str], truss_config: str, command: str
) -> list[str]:
    """Ways to set secret ``name``, each a line a person can paste.

    ``login`` is the ``docker login`` that stores it (None when it is not a registry
    login); ``command`` is what to run with the secret in the environment. A registry
    secret's value is made from ``USER:PASSWORD`` in the line itself.
    """
    value = f"$(printf %s '{LOGIN}' | base64 | tr -d '\\n')" if login is not None else VALUE
    ways = [login] if login else []
    if env.get(DIR_VARIABLE):
        made = (
            f"printf %s '{LOGIN}' | base64 | tr -d '\\n'"
            if login is not None
            else f"printf %s '{VALUE}'"
        )
        ways.append(
            f'mkdir -p "${DIR_VARIABLE}" && {made} > "${DIR_VARIABLE}"/{_sq(file_name(name))}'
        )
    if "/" not in name:  # truss image run writes each secret to a file named after it
        shown = "<base64 of user:password>" if login is not None else VALUE
        ways.append(f"in {truss_config}, under secrets:   {_yaml_key(name)}: {shown}")
    ways.append(f'env "{_dq(ENV_PREFIX + name)}={value}" {command}')
    return ways


def _sq(text: str) -> str:
    """``text`` single-quoted for a POSIX shell."""
    return "'" + text.replace("'", "'\\''") + "'"


def _dq(text: str) -> str:
    """``text`` for inside double quotes in a POSIX shell."""
    for char in '\\$`"':
        text = text.replace(char, "\\" + char)
    return text


def _yaml_key(name: str) -> str:
    """``name`` as a single-quoted YAML key (``'`` doubled)."""
    return "'" + name.replace("'", "''") + "'"
