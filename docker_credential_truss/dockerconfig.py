"""Routing registries to this helper in docker's config.json.

docker matches ``credHelpers`` keys exactly, so each registry gets its own key; Docker
Hub gets both ``https://index.docker.io/v1/`` (docker CLI, BuildKit) and ``docker.io``
(containers/image). Every other key and entry is kept as it was. The file is replaced
atomically, keeping its permissions (docker writes it 0600), and a symlinked
config.json is followed so the link survives.

The file is written the way docker writes it (Go's ``json.MarshalIndent`` with a tab,
``<``, ``>`` and ``&`` escaped, no final newline), or in the indentation it already has
when someone else wrote it, so that ``configure`` then ``unconfigure`` gives back the
bytes docker wrote. The lock that serialises our writers lives in the helper's own
config directory: docker's directory is docker's, and a ``config.json.lock`` left there
looks like a stale lock of docker's own.
"""

from __future__ import annotations

import json
import os
import re
import stat

from docker_credential_truss import files
from docker_credential_truss.errors import ConfigError
from docker_credential_truss.registry import DOCKER_HUB

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

HELPER_NAME = "truss"


def helper_keys(key: str) -> list[str]:
    """The credHelpers keys that route registry ``key`` to us."""
    return [DOCKER_HUB, "docker.io"] if key == DOCKER_HUB else [key]


def planned(path: str, keys: list[str]) -> dict[str, str | None]:
    """credHelpers key -> its current helper (None if absent), for keys that would change."""
    return _apply(_cred_helpers(_read(path), path), keys)


def route(path: str, keys: list[str], lock_dir: str) -> dict[str, str | None]:
    """Point every registry in ``keys`` at this helper; returns what changed."""
    return _edit(path, lock_dir, lambda helpers: _apply(helpers, keys))


def unroute(path: str, keys: list[str], restore: Mapping[str, str], lock_dir: str) -> dict:
    """Remove the credHelpers entries of ``keys`` that name truss; returns what changed.

    A key in ``restore`` gets that helper back instead (what configure replaced). An
    entry naming another helper is not ours to remove and is left alone. An empty
    ``credHelpers`` goes, as docker drops it (``omitempty``).
    """
    return _edit(path, lock_dir, lambda helpers: _remove(helpers, keys, restore))


def planned_removal(path: str, keys: list[str], restore: Mapping[str, str]) -> dict:
    """credHelpers key -> the helper it would get back (None: removed), for ``unroute``."""
    return _remove(_cred_helpers(_read(path), path), keys, restore)


def _remove(helpers: dict[str, str], keys: list[str], restore: Mapping[str, str]) -> dict:
    changes: dict[str, str | None] = {}
    for key in keys:
        for helper_key in helper_keys(key):
            if helpers.get(helper_key) != HELPER_NAME:
                continue
            previous = restore.get(helper_key)
            if previous:
                helpers[helper_key] = previous
            else:
                del helpers[helper_key]
            changes[helper_key] = previous or None
    return changes


def _edit(
    path: str, lock_dir: str, change: Callable[[dict[str, str]], dict[str, str | None]]
) -> dict[str, str | None]:
    """Read-modify-write docker's config under our lock, writing only when it changed."""
    target = os.path.realpath(path)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o600
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    directory = os.path.dirname(target)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {directory}: {exc.strerror}") from None
    files.private_dir(lock_dir)
    with files.FileLock(os.path.join(lock_dir, "docker-config")):
        text = _read_text(target)
        data = _parse(text, path)
        helpers = _cred_helpers(data, path)
        changes = change(helpers)
        if changes:
            if helpers:
                data["credHelpers"] = helpers
            else:
                data.pop("credHelpers", None)
            files.write_bytes(target, dump(data, text), mode=mode)
    return changes


def dump(data: dict, original: str | None) -> bytes:
    """``data`` as JSON in docker's format, or in the indentation ``original`` has.

    docker (Go) writes tab-indented JSON with ``<``, ``>``, ``&``, U+2028 and U+2029
    escaped and non-ASCII text as it is, and no newline at the end. A file in another
    indentation (written by hand or another tool) keeps its indentation, its escaping
    of non-ASCII text and its final newline.
    """
    found = re.match(r"\s*\{[ \t]*\r?\n([ \t]+)\S", original or "")
    indent = found.group(1) if found else ("\t" if original is None else None)
    if indent == "\t" or original is None:
        text = json.dumps(data, indent="\t", ensure_ascii=False)
        for char, escaped in _GO_ESCAPES:
            text = text.replace(char, escaped)
    else:
        text = json.dumps(data, indent=indent)
    if original is not None and original.endswith("\n"):
        text += "\n"
    return text.encode()


# Outside strings JSON has none of these, so replacing them everywhere is safe.
_GO_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def _apply(helpers: dict[str, str], keys: list[str]) -> dict[str, str | None]:
    changes: dict[str, str | None] = {}
    for key in keys:
        for helper_key in helper_keys(key):
            if helpers.get(helper_key) != HELPER_NAME:
                changes[helper_key] = helpers.get(helper_key)
                helpers[helper_key] = HELPER_NAME
    return changes


def routed(path: str) -> dict[str, str]:
    """The credHelpers map as it stands (for ``doctor``)."""
    return _cred_helpers(_read(path), path)


def _read(path: str) -> dict:
    return _parse(_read_text(path), path)


def _read_text(path: str) -> str | None:
    """The file's text (a BOM, which some editors write, dropped), None when there is none."""
    try:
        return files.read_text(path).removeprefix("\ufeff")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"docker config: cannot read {path}: {files.reason(exc)}") from None


def _parse(text: str | None, path: str) -> dict:
    if text is None or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise ConfigError(
            f"docker config: {path} is not valid JSON; move it aside to start afresh"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"docker config: {path} does not hold a JSON object; move it aside to start afresh"
        )
    return data


def _cred_helpers(data: dict, path: str) -> dict[str, str]:
    helpers = data.get("credHelpers", {})
    if not isinstance(helpers, dict):
        raise ConfigError(f"credHelpers in {path} should be a JSON object")
    return dict(helpers)
