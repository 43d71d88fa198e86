"""Where the helper's files live.

platformdirs decides, for the app name ``docker-credential-truss``. Importing it
costs as much again as the interpreter's own start-up here, and ``get`` runs once
per registry per build, so on Linux the same XDG rules are applied directly and a
test (tests/test_paths.py) checks they agree with platformdirs for every variable.
Other systems ask platformdirs.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Mapping

APP = "docker-credential-truss"


class Paths:
    """Every location the helper reads or writes, fixed once so tests can pass their own."""

    __slots__ = ("cache_dir", "config_dir", "data_dir", "docker_config", "log_dir", "truss_config")

    def __init__(
        self,
        *,
        config_dir: str,
        data_dir: str,
        cache_dir: str,
        log_dir: str,
        truss_config: str,
        docker_config: str,
    ) -> None:
        self.config_dir = config_dir
        self.data_dir = data_dir
        self.cache_dir = cache_dir
        self.log_dir = log_dir
        self.truss_config = truss_config
        self.docker_config = docker_config

    @property
    def helper_config(self) -> str:
        """The registry -> auth method map written by ``configure``."""
        return os.path.join(self.config_dir, "config.json")

    @property
    def store(self) -> str:
        """The helper's own secret store (``docker login`` writes here)."""
        return os.path.join(self.data_dir, "secrets.json")

    @property
    def token_cache(self) -> str:
        return os.path.join(self.cache_dir, "tokens")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Paths:
        env = os.environ if env is None else env
        home = env.get("HOME") or os.path.expanduser("~")
        if sys.platform.startswith("linux"):
            dirs = xdg_dirs(env, home)
        else:  # pragma: no cover - exercised on macOS and Windows only
            dirs = _platformdirs()
        docker_dir = env.get("DOCKER_CONFIG") or os.path.join(home, ".docker")
        return cls(
            **dirs,
            truss_config=os.path.join(home, ".truss", "config.yaml"),
            docker_config=os.path.join(docker_dir, "config.json"),
        )


def xdg_dirs(env: Mapping[str, str], home: str) -> dict[str, str]:
    """platformdirs' Unix rules: an XDG variable counts unless empty or blank."""

    def base(var: str, default: str) -> str:
        value = env.get(var, "").strip()
        return value if value else os.path.join(home, default)

    state = os.path.join(base("XDG_STATE_HOME", ".local/state"), APP)
    return {
        "config_dir": os.path.join(base("XDG_CONFIG_HOME", ".config"), APP),
        "data_dir": os.path.join(base("XDG_DATA_HOME", ".local/share"), APP),
        "cache_dir": os.path.join(base("XDG_CACHE_HOME", ".cache"), APP),
        "log_dir": os.path.join(state, "log"),
    }


def _platformdirs() -> dict[str, str]:  # pragma: no cover - non-Linux
    import platformdirs

    dirs = platformdirs.PlatformDirs(APP, appauthor=False)
    return {
        "config_dir": dirs.user_config_dir,
        "data_dir": dirs.user_data_dir,
        "cache_dir": dirs.user_cache_dir,
        "log_dir": dirs.user_log_dir,
    }
