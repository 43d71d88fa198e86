"""Reading a truss project's config.yaml the way truss reads it.

Only what a registry credential needs: ``base_image.image``, ``base_image.docker_auth``
and the ``DOCKER_REGISTRY_*`` names under ``secrets:``. The image is recorded with its
registry's entry so that ``doctor`` can look for it. Validation follows truss's
``DockerAuthSettings`` (truss/base/truss_config.py): ``auth_method`` is upper-cased;
GCP_SERVICE_ACCOUNT_JSON needs ``secret_name``; AWS_OIDC needs the role ARN and region;
GCP_OIDC needs the service account and workload identity provider; each forbids the
other methods' OIDC fields; ``None`` and ``""`` both count as missing. In addition the
``registry`` must be the host of ``image``, since that is the host docker will ask for.
"""

from __future__ import annotations

import os

from docker_credential_truss import files
from docker_credential_truss import registry as registries
from docker_credential_truss.config import METHODS
from docker_credential_truss.errors import ConfigError
from docker_credential_truss.secrets import load_yaml

FIELDS = (
    "registry",
    "secret_name",
    "aws_access_key_id_secret_name",
    "aws_secret_access_key_secret_name",
    "aws_oidc_role_arn",
    "aws_oidc_region",
    "gcp_oidc_service_account",
    "gcp_oidc_workload_id_provider",
)
_OIDC = (
    "aws_oidc_role_arn",
    "aws_oidc_region",
    "gcp_oidc_service_account",
    "gcp_oidc_workload_id_provider",
)
# method -> (required fields, forbidden fields), as truss validates them
_RULES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "GCP_SERVICE_ACCOUNT_JSON": (("secret_name",), _OIDC),
    "AWS_OIDC": (
        ("aws_oidc_role_arn", "aws_oidc_region"),
        ("secret_name", "gcp_oidc_service_account", "gcp_oidc_workload_id_provider"),
    ),
    "GCP_OIDC": (
        ("gcp_oidc_service_account", "gcp_oidc_workload_id_provider"),
        ("secret_name", "aws_oidc_role_arn", "aws_oidc_region"),
    ),
}


def config_path(path: str) -> str:
    """A truss directory or its config.yaml -> the config.yaml."""
    return os.path.join(path, "config.yaml") if os.path.isdir(path) else path


def read(path: str) -> dict[str, dict[str, str]]:
    """Registry key -> helper config entry for everything ``path`` says about registries."""
    path = os.path.abspath(config_path(path))
    try:
        with files.open_regular(path, "r", encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise ConfigError(f"cannot read truss config {path}: {reason}") from None
    data = load_yaml(text, path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a truss config (expected a YAML mapping)")
    entries: dict[str, dict[str, str]] = {}
    for name in _registry_secret_names(data, path):
        key = _key(name[len(registries.SECRET_PREFIX) :], f"secret {name!r} in {path}")
        entries[key] = {"auth_method": "REGISTRY_SECRET", "secret_name": name, "source": path}
    base = data.get("base_image")
    if base is not None:
        if not isinstance(base, dict):
            raise ConfigError(f"base_image in {path} should be a mapping")
        auth = base.get("docker_auth")
        if auth is not None:
            key, entry = _docker_auth(auth, base.get("image"), path)
            entries[key] = entry
        _record_image(entries, base.get("image"))
    return entries


def _record_image(entries: dict[str, dict[str, str]], image: object) -> None:
    """Keep ``base_image.image`` with its registry's entry, for doctor to look it up."""
    if not isinstance(image, str) or not image:
        return
    try:
        key = registries.parse(_image_host(image)).key
    except registries.InvalidRegistry:
        return
    if key in entries:
        entries[key]["image"] = image


def _registry_secret_names(data: dict, path: str) -> list[str]:
    secrets = data.get("secrets")
    if secrets is None:
        return []
    if not isinstance(secrets, dict):
        raise ConfigError(f"'secrets' in {path} should be a map of name: value")
    return [
        name
        for name in secrets
        if isinstance(name, str) and name.startswith(registries.SECRET_PREFIX)
    ]


def _docker_auth(auth: object, image: object, path: str) -> tuple[str, dict[str, str]]:
    where = f"base_image.docker_auth in {path}"
    if not isinstance(auth, dict):
        raise ConfigError(f"{where} should be a mapping")
    method = auth.get("auth_method")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise ConfigError(f"{where}: auth_method must be one of {', '.join(METHODS)}")
    method = method.upper()
    entry: dict[str, str] = {"auth_method": method, "source": path}
    for field in FIELDS:
        value = auth.get(field)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {field} should be a string")
        entry[field] = value
    required, forbidden = _RULES.get(method, ((), ()))
    for field in required:
        if field not in entry:
            raise ConfigError(f"{where}: {field} is required when auth_method is {method}")
    for field in forbidden:
        if field in entry:
            raise ConfigError(f"{where}: {field} is not allowed when auth_method is {method}")
    image_key = None
    if isinstance(image, str) and image:
        image_key = _key(_image_host(image), f"base_image.image in {path}")
    if "registry" in entry:
        key = _key(entry["registry"], f"{where}: registry")
        if image_key is not None and key != image_key:
            raise ConfigError(
                f"{where}: registry {entry['registry']!r} is not the host of base_image.image"
                f" ({image_key})"
            )
    elif image_key is not None:
        key = image_key
    else:
        raise ConfigError(f"{where}: set registry, or base_image.image with a registry host")
    return key, entry


def _image_host(image: str) -> str:
    """The registry host of an image reference, as docker's reference grammar decides."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def _key(server: str, what: str) -> str:
    try:
        return registries.parse(server).key
    except registries.InvalidRegistry as exc:
        raise ConfigError(f"{what}: {server!r} is not a registry host ({exc})") from None
