"""``doctor``: will docker get a credential, and if not, why not.

A credential helper fails far from its cause: docker prints ``no basic auth
credentials`` or pulls anonymously, and says nothing of a helper missing from PATH, a
registry not routed, a secret missing or malformed, or a token endpoint refusing. This
takes ``get``'s own steps (:meth:`Resolver.prepare`: the method, its provider and its
secrets, the cache identity), reports each, then mints and logs in to the registry, and
says for each step what it found and, when something is wrong, how to fix it.

Registries checked: those named, else every one the helper knows of (its config, the
``DOCKER_REGISTRY_*`` secrets) and every one docker routes to it. Secret values are
never printed: only their names and where they were found. Tokens are minted but not
shown or cached; ``--offline`` skips minting (and so the network). The report goes to
stdout, and the exit status is 1 when anything is wrong.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

from docker_credential_truss import __version__, dockerconfig, pitfalls
from docker_credential_truss.authmethods import METHODS
from docker_credential_truss.cache import TokenCache, is_fresh
from docker_credential_truss.errors import (
    REPORT_IT,
    HelperError,
    ProviderError,
    SecretError,
    internal_error,
)
from docker_credential_truss.minting import mint_within, network_timeout
from docker_credential_truss.paths import Paths
from docker_credential_truss.registry import (
    DOCKER_HUB,
    SECRET_PREFIX,
    InvalidRegistry,
    Registry,
    parse,
)
from docker_credential_truss.report import Report
from docker_credential_truss.resolver import Choice, Preparation, Resolver, unusable
from docker_credential_truss.secrets import file_name as secrets_file_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from argparse import Namespace
    from collections.abc import Mapping, Sequence
    from typing import BinaryIO

    from docker_credential_truss.minting import Token

EXE_NAME = "docker-credential-truss"
DOCKER_HUB_SECRET = SECRET_PREFIX + DOCKER_HUB
CONFIGURE = "docker-credential-truss configure PATH/TO/MY-TRUSS"
#: seconds the helper on PATH has to answer ``version`` (it answers at once when it works)
VERSION_WAIT = 30.0


def doctor(opts: Namespace, stdout: BinaryIO, env: Mapping[str, str]) -> int:
    """The report for ``opts`` (:func:`options.doctor`): registries, offline, no_registry."""
    offline, no_registry = opts.offline, opts.no_registry
    names, insecure = opts.registries, opts.insecure_registry
    paths = Paths.from_env(env)
    resolver = Resolver(env, paths)
    report = Report(stdout)
    report.line(f"docker-credential-truss {__version__} doctor")
    report.heading("set-up")
    check_path(report, env)
    routes = check_docker_config(report, paths)
    check_helper_config(report, resolver, paths)
    check_truss_secret_names(report, resolver, paths)
    registries = select(report, resolver, routes, names)
    entries = cached(report, paths)
    for registry in registries:
        report.heading(registry.key)
        check_registry(
            report, resolver, registry, routes, paths, entries, offline, insecure, no_registry
        )
    report.line()
    if report.problems:
        s = "s" if report.problems > 1 else ""
        report.line(f"{report.problems} problem{s} found; each FAIL above says how to fix it")
    else:
        report.line(
            f"all good: {len(registries)} registr{'y' if len(registries) == 1 else 'ies'} ready"
        )
    problems = report.problems
    report.flush()  # masked and made inert: lines quote servers (codes, realm URLs, types)
    return 1 if problems else 0


def check_path(report: Report, env: Mapping[str, str]) -> None:
    """docker runs ``docker-credential-<name>`` from PATH: is ours there, and does it run?"""
    # no PATH: docker (Go's exec.LookPath) finds nothing; which(path=None) would search ours
    found = shutil.which(EXE_NAME, path=env["PATH"]) if env.get("PATH") else None
    if found is None:
        # link this very program: the standalone build, or the script beside this Python
        frozen = getattr(sys, "frozen", False)  # PyInstaller's mark: sys.executable is the build
        script = os.path.join(os.path.dirname(sys.executable), EXE_NAME)
        if frozen or os.path.isfile(script):
            target = sys.executable if frozen else script
            # the link is named: a standalone build may have been renamed on download
            fix = (
                f"ln -s {target} /usr/local/bin/{EXE_NAME}  (with sudo if need be;"
                " or any folder on PATH)"
            )
        else:
            fix = f"add the folder holding it to PATH, or install it with: pipx install {EXE_NAME}"
        report.fail(f"no program named {EXE_NAME} on PATH, so docker cannot run the helper", fix)
        return
    if not os.path.isabs(found):  # Go's exec.LookPath refuses what '.' or '' finds
        report.fail(
            f"{EXE_NAME} is found as {found}, through a relative PATH entry ('.' or an empty"
            " one): docker refuses it (resolves to executable in current directory)",
            "take the relative entry out of PATH (or put it last), and put the helper in an"
            f" absolute folder on PATH: ln -s {os.path.abspath(found)} /usr/local/bin/",
        )
        return
    try:
        done = subprocess.run(
            [found, "version"],
            capture_output=True,
            text=True,
            timeout=VERSION_WAIT,
            env=dict(env),
        )
        answer = done.stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        done, answer = None, type(exc).__name__
    if done is None or done.returncode != 0 or not answer.startswith(EXE_NAME + " "):
        report.fail(
            f"{found} is on PATH but does not run ({answer[:80] or 'no answer'})",
            "reinstall it; a standalone build must keep its _internal folder beside it",
        )
        return
    version = answer.removeprefix(EXE_NAME + " ")
    report.ok(f"{EXE_NAME} on PATH: {found} ({version})")
    venv = pitfalls.venv_only(found, env)
    if venv:
        report.warn(
            f"it is on PATH only while the virtual environment {venv} is active: docker run"
            " from another shell, by sudo, cron or a CI service will not find it",
            f"ln -s {found} /usr/local/bin/  (or into ~/.local/bin, if that is on PATH)",
        )
    if version != __version__:
        report.note(f"this doctor is {__version__}; docker will run {version}")


def check_docker_config(report: Report, paths: Paths) -> dict[str, str] | None:
    """docker's credHelpers map, or None when docker's config cannot be read."""
    try:
        routes = dockerconfig.routed(paths.docker_config)
    except HelperError as exc:
        report.fail(
            exc.message, f"repair {paths.docker_config}, or move it aside and configure again"
        )
        return None
    if not os.path.exists(paths.docker_config):
        report.note(f"docker config {paths.docker_config} does not exist yet")
    else:
        ours = sum(1 for v in routes.values() if v == dockerconfig.HELPER_NAME)
        report.ok(f"docker config {paths.docker_config}: {ours} credHelpers entries name truss")
    return routes


def check_helper_config(report: Report, resolver: Resolver, paths: Paths) -> None:
    try:
        registries = resolver.config
    except HelperError as exc:
        report.fail(exc.message, f"move {paths.helper_config} aside and run: {CONFIGURE}")
        return
    if registries:
        report.ok(f"helper config {paths.helper_config}: {len(registries)} registries")
    else:
        report.note(
            f"helper config {paths.helper_config}: none yet"
            " (a registry with a DOCKER_REGISTRY_* secret needs none)"
        )


def check_truss_secret_names(report: Report, resolver: Resolver, paths: Paths) -> None:
    """A secret name with ``/`` in ~/.truss/config.yaml breaks ``truss image run``.

    truss mirrors each secret there to ``~/.truss/secrets/<name>``, so Docker Hub's
    ``DOCKER_REGISTRY_https://index.docker.io/v1/`` ends in FileNotFoundError. Only
    ``DOCKER_REGISTRY_*`` names are shown: any other key may be a value pasted where
    a name belongs (a slip of indentation), and doctor never prints a value.
    """
    try:
        names = [name for name in resolver.secrets.truss_secrets() if "/" in name]
    except HelperError:
        return  # reported where the secrets are read
    breaks = "breaks `truss image run`, which writes each secret there to a file named after it"
    others = 0
    for name in names:
        if not name.startswith(SECRET_PREFIX):
            others += 1
            continue
        report.warn(
            f"secret {name} in {paths.truss_config} {breaks}",
            f"move it out of {paths.truss_config}: `docker login"
            f"{'' if name == DOCKER_HUB_SECRET else ' ' + name[len(SECRET_PREFIX) :]}`"
            f" (the helper's own store), or env 'TRUSS_SECRET_{name}=...' COMMAND, or a file in"
            " $TRUSS_SECRETS_DIR named with %2F for each '/'"
            f" ({secrets_file_name(name)})",
        )
    if others:
        report.warn(
            f"{others} other secret name(s) with '/' in {paths.truss_config} (not shown, in"
            f" case a value was pasted as a name): such a name {breaks}",
            f"look for '/' in the names under secrets: in {paths.truss_config}",
        )


def select(
    report: Report, resolver: Resolver, routes: dict[str, str] | None, names: list[str]
) -> list[Registry]:
    """The registries named, else all the helper knows of or docker sends to it."""
    chosen: dict[str, Registry] = {}
    if names:
        for name in names:
            try:
                registry = parse(name)
            except InvalidRegistry as exc:
                report.fail(
                    f"{name!r} is not a registry ({exc})", "name it as docker does: host[:port]"
                )
                continue
            chosen.setdefault(registry.key, registry)
        return list(chosen.values())
    try:
        candidates = list(resolver.config)
    except HelperError:
        candidates = []  # reported by check_helper_config
    try:
        candidates += [n[len(SECRET_PREFIX) :] for n in resolver.secrets.names(SECRET_PREFIX)]
    except HelperError as exc:
        report.fail(exc.message, "fix the file it names; its secrets cannot be read until then")
    candidates += [k for k, v in (routes or {}).items() if v == dockerconfig.HELPER_NAME]
    for candidate in candidates:
        try:
            registry = parse(candidate)
        except InvalidRegistry:
            continue
        chosen.setdefault(registry.key, registry)
    if not chosen:
        report.fail(
            "no registry is configured: docker will never get a credential from this helper",
            f"run: {CONFIGURE}  (or set a DOCKER_REGISTRY_<registry> secret)",
        )
    return list(chosen.values())


def cached(report: Report, paths: Paths) -> list[dict]:
    try:
        return TokenCache(paths.token_cache).entries()
    except HelperError as exc:
        report.fail(exc.message, f"fix the permissions, or remove {paths.token_cache}")
        return []


def check_registry(
    report: Report,
    resolver: Resolver,
    registry: Registry,
    routes: dict[str, str] | None,
    paths: Paths,
    entries: list[dict],
    offline: bool,
    insecure: Sequence[str] = (),
    no_registry: bool = False,
) -> None:
    check_route(report, registry, routes, paths)
    check_shadowing(report, registry, routes, paths, resolver.env)
    plan = resolver.prepare(registry)  # get's own steps, up to the cache and the network
    choice = plan.choice
    if choice is None:
        if plan.problem is not None:
            report.fail(plan.problem.message, "fix the file it names, then run doctor again")
        else:
            report.fail(
                "no way to authenticate: not in the helper config, and no secret"
                f" {registry.secret_name}",
                f"run: {CONFIGURE}; or set the secret {registry.secret_name} (base64 of"
                f" user:password) in ~/.truss/config.yaml; or run: {registry.login_command}",
            )
            for line in _near_misses(resolver, registry.secret_name):
                report.note(line)
    else:
        method = METHODS[choice.method]
        report.ok(f"auth method {choice.method}: {choice.why}")
        shown = [f"{k}={choice.settings[k]}" for k in method.shown if choice.settings.get(k)]
        if shown:
            report.note("settings: " + ", ".join(shown))
        if not check_settings(report, registry, choice):
            report.note("credential: not tried, the settings cannot work")
        elif check_secrets(report, resolver, plan):
            check_blank_ends(report, resolver, plan)
            check_ci_token(report, resolver, plan, offline)
            token = check_credential(report, resolver, plan, offline)
            if token is not None and not no_registry:
                check_registry_access(report, resolver, registry, token, choice.settings, insecure)
            elif offline or no_registry:
                report.note(
                    f"registry: not contacted ({'--offline' if offline else '--no-registry'})"
                )
        else:
            report.note("credential: not tried, a secret is missing")
    check_cache(report, plan, paths, entries)


def check_route(
    report: Report, registry: Registry, routes: dict[str, str] | None, paths: Paths
) -> None:
    if routes is None:
        return
    wrong = []
    for key in dockerconfig.helper_keys(registry.key):
        helper = routes.get(key)
        if helper != dockerconfig.HELPER_NAME:
            now = f'"{helper}"' if helper else "no entry"
            wrong.append(f"{key} ({now})")
    if not wrong:
        keys = " and ".join(dockerconfig.helper_keys(registry.key))
        report.ok(f'docker sends it here: credHelpers {keys} -> "truss"')
        return
    adds = ", ".join(
        f'"{k}": "truss"'
        for k in dockerconfig.helper_keys(registry.key)
        if routes.get(k) != dockerconfig.HELPER_NAME
    )
    report.fail(
        f"docker does not send it to this helper; credHelpers in {paths.docker_config} has:"
        f" {', '.join(wrong)}",
        f'run: {CONFIGURE}; or add {adds} to "credHelpers" in {paths.docker_config}',
    )


def check_settings(report: Report, registry: Registry, choice: Choice) -> bool:
    """What configure warned about: settings truss accepts that cannot work for this host."""
    problem = unusable(registry.key, {**choice.settings, "auth_method": choice.method})
    if problem is None:
        return True
    where = choice.settings.get("source") or "the helper config"
    report.fail(problem, f"correct auth_method or registry in {where}, then configure again")
    return False


def check_secrets(report: Report, resolver: Resolver, plan: Preparation) -> bool:
    """Each secret the method reads (names and sources only); False if get lacks one."""
    assert plan.choice is not None
    complete = True
    for name, secret in plan.secrets().items():
        try:
            found = resolver.secrets.find(name)  # as get looked it up: read once per run
        except HelperError as exc:
            report.fail(exc.message, "fix the file it names")
            complete = False
            continue
        if found is not None:
            report.ok(f"secret {name}: found in {found.source}")
            continue
        without = getattr(plan.provider, "without_secrets", None)
        if plan.problem is None and without:  # get goes on without them, and says why
            report.note(f"secret {name}: not set; {without}")
            return complete
        complete = False
        registry, settings = plan.registry, plan.choice.settings
        login = registry.login_command if secret.form == "registry" else None
        pull = f"docker pull {settings.get('image') or _image_placeholder(registry)}"
        ways = pitfalls.secret_fixes(name, login, resolver.env, resolver.paths.truss_config, pull)
        report.fail(
            f"secret {name} is missing; looked in {resolver.secrets.places(name)}",
            "any one of these:",
            ways,
        )
        for line in _near_misses(resolver, name):
            report.note(line)
    return complete


def _image_placeholder(registry: Registry) -> str:
    return "IMAGE" if registry.is_docker_hub else f"{registry.key}/IMAGE"


def _near_misses(resolver: Resolver, name: str) -> list[str]:
    """Secrets whose name is one slip from ``name``, and ``name`` misplaced in YAML."""
    try:
        available = resolver.secrets.names("")
    except HelperError:
        available = {}
    lines = pitfalls.near_misses(name, available)
    misplaced = pitfalls.top_level(name, resolver.paths.truss_config)
    return lines + ([misplaced] if misplaced else [])


def check_blank_ends(report: Report, resolver: Resolver, plan: Preparation) -> None:
    """A registry secret whose user or password ends in white space (``echo | base64``)."""
    for name, secret in plan.secrets().items():
        if secret.form == "registry":
            _check_blank_ends(report, resolver, name)


def _check_blank_ends(report: Report, resolver: Resolver, name: str) -> None:
    try:
        found = resolver.secrets.find(name)
        if found is None:
            return
        from docker_credential_truss.providers.static import decode

        user, password = decode(found.value, name)
    except HelperError:
        return  # reported by check_credential, which decodes it the same way
    trap = pitfalls.blank_end(user, password)
    if trap:
        report.fail(
            f"secret {name} in {found.source}: {trap}, which the registry will refuse;"
            f" {pitfalls.ECHO_HINT}",
            f"make the value again with printf (not echo) and put it in {found.source}"
            " in place of the old one: printf %s 'USER:PASSWORD' | base64 | tr -d '\\n'",
        )


def check_shadowing(
    report: Report, registry: Registry, routes: dict[str, str] | None, paths: Paths, env: Mapping
) -> None:
    """Credentials that answer before this helper is asked, for a registry routed to it."""
    if routes is None or routes.get(registry.key) != dockerconfig.HELPER_NAME:
        return
    home = env.get("HOME") or os.path.expanduser("~")
    for path in pitfalls.containers_auth_files(env, home):
        entries, helper = pitfalls.auths_entries(path, registry.key)
        if helper == dockerconfig.HELPER_NAME:
            return  # this file sends it here itself, before any later file
        if helper is not None or entries:
            what = f'"credHelpers" names {helper!r}' if helper else f"auths has {entries[0]!r}"
            report.fail(
                f"{path} {what} (a podman, skopeo or buildah login): skopeo, podman and"
                " buildah read it before docker's config, so they never ask this helper",
                f"podman logout --authfile {path} {entries[0] if entries else registry.key};"
                f' or add "credHelpers": {{"{registry.key}": "truss"}} to {path}',
            )
            return
    entries, _ = pitfalls.auths_entries(paths.docker_config, registry.key)
    if entries:
        report.warn(
            f"{paths.docker_config} also has an auths entry {entries[0]!r}: docker-py and"
            " docker-compose use it whenever this helper has no credential",
            f'remove "{entries[0]}" from "auths" in {paths.docker_config}',
        )


def check_ci_token(report: Report, resolver: Resolver, plan: Preparation, offline: bool) -> None:
    """An OIDC method's CI token: its source and claims, as the trust must see them.

    The provider is get's own (``plan``'s), which check_credential then mints with: a
    token fetched here (GitHub, Buildkite) is the one the mint uses, asked for once.
    """
    from docker_credential_truss import citrust

    choice = plan.choice
    ci_trust = getattr(plan.provider, "ci_trust", None)
    if choice is None or plan.problem is not None or ci_trust is None:
        return  # check_credential, next, reports what stops get
    if ci_trust(choice.settings) is None:
        return  # not an OIDC method
    provider = plan.provider
    settings = choice.settings
    citrust.check(report, provider, choice.method, settings, resolver.env, offline, time.time())


def check_credential(
    report: Report, resolver: Resolver, plan: Preparation, offline: bool
) -> Token | None:
    """The provider get made (or why not), the checks its mint makes before the network,
    then, unless offline, a mint for real (not cached)."""
    try:
        provider = plan.ready()
        network_timeout(resolver.env)  # what mint_within reads first
        preflight = getattr(provider, "preflight", None)
        if preflight is not None:
            preflight()  # the rest of what mint checks before the network
        if offline:
            report.note(
                f"credential: inputs read and well-formed (user {provider.username});"
                " not minted (--offline)"
            )
            return None
        start = time.monotonic()
        token = mint_within(provider, plan.registry.key, resolver.env)
    except SecretError as exc:
        report.fail(exc.message, "correct the secret's value where it is kept (named above)")
        return None
    except ProviderError as exc:
        report.fail(
            exc.message,
            "check the account's permissions, the endpoint and the network;"
            " DOCKER_CREDENTIAL_TRUSS_DEBUG=1 keeps a log",
        )
        return None
    except HelperError as exc:
        report.fail(exc.message, "see the message; DOCKER_CREDENTIAL_TRUSS_DEBUG=1 keeps a log")
        return None
    except Exception as exc:  # a foreign error's text may hold a secret: name its type only
        report.fail(internal_error(exc, "making a credential"), REPORT_IT)
        return None
    took = time.monotonic() - start
    until = f", valid until {_when(token.expires_at)}" if token.expires_at else ""
    report.ok(f"credential: made one now for user {token.username}{until} ({took:.1f}s)")
    return token


def check_registry_access(
    report: Report,
    resolver: Resolver,
    registry: Registry,
    token: Token,
    settings: dict,
    insecure: Sequence[str],
) -> None:
    """Log in to the registry with the credential and look for the truss's base image."""
    from docker_credential_truss import registrycheck

    image = settings.get("image")
    try:
        findings = registrycheck.check(
            registry, token.username, token.secret, image, resolver.env, insecure
        )
    except Exception as exc:  # a foreign error's text may hold a secret: name its type only
        report.fail(internal_error(exc, "checking the registry"), REPORT_IT)
        return
    for finding in findings:
        if finding.kind == "ok":
            report.ok(finding.text)
        elif finding.kind == "fail":
            report.fail(finding.text, finding.fix)
        else:
            report.note(finding.text)
    if not image:
        report.note("image: none recorded (configure records the truss's base_image.image)")


