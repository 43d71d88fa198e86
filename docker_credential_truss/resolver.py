"""Registry -> auth method -> provider -> (cache | mint) -> credential.

Which method applies, in order:

1. the helper's config (written by ``configure`` from a truss config) names one;
2. a secret ``DOCKER_REGISTRY_<registry key>`` exists: REGISTRY_SECRET;
3. the registry is an ECR host and truss's default AWS secrets exist: AWS_IAM;
4. otherwise the registry is unknown and the answer is "not found", so docker pulls
   anonymously.

Provider modules are imported only when their method applies, and their SDKs only
when they mint, so a static or cached answer loads neither boto3 nor google-auth.
"""

from __future__ import annotations

import sys
import time

from docker_credential_truss import config, debuglog
from docker_credential_truss.errors import HelperError, NotFound
from docker_credential_truss.minting import mint_within, minted
from docker_credential_truss.registry import SECRET_PREFIX, InvalidRegistry, parse
from docker_credential_truss.secrets import Secrets

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from types import ModuleType

    from docker_credential_truss.minting import Token
    from docker_credential_truss.paths import Paths
    from docker_credential_truss.providers import Provider
    from docker_credential_truss.registry import Registry

# auth method -> provider module under docker_credential_truss.providers
MODULES = {
    "REGISTRY_SECRET": "static",
    "AWS_IAM": "aws",
    "AWS_OIDC": "aws",
    "AWS_ASSUME_ROLE": "aws",
    "GCP_SERVICE_ACCOUNT_JSON": "gcp",
    "GCP_OIDC": "gcp",
}


class Resolver:
    def __init__(
        self, env: Mapping[str, str], paths: Paths, warn: Callable[[str], None] | None = None
    ) -> None:
        self.env = env
        self.paths = paths
        self.warn = warn
        self.secrets = Secrets(env, paths)
        self._config: dict[str, dict[str, str]] | None = None

    @property
    def config(self) -> dict[str, dict[str, str]]:
        if self._config is None:
            self._config = config.load(self.paths)
        return self._config

    def method(self, registry: Registry) -> tuple[str, dict[str, str], str] | None:
        """(auth method, settings, why) for ``registry``, or None when nothing applies."""
        entry = self.config.get(registry.key)
        if entry is not None:
            why = f"configured from {entry.get('source', 'the helper config')}"
            return entry["auth_method"], entry, why
        if self.secrets.find(registry.secret_name) is not None:
            return "REGISTRY_SECRET", {}, f"secret {registry.secret_name} exists"
        return self.convention(registry)

    def convention(self, registry: Registry) -> tuple[str, dict[str, str], str] | None:
        """The method an unconfigured registry without its own secret still gets."""
        if _provider_module("AWS_IAM").by_convention(registry, self.secrets, self.env):
            return "AWS_IAM", {}, "an ECR host, and truss's default AWS secrets exist"
        return None

    def provider(self, registry: Registry) -> Provider:
        found = self.method(registry)
        if found is None:
            debuglog.debug("%s: no auth method applies", registry.key)
            raise NotFound()
        method, settings, why = found
        debuglog.debug("%s: auth method %s (%s)", registry.key, method, why)
        return _provider_module(method).make(registry, method, settings, self.secrets, self.env)

    def get(self, registry: Registry) -> Token:
        debuglog.debug("get %s", registry.key)
        provider = self.provider(registry)
        if not provider.cacheable:
            # A decoded secret: no network to bound, nothing that expires to cache.
            token = minted(provider)
            debuglog.debug("%s: made from the secret (not cached)", registry.key)
            return token
        took: list[float] = []

        def mint() -> Token:
            start = time.monotonic()
            token = mint_within(provider, registry.key, self.env)
            took.append(time.monotonic() - start)
            return token

        from docker_credential_truss.cache import TokenCache, failure_ttl

        cache = TokenCache(
            self.paths.token_cache, failure_ttl=failure_ttl(self.env), warn=self.warn
        )
        identity = provider.identity()  # reads the secrets the mint will use
        # A remembered failure is kept only for the same inputs: the secrets read, and
        # what else the provider mints from (an OIDC method's CI token), so a fixed secret
        # or a rewritten token file is tried at once.
        more = getattr(provider, "inputs", None)
        inputs = "\0".join([*self.secrets.read, more() if more is not None else ""])
        token = cache.fetch(registry.key, identity, mint, inputs=inputs)
        if took:
            debuglog.debug("%s: cache miss; minted in %.3fs", registry.key, took[0])
        else:
            debuglog.redact(token.secret)  # the cache's token enters the process here
            debuglog.debug("%s: cache hit (expires at %s)", registry.key, token.expires_at)
        return token

    def registries(self) -> tuple[dict[str, str], list[str]]:
        """Every registry ``get`` can answer -> its user name, and why others were left out.

        Nothing is minted: cloud providers know their user name in advance. A registry
        is named only when every input its ``get`` needs is there: ``identity()`` reads
        the secrets a cloud method needs (without touching the network).
        """
        answers: dict[str, str] = {}
        problems: list[str] = []
        keys = dict.fromkeys(self.config)  # ordered, with O(1) membership: list stays linear
        for name in self.secrets.names(SECRET_PREFIX):
            try:
                registry = parse(name[len(SECRET_PREFIX) :])
            except InvalidRegistry:
                continue
            if registry.secret_name == name:
                keys.setdefault(registry.key)
        start = time.monotonic()
        with debuglog.quiet():  # one summary line, not several per registry
            for key in keys:
                try:
                    provider = self.provider(parse(key))
                    provider.identity()
                    answers[key] = provider.username
                except (HelperError, InvalidRegistry) as exc:
                    problems.append(f"{key}: {exc}")
        debuglog.debug(
            "list: %d registries answered, %d left out, in %.3fs",
            len(answers),
            len(problems),
            time.monotonic() - start,
        )
        for problem in problems:  # the few a person needs to read, each with its reason
            debuglog.debug("left out of list: %s", problem)
        return answers, problems


def config_problem(registry: Registry, method: str, settings: Mapping[str, str]) -> str | None:
    """Why ``method`` with ``settings`` cannot serve ``registry``, judged from config alone.

    The same checks ``get`` makes before it reads a secret or touches the network, so
    ``configure`` can warn and ``doctor --offline`` can fail where ``get`` would refuse.
    """
    return _provider_module(method).check(registry, method, settings)


def _provider_module(method: str) -> ModuleType:
    """Imported on first use, so a registry pays only for its own provider.

    With ``__import__`` rather than ``importlib.import_module``: importing the
    ``importlib`` package (and the ``warnings`` it pulls in) costs ~0.7 ms of every get.
    """
    name = f"docker_credential_truss.providers.{MODULES[method]}"
    __import__(name)
    return sys.modules[name]
