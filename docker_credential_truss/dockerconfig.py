"""Routing registries to this helper in docker's config.json.

docker matches ``credHelpers`` keys exactly, so each registry gets its own key; Docker
Hub gets both ``https://index.docker.io/v1/`` (docker CLI, BuildKit) and ``docker.io``
(containers/image). Every other key and entry is kept as it was. The file is replaced
atomically under a lock, keeping its permissions (docker writes it 0600), and a
symlinked config.json is followed so the link survives.
"""

from __future__ import annotations

import os
import stat

from docker_credential_truss import files
from docker_credential_truss.errors import ConfigError, StoreError
from docker_credential_truss.registry import DOCKER_HUB

HELPER_NAME = "truss"


def helper_keys(key: str) -> list[str]:
    """The credHelpers keys that route registry ``key`` to us."""
    return [DOCKER_HUB, "docker.io"] if key == DOCKER_HUB else [key]


def planned(path: str, keys: list[str]) -> dict[str, str | None]:
    """credHelpers key -> its current helper (None if absent), for keys that would change."""
    return _apply(_cred_helpers(_read(path), path), keys)


def route(path: str, keys: list[str]) -> dict[str, str | None]:
    """Point every registry in ``keys`` at this helper; returns what changed."""
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
    with files.FileLock(target):
        data = _read(target)
        helpers = _cred_helpers(data, path)
        changes = _apply(helpers, keys)
        if changes:
            data["credHelpers"] = helpers
            files.write_json(target, data, mode=mode, pretty=True)
    return changes


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
    try:
        data = files.read_json(path, private=False)
    except StoreError as exc:
        raise ConfigError(f"docker config: {exc}") from None
    return {} if data is None else data


def _cred_helpers(data: dict, path: str) -> dict[str, str]:
    helpers = data.get("credHelpers", {})
    if not isinstance(helpers, dict):
        raise ConfigError(f"credHelpers in {path} should be a JSON object")
    return dict(helpers)
