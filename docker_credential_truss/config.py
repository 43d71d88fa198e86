"""The helper's own config: which registry uses which truss auth method.

``configure`` writes it; ``get`` reads it. It is JSON (not YAML) because ``get`` reads
it on every call and the json module is already loaded for the protocol::

    {"version": 1,
     "registries": {"123456789012.dkr.ecr.us-east-1.amazonaws.com":
                        {"auth_method": "<a method of authmethods.METHODS>",
                         "aws_access_key_id_secret_name": "my_key_id",
                         "source": "/home/me/my-truss/config.yaml"}}}

Each entry holds the truss ``docker_auth`` fields as strings, plus ``source``, the truss
config it came from (shown by ``doctor`` and in errors), and ``image``, the truss's
``base_image.image`` when it is on that registry (``doctor`` looks it up).

``replaced`` maps a ``credHelpers`` key to the helper that ``configure`` found there
and replaced with ``truss`` (``{"ghcr.io": "ecr-login"}``), so that ``unconfigure`` can
put it back.
"""

from __future__ import annotations

from docker_credential_truss import files
from docker_credential_truss.authmethods import METHODS
from docker_credential_truss.errors import ConfigError

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from docker_credential_truss.paths import Paths

VERSION = 1


def load(paths: Paths) -> dict[str, dict[str, str]]:
    """Registry key -> entry; an absent file is an empty config."""
    data = files.read_json(paths.helper_config)
    if data is None:
        return {}
    registries = data.get("registries", {})
    if not isinstance(registries, dict):
        raise ConfigError(f"{paths.helper_config} is malformed; re-run configure")
    for key, entry in registries.items():
        if (
            not isinstance(entry, dict)
            or entry.get("auth_method") not in METHODS
            or not all(isinstance(v, str) for v in entry.values())
        ):
            raise ConfigError(f"{paths.helper_config}: the entry for {key} is malformed")
    return registries


def merge(
    paths: Paths,
    entries: Mapping[str, dict[str, str]],
    keep: Callable[[dict[str, str], dict[str, str]], bool] | None = None,
) -> list[str]:
    """Add or replace ``entries``, keeping every other registry (locked, atomic).

    ``keep(recorded, new)``, asked under the lock for a registry already recorded,
    says to keep what is there; the keys kept are returned. Asked under the lock, so
    two configures racing cannot both think the registry was free.
    """
    kept: list[str] = []

    def change(data: dict) -> None:
        registries = data.setdefault("registries", {})
        if not isinstance(registries, dict):
            raise ConfigError(f"{paths.helper_config} is malformed; move it aside and re-run")
        for key, entry in entries.items():
            recorded = registries.get(key)
            if keep is not None and isinstance(recorded, dict) and keep(recorded, entry):
                kept.append(key)
            else:
                registries[key] = entry
        data["version"] = VERSION

    files.update_json(paths.helper_config, change)
    return kept


def replaced(paths: Paths) -> dict[str, str]:
    """credHelpers key -> the helper configure replaced there."""
    data = files.read_json(paths.helper_config)
    found = (data or {}).get("replaced", {})
    if not isinstance(found, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in found.items()
    ):
        raise ConfigError(f"{paths.helper_config}: replaced is malformed")
    return found


def remember_replaced(paths: Paths, helpers: Mapping[str, str]) -> None:
    """Record the helpers configure replaced (credHelpers key -> helper)."""

    def change(data: dict) -> None:
        data.setdefault("replaced", {}).update(helpers)
        data["version"] = VERSION

    files.update_json(paths.helper_config, change)


def forget(paths: Paths, keys: list[str], helper_keys: list[str]) -> None:
    """Remove the registries ``keys`` and the replaced-helper records of ``helper_keys``."""

    def change(data: dict) -> None:
        for name, dropped in (("registries", keys), ("replaced", helper_keys)):
            table = data.get(name)
            if isinstance(table, dict):
                for key in dropped:
                    table.pop(key, None)
                if not table:
                    del data[name]

    files.update_json(paths.helper_config, change)
