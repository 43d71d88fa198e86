"""Registry -> auth method -> provider -> (cache | mint) -> credential.

Which method applies, in order (:meth:`Resolver.choose`):

1. the helper's config (written by ``configure`` from a truss config) names one;
2. a secret ``DOCKER_REGISTRY_<registry key>`` exists: the registry-secret method;
3. a method's provider claims the host by convention (an ECR host when truss's
   default AWS secrets exist; see ``convention`` in :mod:`authmethods`);
4. otherwise the registry is unknown and the answer is "not found", so docker pulls
   anonymously.

Provider modules are imported only when their method applies, and their SDKs only
when they mint, so a static or cached answer loads neither boto3 nor google-auth.
"""

from __future__ import annotations

import sys
import time

from docker_credential_truss import config, debuglog
from docker_credential_truss.authmethods import METHODS, OWN_SECRET
from docker_credential_truss.errors import HelperError, NotFound
from docker_credential_truss.minting import mint_within, minted
from docker_credential_truss.providers import Spec
from docker_credential_truss.registry import SECRET_PREFIX, InvalidRegistry, parse
from docker_credential_truss.secrets import Secrets

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from types import ModuleType

    from docker_credential_truss.authmethods import Secret
    from docker_credential_truss.cache import TokenCache
    from docker_credential_truss.minting import Token
    from docker_credential_truss.paths import Paths
    from docker_credential_truss.providers import Provider
    from docker_credential_truss.registry import Registry


class Choice:
    """The auth method for a registry, its settings (the helper config's entry, or none
    when the method was inferred) and why it applies, in words for doctor and the log."""

    __slots__ = ("method", "settings", "why")

    def __init__(self, method: str, settings: dict[str, str], why: str) -> None:
        self.method = method
        self.settings = settings
        self.why = why


class Preparation:
    """Everything ``get`` does for a registry before the network, as data.

    ``choice``: the method, or None when nothing applies (get: "not found", silently);
    ``provider``: made from the settings and the secrets it reads; ``identity``: the
    token cache's identity for a cacheable provider (all a mint is checked for before
    the network); ``problem``: the error that stops get at one of these steps.
    ``get`` goes on to the cache or a mint; ``doctor`` reports each step and mints.
    """

    __slots__ = ("choice", "identity", "problem", "provider", "registry")

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.choice: Choice | None = None
        self.provider: Provider | None = None
        self.identity: tuple[str, ...] | None = None
        self.problem: HelperError | None = None

    def secrets(self) -> dict[str, Secret]:
        """The secrets the chosen method reads, by the names ``get`` reads them under."""
        if self.choice is None:
            return {}
        settings = self.choice.settings
        return {
            secret.name(settings, self.registry.secret_name): secret
            for secret in METHODS[self.choice.method].secrets
        }

    def cached(self, cache: TokenCache, now: float) -> Token | None:
        """The token ``get`` would answer from ``cache`` at ``now``; None: it would mint."""
        if self.identity is None:
            return None
        token = cache.get(self.registry.key, self.identity, now)
        if token is not None:
            debuglog.redact(token.secret)  # the cache's token enters the process here
        return token

    def ready(self) -> Provider:
        """The provider, or what stops ``get``: the problem, or NotFound when no method applies."""
        if self.problem is not None:
            raise self.problem
        if self.provider is None:
            raise NotFound()
        return self.provider


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

    def choose(self, registry: Registry) -> Choice | None:
        """The auth method for ``registry``, or None when nothing applies."""
        entry = self.config.get(registry.key)
        if entry is not None:
            why = f"configured from {entry.get('source', 'the helper config')}"
            return Choice(entry["auth_method"], entry, why)
        if self.secrets.find(registry.secret_name) is not None:
            return Choice(OWN_SECRET, {}, f"secret {registry.secret_name} exists")
        return self.convention(registry)

    def convention(self, registry: Registry) -> Choice | None:
        """The method an unconfigured registry without its own secret still gets."""
        for method in METHODS.values():
            if method.convention and _provider_module(method.name).by_convention(
                registry, self.secrets, self.env
            ):
                return Choice(method.name, {}, method.convention)
        return None

    def prepare(self, registry: Registry) -> Preparation:
        """Choose the method, make its provider and read its cache identity: every step
        ``get`` takes before the cache and the network, shared by get, list and doctor."""
        plan = Preparation(registry)
        try:
            plan.choice = choice = self.choose(registry)
            if choice is None:
                debuglog.debug("%s: no auth method applies", registry.key)
                return plan
            debuglog.debug("%s: auth method %s (%s)", registry.key, choice.method, choice.why)
            spec = Spec(registry, choice.method, choice.settings, self.secrets, self.env)
            plan.provider = _provider_module(choice.method).make(spec)
            if plan.provider.cacheable:
                plan.identity = plan.provider.identity()  # reads the secrets the mint will use
        except HelperError as exc:
            plan.problem = exc
        return plan

    def get(self, registry: Registry) -> Token:
        debuglog.debug("get %s", registry.key)
        plan = self.prepare(registry)
        provider = plan.ready()
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
        # A remembered failure is kept only for the same inputs: the secrets read, and
        # what else the provider mints from (an OIDC method's CI token), so a fixed secret
        # or a rewritten token file is tried at once.
        more = getattr(provider, "inputs", None)
        inputs = "\0".join([*self.secrets.read, more() if more is not None else ""])
        assert plan.identity is not None  # prepare() read it: the provider is cacheable
        token = cache.fetch(registry.key, plan.identity, mint, inputs=inputs)
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
                    answers[key] = self.prepare(parse(key)).ready().username
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


def unusable(key: str, entry: Mapping[str, str]) -> str | None:
    """Why a configuration truss accepts cannot work for registry ``key`` here, or None.

    Judged from config alone, so ``configure`` warns with it and ``doctor`` fails with
    it: the registry must be the host docker will ask for (``image_registry``, recorded
    when ``registry`` is not the host of ``base_image.image``), and the method's provider
    must be able to serve it (the checks ``get`` makes before it reads a secret).
    """
    image_key = entry.get("image_registry")
    if image_key is not None and image_key != key:
        return (
            f"{key}: registry is not the host of base_image.image ({image_key}), which is"
            f" the host docker will ask for; set registry: {image_key} (or leave it empty)"
            " and configure again"
        )
    method = entry["auth_method"]
    return _provider_module(method).check(parse(key), method, entry)


def _provider_module(method: str) -> ModuleType:
    """The method's provider module, imported on first use, so a registry pays only for
    its own provider.

    With ``__import__`` rather than ``importlib.import_module``: importing the
    ``importlib`` package (and the ``warnings`` it pulls in) costs ~0.7 ms of every get.
    """
    name = f"docker_credential_truss.providers.{METHODS[method].provider}"
    __import__(name)
    return sys.modules[name]