def check_cache(report: Report, plan: Preparation, paths: Paths, entries: list[dict]) -> None:
    """Whether get would answer from the cache, the freshest token, and a count of the
    rest: one per old identity (a rotated key, a switched role) can pile up, and a line
    each would bury the report."""
    mine = [e for e in entries if e["registry"] == plan.registry.key]
    if not mine:
        report.note("token cache: nothing cached")
        return
    now = time.time()
    if plan.identity is not None:
        hit = plan.cached(TokenCache(paths.token_cache), now)
        report.note(
            "token cache: get answers from it for this identity"
            if hit is not None
            else "token cache: nothing fresh for this identity; the next get mints"
        )
    best = max(mine, key=lambda e: e["expires_at"])
    expires, minted = best["expires_at"], best["minted_at"]
    if is_fresh(expires, minted, now):
        state = f"fresh, {_span(expires - now)} left"
    elif now < expires:
        state = "nearly expired: the next get mints a new one"
    else:
        state = "expired: the next get mints a new one"
    report.note(f"token cache: a token valid until {_when(expires)} ({state})")
    fresh = sum(1 for e in mine if e is not best and is_fresh(e["expires_at"], e["minted_at"], now))
    stale = len(mine) - 1 - fresh
    if fresh:
        s = "s" if fresh > 1 else ""
        report.note(f"token cache: {fresh} more fresh token{s} for other identities")
    if stale:
        s, are = ("s", "are") if stale > 1 else ("", "is")
        report.note(
            f"token cache: {stale} stale token{s} of other or earlier identities"
            f" (expired or nearly); expired ones {are} removed as the cache is written"
        )


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def _span(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"
