"""Where secrets come from, in the documented order, and the helper's own store.

1. the environment variable ``TRUSS_SECRET_<name>`` (the name exactly as truss spells it);
2. a file ``<name>`` in the directory ``$TRUSS_SECRETS_DIR`` (truss containers mount
   ``/secrets`` like this). Secret names may contain ``/`` (Docker Hub's does), which a
   file name cannot, so in file names ``%`` is written ``%25`` and ``/`` is ``%2F``;
   one trailing newline is ignored;
3. the ``secrets:`` map in ``~/.truss/config.yaml``, truss's local secret store;
4. the helper's own store, ``secrets.json`` in its user data directory, which
   ``docker login`` fills through ``store``.

The first source that has a non-empty value wins. Values are never logged or put in
messages; messages name the secret and the place instead.
"""

from __future__ import annotations

import os

from docker_credential_truss import debuglog, files
from docker_credential_truss.errors import ConfigError, SecretError, StoreError

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from docker_credential_truss.paths import Paths

ENV_PREFIX = "TRUSS_SECRET_"
DIR_VARIABLE = "TRUSS_SECRETS_DIR"
STORE_VERSION = 1


class Found:
    """A secret's value and a description of where it was found (for messages)."""

    __slots__ = ("source", "value")

    def __init__(self, value: str, source: str) -> None:
        self.value = value
        self.source = source

    def __repr__(self) -> str:  # never show the value
        return f"Found(source={self.source!r})"


def file_name(name: str) -> str:
    """The file that holds secret ``name`` in a secrets directory (an injective mapping)."""
    return name.replace("%", "%25").replace("/", "%2F")


def name_from_file(file: str) -> str:
    return file.replace("%2F", "/").replace("%25", "%")


