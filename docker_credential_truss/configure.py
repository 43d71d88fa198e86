"""``configure PATH...``: import truss configs into the helper and route docker to it.

Writes the helper's config first, then docker's config.json, so a registry is never
routed to the helper before the helper knows how to answer for it.
"""

from __future__ import annotations

import shutil

from docker_credential_truss import config, dockerconfig, trussconfig
from docker_credential_truss.errors import InputError
from docker_credential_truss.paths import Paths

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import BinaryIO, TextIO

USAGE = "usage: docker-credential-truss configure [--dry-run] PATH..."


def configure(args: list[str], stdout: BinaryIO, stderr: TextIO, env: Mapping[str, str]) -> int:
    dry_run = "--dry-run" in args
    paths_given = [a for a in args if a != "--dry-run"]
    unknown = [a for a in paths_given if a.startswith("-")]
    if unknown or not paths_given:
        raise InputError(USAGE if not unknown else f"unknown option {unknown[0]}; {USAGE}")
    entries: dict[str, dict[str, str]] = {}
    for path in paths_given:
        found = trussconfig.read(path)
        if not found:
            raise InputError(
                f"{trussconfig.config_path(path)} names no private registry"
                " (no base_image.docker_auth and no DOCKER_REGISTRY_* secrets)"
            )
        entries.update(found)
    paths = Paths.from_env(env)
    lines = []
    for key, entry in entries.items():
        detail = ", ".join(
            f"{k}={v}" for k, v in entry.items() if k not in ("auth_method", "source")
        )
        lines.append(f"{key}: {entry['auth_method']}" + (f" ({detail})" if detail else ""))
    if dry_run:
        changes = dockerconfig.planned(paths.docker_config, list(entries))
        verb = "would record"
    else:
        config.merge(paths, entries)
        changes = dockerconfig.route(paths.docker_config, list(entries))
        verb = "recorded"
    out = [f"{verb} in {paths.helper_config}:"] + [f"  {line}" for line in lines]
    route = "would route" if dry_run else "routed"
    if changes:
        out.append(f"{route} to docker-credential-truss in {paths.docker_config}:")
        for key, previous in changes.items():
            was = f" (was {previous!r})" if previous else ""
            out.append(f'  "credHelpers": {{"{key}": "truss"}}{was}')
    else:
        out.append(f"{paths.docker_config} already routes these registries to truss")
    stdout.write(("\n".join(out) + "\n").encode())
    if shutil.which("docker-credential-truss", path=env.get("PATH")) is None:
        stderr.write(
            "warning: docker-credential-truss is not on PATH; docker will not find the helper\n"
        )
    return 0
