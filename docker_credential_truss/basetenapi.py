"""The Baseten REST API as truss reaches it: which API key, which base URL, two calls.

The key is the one ``truss push`` would use (truss 0.18.36, ``remote_factory.py``,
``remote.py``, ``auth.py``, ``api.py``):

1. ``BASETEN_TRUSS_AUTH_REMOTE_URL`` with ``BASETEN_TRUSS_AUTH_API_KEY`` define a remote
   outright, bypassing ``~/.trussrc``; the key is sent as ``Bearer``. One without the
   other is an error, as in truss.
2. Otherwise a remote of ``~/.trussrc`` (``$USER_TRUSSRC_PATH`` overrides the path): the
   one named by ``--remote``, else the only one. Its ``api_key`` is sent as
   ``Api-Key``; a remote without one falls back to ``BASETEN_API_KEY``, as truss's
   ``BasetenRemote`` does. A remote whose key lives in the system keyring or in an
   OAuth session (``auth_type``) is not read: the error says which variable to set.
3. With no ``~/.trussrc`` remote at all, ``BASETEN_API_KEY`` against
   ``https://app.baseten.co``.

The REST base is truss's mapping of ``remote_url`` (``https://app.baseten.co`` ->
``https://api.baseten.co``; an unknown URL -> ``https://api.baseten.co``, as truss
does), unless ``DOCKER_CREDENTIAL_TRUSS_BASETEN_API_URL`` names another (tests, private
deployments). The key and secret values travel only over https: a plain ``http://``
base is refused unless its host is loopback (truss's own ``http://localhost:8000``
mapping), as ``doctor`` refuses a plain-http token realm. The key is registered for log
redaction and never printed: messages name where it came from instead. Answers are read
with a bound on their size and JSON nesting (``webclient``).
"""

from __future__ import annotations

import json
import os
import urllib.parse

from docker_credential_truss import debuglog, files, proxies, webclient
from docker_credential_truss.errors import HelperError, safe_code
from docker_credential_truss.minting import run_within

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

REMOTE_URL_ENV = "BASETEN_TRUSS_AUTH_REMOTE_URL"
API_KEY_ENV = "BASETEN_TRUSS_AUTH_API_KEY"
PLAIN_KEY_ENV = "BASETEN_API_KEY"
TRUSSRC_ENV = "USER_TRUSSRC_PATH"
API_URL_ENV = "DOCKER_CREDENTIAL_TRUSS_BASETEN_API_URL"
DEFAULT_REMOTE_URL = "https://app.baseten.co"
DEFAULT_API_URL = "https://api.baseten.co"
#: truss's API_URL_MAPPING (truss/remote/baseten/api.py).
API_URLS = {
    "https://app.baseten.co": "https://api.baseten.co",
    "https://app.staging.baseten.co": "https://api.staging.baseten.co",
    "https://app.dev.baseten.co": "https://api.mc-dev.baseten.co",
    "http://localhost:8000": "http://api.localhost:8000",
}
MAX_BODY = 4 << 20


class BasetenError(HelperError):
    """The Baseten API could not be asked, or its answer cannot be used."""


class ApiKey:
    """An API key, how it is sent, where it came from, and the REST base it is for."""

    __slots__ = ("api_url", "remote_url", "scheme", "source", "value")

    def __init__(self, value: str, scheme: str, source: str, remote_url: str, api_url: str):
        self.value = value
        self.scheme = scheme
        self.source = source
        self.remote_url = remote_url
        self.api_url = api_url
        debuglog.redact(value)

    def __repr__(self) -> str:  # never show the key
        return f"ApiKey(scheme={self.scheme!r}, source={self.source!r})"


def trussrc_path(env: Mapping[str, str]) -> str:
    path = env.get(TRUSSRC_ENV) or "~/.trussrc"
    if path.startswith("~"):
        home = env.get("HOME") or os.path.expanduser("~")
        path = home + path[1:]
    return path


def api_url_for(remote_url: str, env: Mapping[str, str]) -> str:
    override = env.get(API_URL_ENV, "").strip()
    if override:
        return override.rstrip("/")
    return API_URLS.get(remote_url.strip("/"), DEFAULT_API_URL)