class Secrets:
    """The secret sources for one run. Each source is read at most once, when first needed."""

    def __init__(self, env: Mapping[str, str], paths: Paths) -> None:
        self.env = env
        self.paths = paths
        self._truss: dict[str, str] | None = None
        self._store: dict[str, str] | None = None
        self._files: dict[str, str | SecretError | None] = {}
        self._found: dict[str, Found | None] = {}
        #: Every value handed out this run, in order: what a mint was made from.
        self.read: list[str] = []

    # -- lookups ----------------------------------------------------------------------

    def find(self, name: str) -> Found | None:
        """The secret, looked up once per run (``list`` asks twice for each registry)."""
        if name in self._found:
            return self._found[name]
        found = self._found[name] = self._find(name)
        if found is not None:
            debuglog.redact(found.value)  # a value enters: whatever happens next, no log shows it
            self.read.append(found.value)
            debuglog.debug("secret %s: found in %s", name, found.source)
        return found

    def _find(self, name: str) -> Found | None:
        found = self.find_outside_store(name)
        if found is not None:
            return found
        value = self.stored().get(name)
        if value:
            return Found(value, f"the helper's store {self.paths.store}")
        return None

    def find_outside_store(self, name: str) -> Found | None:
        """The secret from a source the helper never edits, which the store cannot override."""
        value = self.env.get(ENV_PREFIX + name)
        if value:
            return Found(value, f"environment variable {ENV_PREFIX}{name}")
        directory = self.env.get(DIR_VARIABLE)
        if directory:
            path = os.path.join(directory, file_name(name))
            value = self._secret_file(path)
            if value:
                return Found(value, path)
        value = self.truss_secrets().get(name)
        if value:
            return Found(value, self.paths.truss_config)
        return None

    def require(self, name: str, purpose: str, fix: str = "set it in one of them") -> Found:
        """The secret, or an error that says which one, every place looked, and the fix."""
        found = self.find(name)
        if found is None:
            raise SecretError(
                f"secret {name!r} ({purpose}) not found; looked in {self.places(name)}; {fix}"
            )
        return found

    def places(self, name: str) -> str:
        where = [f"${ENV_PREFIX}{name}"]
        directory = self.env.get(DIR_VARIABLE)
        where.append(
            os.path.join(directory, file_name(name)) if directory else f"${DIR_VARIABLE} (unset)"
        )
        where += [f"{self.paths.truss_config} (secrets:)", self.paths.store]
        return ", ".join(where)

    def names(self, prefix: str) -> dict[str, str]:
        """Every secret name starting with ``prefix`` -> where its value comes from."""
        found: dict[str, str] = {}

        def add(name: str, source: str) -> None:
            if name.startswith(prefix) and name not in found:
                found[name] = source

        for var, value in self.env.items():
            if var.startswith(ENV_PREFIX) and value:
                add(var[len(ENV_PREFIX) :], f"environment variable {var}")
        directory = self.env.get(DIR_VARIABLE)
        if directory:
            try:
                entries = sorted(os.listdir(directory))
            except OSError:
                entries = []
            for entry in entries:
                name, path = name_from_file(entry), os.path.join(directory, entry)
                if entry.startswith(".") or not name.startswith(prefix):
                    continue
                try:
                    if not self._secret_file(path):
                        continue
                except SecretError:
                    pass  # listed all the same: using it reports the problem for this name only
                add(name, path)
        for name, value in self.truss_secrets().items():
            if value:
                add(name, self.paths.truss_config)
        for name, value in self.stored().items():
            if value:
                add(name, f"the helper's store {self.paths.store}")
        return found

    def _secret_file(self, path: str) -> str | None:
        """A secrets-directory file's value, read once per run (``list`` looks twice)."""
        if path not in self._files:
            try:
                self._files[path] = _read_secret_file(path)
            except SecretError as exc:
                self._files[path] = exc
        found = self._files[path]
        if isinstance(found, SecretError):
            raise SecretError(found.message)
        return found

    # -- ~/.truss/config.yaml ------------------------------------------------------------

    def truss_secrets(self) -> dict[str, str]:
        if self._truss is None:
            self._truss = read_truss_secrets(self.paths.truss_config)
        return self._truss

    # -- the helper's own store ------------------------------------------------------

    def stored(self) -> dict[str, str]:
        if self._store is None:
            self._store = _store_secrets(files.read_json(self.paths.store), self.paths.store)
        return self._store

    def store(self, name: str, value: str) -> None:
        """Save ``name`` in the helper's store (locked, atomic, 0600)."""
        debuglog.redact(value)  # docker login's secret enters the process here

        def change(data: dict) -> None:
            _store_secrets(data, self.paths.store)
            data["version"] = STORE_VERSION
            data.setdefault("secrets", {})[name] = value

        self._store = None
        self._found.clear()
        self._update_store(change, f"cannot save {name} in the helper's store")

    def _update_store(self, change: Callable[[dict], None], doing: str) -> None:
        """Edit the store; a store that cannot be written (read-only, full, another
        owner) fails in one line, and what it held stays as it was (atomic writes)."""
        try:
            files.update_json(self.paths.store, change)
        except StoreError as exc:
            raise StoreError(
                f"{doing}: {exc.message}; what it held is unchanged (its directory"
                f" {self.paths.data_dir} must be writable; XDG_DATA_HOME moves it)"
            ) from None

    def erase(self, name: str) -> bool:
        """Remove ``name`` from the helper's store; whether it was there."""
        removed = False

        def change(data: dict) -> None:
            nonlocal removed
            secrets = _store_secrets(data, self.paths.store)
            if name in secrets:
                del data["secrets"][name]
                removed = True

        if name in self.stored():
            self._store = None
            self._found.clear()
            self._update_store(change, f"cannot remove {name} from the helper's store")
        self._store = None
        self._found.clear()
        return removed


def _read_secret_file(path: str) -> str | None:
    try:
        value = files.read_text(path)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    except OSError as exc:
        raise SecretError(f"cannot read secret file {path}: {files.reason(exc)}") from None
    # read_text reads "\r\n" and "\r" as "\n", so one check covers every line end.
    return value[:-1] if value.endswith("\n") else value


def _store_secrets(data: dict | None, path: str) -> dict[str, str]:
    if data is None:
        return {}
    secrets = data.get("secrets", {})
    if not isinstance(secrets, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in secrets.items()
    ):
        raise StoreError(f"{path} is not a docker-credential-truss store; move it aside")
    return secrets


def read_truss_secrets(path: str) -> dict[str, str]:
    """The ``secrets:`` map of truss's user config; a missing file is an empty map.

    YAML errors are reported by position only: the offending line could be a secret.
    """
    try:
        text = files.read_text(path)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {files.reason(exc)}") from None
    from docker_credential_truss import yamlsubset

    data = yamlsubset.parse(text, path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} should be a YAML mapping with a 'secrets:' map")
    secrets = data.get("secrets")
    if secrets is None:
        return {}
    if not isinstance(secrets, dict):
        raise ConfigError(f"'secrets' in {path} should be a map of name: value")
    result: dict[str, str] = {}
    for name, value in secrets.items():
        if value is None:
            continue  # truss's placeholder for "set elsewhere"
        if isinstance(value, (dict, list)):
            raise ConfigError(f"secret {name!r} in {path} should be a string")
        result[str(name)] = value if isinstance(value, str) else str(value)
    return result
