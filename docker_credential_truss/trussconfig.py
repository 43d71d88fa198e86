"""Reading a truss project's config.yaml the way truss reads it.

Only what a registry credential needs: ``base_image`` (its ``image`` and
``docker_auth``) and the ``DOCKER_REGISTRY_*`` names under ``secrets:``. The rules are
truss's own, as ``truss push`` applies them (``TrussConfig.from_yaml``, then
``validate_forbid_extra``; truss/base/truss_config.py, ``DockerAuthSettings``):

- ``auth_method`` is required, upper-cased, one of the ``DockerAuthType`` values
  (:data:`authmethods.METHODS`);
- every field is a string; ``registry``, ``secret_name`` and the role/OIDC fields may be
  ``null``, the ``aws_*_secret_name`` fields may not; unknown fields are refused;
- each method requires and forbids the fields its row in :mod:`authmethods` lists
  (``None`` and ``""`` both count as absent);
- ``secrets`` is a map of string names to string (or ``null``) values.

What truss refuses is a *problem*: nothing is imported for that registry. What truss
accepts but cannot work on this machine (a ``registry`` that is not the host docker
will ask for, a cloud method on a host it cannot serve, malformed OIDC settings) is
imported with a *warning*, and ``doctor`` reports it as a FAIL with the fix. A host
no docker client can send (``user@host``, a trailing dot, ``oci://...``) is a problem
too, since no request would ever match it. Problems and warnings are per registry:
one bad entry does not stop the others. ``base_image.image`` is recorded with its
registry's entry (``image``) so that ``doctor`` can look for it.
"""

from __future__ import annotations

import os

from docker_credential_truss import files, yamlsubset
from docker_credential_truss import registry as registries
from docker_credential_truss.authmethods import (
    FIELDS,
    METHODS,
    NAMES,
    OPTIONAL_FIELDS,
    OWN_SECRET,
)
from docker_credential_truss.errors import ConfigError

BASE_IMAGE_FIELDS = ("image", "python_executable_path", "docker_auth")


class TrussRegistries:
    """What one truss definition says about registries.

    ``entries``: registry key -> helper config entry (strings only); ``warnings`` and
    ``problems``: one line each, naming the registry (or the field) concerned.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.entries: dict[str, dict[str, str]] = {}
        self.warnings: list[str] = []
        self.problems: list[str] = []


def config_path(path: str) -> str:
    """A truss directory or its config.yaml -> the config.yaml."""
    return os.path.join(path, "config.yaml") if os.path.isdir(path) else path


def read(path: str) -> TrussRegistries:
    """Everything ``path`` (a truss directory or config.yaml) says about registries.

    Raises ConfigError only when the file as a whole cannot be used.
    """
    path = os.path.abspath(config_path(path))
    try:
        text = files.read_text(path)
    except OSError as exc:
        raise ConfigError(f"cannot read truss config {path}: {files.reason(exc)}") from None
    data = yamlsubset.parse(text, path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a truss config (expected a YAML mapping)")
    found = TrussRegistries(path)
    if "secrets" in data:
        _secrets(found, data["secrets"])
    base = data.get("base_image")
    if base is not None:
        _base_image(found, base)
    return found


def _secrets(found: TrussRegistries, secrets: object) -> None:
    where = f"secrets in {found.source}"
    if not isinstance(secrets, dict):
        found.problems.append(f"{where}: should be a map of name: value (truss refuses it)")
        return
    for name, value in secrets.items():
        if not isinstance(name, str):
            found.problems.append(f"{where}: secret name {name!r} is not a string")
            continue
        if value is not None and not isinstance(value, str):
            found.problems.append(f"{where}: the value of {name} should be a string or null")
            continue
        if name.startswith(registries.SECRET_PREFIX):
            server = name[len(registries.SECRET_PREFIX) :]
            try:
                key = registries.parse(server).key
            except registries.InvalidRegistry as exc:
                # truss accepts any secret name: a warning, and the rest is imported
                found.warnings.append(
                    f"secret {name!r} in {found.source}: {server!r} is not a host a docker"
                    f" client can ask for ({exc}); not imported"
                )
                continue
            add(found, key, {"auth_method": OWN_SECRET, "secret_name": name})


def _base_image(found: TrussRegistries, base: object) -> None:
    where = f"base_image in {found.source}"
    if not isinstance(base, dict):
        found.problems.append(f"{where}: should be a mapping")
        return
    unknown = sorted(str(k) for k in base if k not in BASE_IMAGE_FIELDS)
    if unknown:
        found.problems.append(
            f"{where}: unknown field {', '.join(unknown)} (truss push refuses it)"
        )
        return
    image = base.get("image", "")
    if not isinstance(image, str):
        found.problems.append(f"{where}: image should be a string")
        return
    auth = base.get("docker_auth")
    if auth is not None:
        docker_auth(found, auth, image)
    _record_image(found, image)


def _record_image(found: TrussRegistries, image: str) -> None:
    """Keep ``base_image.image`` with its registry's entry, for doctor to look it up."""
    if not image:
        return
    try:
        key = registries.parse(registries.split_image(image)[0]).key
    except registries.InvalidRegistry:
        return
    if key in found.entries:
        found.entries[key]["image"] = image


