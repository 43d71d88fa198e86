"""``configure``: import truss registry settings into the helper and route docker to it.

Three sources, one set of rules (truss's, see :mod:`trussconfig`):

- ``PATH``: a truss directory or its config.yaml;
- ``FILE.py``: a truss Chains or truss_train source file, read statically
  (:mod:`trussdefs`; the file is never imported or run);
- ``--registry HOST --auth-method METHOD [--<docker_auth field> VALUE]...``: the same
  fields as flags, for a registry with no truss config at hand.

Problems (what truss refuses, a host no docker client sends, a registry already
recorded with other settings) and warnings (what truss accepts but cannot work here)
are reported per registry on stderr; every registry without a problem is imported,
and the exit status is 1 if there was any problem. A registry recorded with other
settings is replaced only with ``--replace``: two trusses naming one registry
otherwise take turns silently breaking each other. The helper's config is written
first, then docker's config.json, so a registry is never routed to the helper before
the helper knows how to answer for it; ``unconfigure`` undoes both in the other
order, and puts back a ``credHelpers`` entry that ``configure`` replaced.
"""

from __future__ import annotations

import os
import shutil

from docker_credential_truss import config, dockerconfig, trussconfig
from docker_credential_truss.errors import ConfigError
from docker_credential_truss.paths import Paths
from docker_credential_truss.registry import InvalidRegistry, parse

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from argparse import Namespace
    from collections.abc import Mapping
    from typing import BinaryIO, TextIO

#: Entry fields that are not settings: where they came from, and what doctor looks up.
NOT_SETTINGS = ("source", "image", "image_registry")


def configure(opts: Namespace, stdout: BinaryIO, stderr: TextIO, env: Mapping[str, str]) -> int:
    found: list[trussconfig.TrussRegistries] = []
    failed = 0
    for source in opts.sources:
        try:
            one = _read(source)
        except ConfigError as exc:
            stderr.write(f"error: {exc.message}\n")
            failed += 1
            continue
        if not one.entries and not one.problems and not one.warnings:
            stderr.write(
                f"note: {_shown(source)} names no private registry"
                " (no docker_auth and no DOCKER_REGISTRY_* secrets); nothing to import\n"
            )
            continue
        found.append(one)
    if opts.fields:
        found.append(_from_flags(opts.fields))
    paths = Paths.from_env(env)
    recorded = config.load(paths)
    entries: dict[str, dict[str, str]] = {}
    same: list[str] = []
    for one in found:
        for line in one.problems:
            stderr.write(f"error: {line}\n")
        for line in one.warnings:
            stderr.write(f"warning: {line}\n")
        failed += len(one.problems)
        for key, entry in one.entries.items():
            before = entries.get(key) or recorded.get(key)
            failed += _judge(key, before, entry, opts.replace, entries, same, stderr)
    if entries and not opts.dry_run:
        # docker's config must be one configure can route before anything is recorded:
        # a registry recorded but not routed would be "unchanged" on the next run
        dockerconfig.planned(paths.docker_config, list(entries))
        # judged again under the lock: another configure may have recorded one since
        late = config.merge(
            paths, entries, lambda old, new: verdict(old, new, opts.replace) != "write"
        )
        for key in late:
            failed += _judge(
                key, config.load(paths).get(key), entries.pop(key), False, {}, same, stderr
            )
    for line in same:
        stdout.write(f"{line}; unchanged\n".encode())
    if entries:
        _record(entries, opts.dry_run, stdout, paths)
    if shutil.which("docker-credential-truss", path=env.get("PATH")) is None:
        stderr.write(
            "warning: docker-credential-truss is not on PATH; docker will not find the helper\n"
        )
    if failed:
        imported = f"; {len(entries)} imported" if entries else "; nothing imported"
        stderr.write(f"{failed} problem{'s' if failed > 1 else ''}{imported}\n")
        return 1
    return 0


def verdict(before: Mapping[str, str] | None, entry: Mapping[str, str], replace: bool) -> str:
    """``write``, ``same`` (recorded with these settings) or ``conflict`` for one entry."""
    if before is None or replace:
        return "write"
    # the same truss again is an update; flags are a new source each time
    if before.get("source") == entry.get("source") and os.path.isabs(entry.get("source", "")):
        return "write"
    return "same" if settings(before) == settings(entry) else "conflict"


def _judge(
    key: str,
    before: Mapping[str, str] | None,
    entry: dict[str, str],
    replace: bool,
    entries: dict[str, dict[str, str]],
    same: list[str],
    stderr: TextIO,
) -> int:
    """Put ``entry`` in ``entries``, or say why not; 1 for a conflict, else 0."""
    judged = verdict(before, entry, replace)
    if judged == "write":
        entries[key] = entry
    elif judged == "same" and before is not None:
        same.append(f"{key}: already recorded with these settings from {before.get('source')}")
    elif before is not None:
        stderr.write(f"error: {conflict(key, before, entry)}\n")
        return 1
    return 0


def settings(entry: Mapping[str, str]) -> dict[str, str]:
    """What decides how a registry authenticates: the entry without where it came from."""
    return {k: v for k, v in entry.items() if k not in NOT_SETTINGS}