def find_key(env: Mapping[str, str], remote: str | None = None) -> ApiKey:
    """The key truss would use, or an error naming every place looked."""
    url, key = env.get(REMOTE_URL_ENV), env.get(API_KEY_ENV)
    if url or key:
        if not (url and key):
            present, missing = (
                (REMOTE_URL_ENV, API_KEY_ENV) if url else (API_KEY_ENV, REMOTE_URL_ENV)
            )
            raise BasetenError(f"{present} is set but {missing} is not; set both or neither")
        if remote:
            raise BasetenError(
                f"--remote {remote} cannot be used: {REMOTE_URL_ENV} and {API_KEY_ENV} are set,"
                " and truss gives them precedence; unset them to pick a ~/.trussrc remote"
            )
        source = f"${API_KEY_ENV} (with ${REMOTE_URL_ENV})"
        return ApiKey(key, "Bearer", source, url, api_url_for(url, env))
    path = trussrc_path(env)
    sections, why = _remotes(path)
    plain = env.get(PLAIN_KEY_ENV)
    if remote is not None and remote not in sections:
        names = ", ".join(sections)  # not empty: then `why` says why there are none
        raise BasetenError(f"no remote {remote!r} in {path} ({why or f'remotes: {names}'})")
    if remote is None and len(sections) > 1:
        raise BasetenError(
            f"{path} has several remotes ({', '.join(sections)}); pick one with --remote NAME"
        )
    if not sections:
        if plain:
            return ApiKey(
                plain,
                "Api-Key",
                f"${PLAIN_KEY_ENV} (no remote in {path}: {DEFAULT_REMOTE_URL})",
                DEFAULT_REMOTE_URL,
                api_url_for(DEFAULT_REMOTE_URL, env),
            )
        raise BasetenError(
            f"no Baseten API key: looked in ${REMOTE_URL_ENV} with ${API_KEY_ENV} (unset),"
            f" ${PLAIN_KEY_ENV} (unset), {path} ({why}); set {PLAIN_KEY_ENV}, or run truss login"
        )
    name = remote or next(iter(sections))
    section = sections[name]
    remote_url = section.get("remote_url", "").strip()
    if not remote_url:
        raise BasetenError(f"remote {name!r} in {path} has no remote_url")
    where = f"remote {name!r} in {path}"
    if section.get("api_key"):
        return ApiKey(
            section["api_key"],
            "Api-Key",
            f"api_key of {where}",
            remote_url,
            api_url_for(remote_url, env),
        )
    if plain:
        source = f"${PLAIN_KEY_ENV} ({where} has no api_key)"
        return ApiKey(plain, "Api-Key", source, remote_url, api_url_for(remote_url, env))
    kind = section.get("auth_type")
    if kind or section.get("oauth_access_token"):
        store = "an OAuth session" if kind == "oauth" or not kind else "the system keyring"
        raise BasetenError(
            f"{where} keeps its credential in {store}, which this helper does not read;"
            f" set {PLAIN_KEY_ENV} to an API key of that workspace (or {REMOTE_URL_ENV}"
            f" and {API_KEY_ENV})"
        )
    raise BasetenError(
        f"no Baseten API key: {where} has no api_key and ${PLAIN_KEY_ENV} is unset"
        f" (${REMOTE_URL_ENV} with ${API_KEY_ENV} unset too); set {PLAIN_KEY_ENV}"
    )


def _remotes(path: str) -> tuple[dict[str, dict[str, str]], str]:
    """The sections of ~/.trussrc, and why there are none when there are none."""
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(files.read_text(path))  # its error text is never shown
    except FileNotFoundError:
        return {}, "no such file"
    except OSError as exc:
        return {}, f"cannot read it: {files.reason(exc)}"
    except configparser.Error:
        # Its message quotes the line, which may hold a key: say where only.
        raise BasetenError(f"{path} is not a valid INI file") from None
    sections = {name: dict(parser[name]) for name in parser.sections()}
    return sections, "" if sections else "no remote in it"


class Client:
    """``GET`` and ``POST`` of the secrets routes, each bounded and in one safe line."""

    def __init__(self, key: ApiKey, env: Mapping[str, str], team: str | None = None) -> None:
        self.key = key
        self.env = env
        self.team = team
        self.web = webclient.Client(env, MAX_BODY)
        self.path = (
            f"/v1/teams/{urllib.parse.quote(team, safe='')}/secrets" if team else "/v1/secrets"
        )

    def secret_names(self) -> list[str]:
        data = self._call("GET", None)
        secrets = data.get("secrets") if isinstance(data, dict) else None
        if not isinstance(secrets, list) or not all(
            isinstance(s, dict) and isinstance(s.get("name"), str) for s in secrets
        ):
            raise BasetenError(
                f"Baseten's answer to GET {self.path} is not the expected"
                ' {"secrets": [{"name": ...}]}'
            )
        return [s["name"] for s in secrets]

    def upsert(self, name: str, value: str) -> None:
        self._call("POST", {"name": name, "value": value})

    def _call(self, method: str, body: dict | None) -> object:
        return run_within(
            lambda: self._send(method, body), f"Baseten {method} {self.path}", self.env, "no answer"
        )

    def _send(self, method: str, body: dict | None) -> object:
        url = self.key.api_url + self.path
        if not url.startswith(("https://", "http://")):
            raise BasetenError(f"the Baseten API URL {self.key.api_url!r} is not http(s)")
        host = urllib.parse.urlsplit(url).hostname or ""
        if url.startswith("http://") and not proxies.is_loopback(host):
            raise BasetenError(
                f"the Baseten API URL {self.key.api_url} is plain http; the API key and"
                f" secret values are sent over https only (or to loopback); correct {API_URL_ENV}"
            )
        data = json.dumps(body).encode() if body is not None else None
        headers = {
            "Authorization": f"{self.key.scheme} {self.key.value}",
            "Accept": "application/json",
        }
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            answer = self.web.send(method, url, headers=headers, data=data)
        except webclient.Unreachable as exc:
            raise BasetenError(
                f"cannot reach Baseten at {self.key.api_url}: {exc.reason}"
            ) from None
        raw = answer.body
        if not 200 <= answer.status < 300:
            code = _error_code(raw)
            status = f"HTTP {answer.status}" + (f" {code}" if code else "")
            if answer.status in (401, 403):
                raise BasetenError(
                    f"Baseten refused the API key from {self.key.source} ({status} for"
                    f" {method} {self.path}); check it, or make a new one in"
                    f" {self.key.remote_url.rstrip('/')}/settings/api_keys"
                )
            raise BasetenError(f"Baseten answered {method} {self.path} with {status}")
        try:
            return webclient.parse_json(raw) if raw.strip() else {}
        except ValueError:
            raise BasetenError(
                f"Baseten's answer to {method} {self.path} is not JSON"
                f" (is {self.key.api_url} the Baseten API?)"
            ) from None


def _error_code(raw: bytes) -> str:
    try:
        data = webclient.parse_json(raw)
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    for field in ("code", "error"):
        code = safe_code(data.get(field))
        if code:
            return code
    return ""