def docker_auth(found: TrussRegistries, auth: object, image: str, where: str = "") -> None:
    """Check one ``docker_auth`` mapping as truss does; record it, or say why not."""
    where = where or f"base_image.docker_auth in {found.source}"
    entry = settings(auth, where)
    if isinstance(entry, str):
        found.problems.append(entry)
        return
    image_key = None
    if image:
        image_key = _key(
            found, registries.split_image(image)[0], f"{where}: base_image.image {image!r}"
        )
        if image_key is None:
            return
    if entry.get("registry"):
        key = _key(found, entry["registry"], f"{where}: registry")
        if key is None:
            return
        if image_key is not None and key != image_key:
            entry["image_registry"] = image_key
    elif image_key is not None:
        key = image_key
    else:
        found.warnings.append(
            f"{where}: names no registry (registry is empty and there is no base_image.image);"
            " nothing to import: set registry to the registry's host"
        )
        return
    add(found, key, entry)


def settings(auth: object, where: str) -> dict[str, str] | str:
    """The entry for a ``docker_auth`` mapping, or the reason truss refuses it."""
    if not isinstance(auth, dict):
        return f"{where}: should be a mapping"
    unknown = sorted(str(k) for k in auth if k not in FIELDS and k != "auth_method")
    if unknown:
        return f"{where}: unknown field {', '.join(unknown)} (truss push refuses it)"
    method = auth.get("auth_method")
    if not isinstance(method, str) or method.upper() not in METHODS:
        return f"{where}: auth_method must be one of {', '.join(NAMES)}"
    method = method.upper()
    entry: dict[str, str] = {"auth_method": method}
    for field in FIELDS:
        if field not in auth:
            continue
        value = auth[field]
        if value is None and field in OPTIONAL_FIELDS:
            continue
        if not isinstance(value, str):
            kind = "a string or null" if field in OPTIONAL_FIELDS else "a string (not null)"
            return f"{where}: {field} should be {kind}"
        if value:
            entry[field] = value
    required, forbidden = METHODS[method].required, METHODS[method].forbidden
    missing = [f for f in required if f not in entry]
    if missing:
        return f"{where}: {', '.join(missing)} required when auth_method is {method}"
    present = [f for f in forbidden if f in entry]
    if present:
        return f"{where}: {', '.join(present)} not allowed when auth_method is {method}"
    return entry


def add(found: TrussRegistries, key: str, entry: dict[str, str]) -> None:
    """Record ``entry`` for ``key``, with a warning for anything that cannot work here."""
    entry["source"] = found.source
    from docker_credential_truss.resolver import unusable

    warning = unusable(key, entry)
    if warning:
        found.warnings.append(warning)
    found.entries[key] = entry


def _key(found: TrussRegistries, server: str, what: str) -> str | None:
    """The registry key for ``server``, or None after recording why no client sends it."""
    try:
        return registries.parse(server).key
    except registries.InvalidRegistry as exc:
        found.problems.append(
            f"{what}: {server!r} is not a host a docker client can ask for ({exc})"
        )
        return None