def describe(entry: Mapping[str, str]) -> str:
    """``METHOD (secret_name=x)``: an entry's settings in one phrase."""
    rest = settings(entry)
    method = rest.pop("auth_method", "?")
    detail = ", ".join(f"{k}={v}" for k, v in rest.items())
    return method + (f" ({detail})" if detail else "")


def conflict(key: str, before: Mapping[str, str], entry: Mapping[str, str]) -> str:
    """The refusal of a second, different set of settings for one registry."""
    return (
        f"{key} is already recorded with {describe(before)} from {before.get('source')};"
        f" {entry.get('source')} has {describe(entry)}; kept the first: configure again"
        " with --replace to use the second"
    )


def _read(source: str) -> trussconfig.TrussRegistries:
    if source.endswith(".py"):
        from docker_credential_truss import trussdefs

        return trussdefs.read(source)
    return trussconfig.read(source)


def _shown(source: str) -> str:
    return source if source.endswith(".py") else trussconfig.config_path(source)


def _from_flags(fields: dict[str, str]) -> trussconfig.TrussRegistries:
    found = trussconfig.TrussRegistries("the command line")
    where = "--registry/--auth-method flags"
    if not fields.get("registry"):
        found.problems.append(f"{where}: --registry HOST is required (the host docker asks for)")
        return found
    if "auth_method" not in fields:
        found.problems.append(f"{where}: --auth-method is required")
        return found
    trussconfig.docker_auth(found, fields, "", where)
    return found


def _record(
    entries: dict[str, dict[str, str]], dry_run: bool, stdout: BinaryIO, paths: Paths
) -> None:
    lines = [f"{key}: {describe(entry)}" for key, entry in entries.items()]
    if dry_run:
        changes = dockerconfig.planned(paths.docker_config, list(entries))
        verb = "would record"
    else:  # configure merged them into the helper config first
        changes = dockerconfig.route(paths.docker_config, list(entries), paths.config_dir)
        replaced = {k: v for k, v in changes.items() if v}
        if replaced:
            config.remember_replaced(paths, replaced)
        verb = "recorded"
    out = [f"{verb} in {paths.helper_config}:"] + [f"  {line}" for line in lines]
    route = "would route" if dry_run else "routed"
    if changes:
        out.append(f"{route} to docker-credential-truss in {paths.docker_config}:")
        for key, previous in changes.items():
            was = f" (was {previous!r}; unconfigure puts it back)" if previous else ""
            out.append(f'  "credHelpers": {{"{key}": "truss"}}{was}')
    else:
        out.append(f"{paths.docker_config} already routes these registries to truss")
    stdout.write(("\n".join(out) + "\n").encode())


def unconfigure(opts: Namespace, stdout: BinaryIO, stderr: TextIO, env: Mapping[str, str]) -> int:
    """Remove registries (named, or those of a truss) from both configs; see the module doc."""
    paths = Paths.from_env(env)
    recorded = config.load(paths)
    keys: list[str] = []
    failed = 0
    for target in opts.targets:
        try:
            chosen = _targets(target, recorded, stderr)
        except (ConfigError, InvalidRegistry) as exc:
            message = getattr(exc, "message", None) or str(exc)
            stderr.write(f"error: {target!r}: not a truss here, nor a registry ({message})\n")
            failed += 1
            continue
        keys += [k for k in chosen if k not in keys]
    restore = config.replaced(paths)
    if opts.dry_run:
        changes = dockerconfig.planned_removal(paths.docker_config, keys, restore)
    else:
        changes = dockerconfig.unroute(paths.docker_config, keys, restore, paths.config_dir)
        helper_keys = [h for k in keys for h in dockerconfig.helper_keys(k)]
        if any(k in recorded for k in keys) or any(h in restore for h in helper_keys):
            config.forget(paths, keys, helper_keys)
    remove, change = ("would remove", "would change") if opts.dry_run else ("removed", "changed")
    out: list[str] = []
    gone = [k for k in keys if k in recorded]
    if gone:
        out.append(f"{remove} from {paths.helper_config}:")
        out += [f"  {k}: {describe(recorded[k])}" for k in gone]
    if changes:
        out.append(f"{change} in {paths.docker_config}:")
        for key, back in changes.items():
            if back:
                out.append(
                    f'  "credHelpers": {{"{key}": "{back}"}} (put back: configure had replaced it)'
                )
            else:
                out.append(f'  "credHelpers": "{key}" removed')
    for key in keys:
        if key not in recorded and not any(h in changes for h in dockerconfig.helper_keys(key)):
            out.append(f"{key}: not configured and not routed to truss; nothing to undo")
    stdout.write("".join(f"{line}\n" for line in out).encode())
    return 1 if failed else 0


def _targets(target: str, recorded: Mapping[str, dict[str, str]], stderr: TextIO) -> list[str]:
    """The registry keys a target names: a registry itself, or those a truss records.

    A registry that the truss names but that is recorded from another truss is left
    alone, with a note: it is that truss's now.
    """
    if not os.path.exists(target):
        return [parse(target).key]
    one = _read(target)
    source = one.source
    keys = []
    for key in one.entries:
        entry = recorded.get(key)
        if entry is not None and entry.get("source") not in (None, source):
            stderr.write(
                f"note: {key} is recorded from {entry.get('source')}, not {source}; left as"
                f" it is (unconfigure {key} removes it)\n"
            )
            continue
        keys.append(key)
    return keys
