"""Which directories the helper uses: HOME when the environment gives none, the
process's own environment by default, and platformdirs' layout on macOS and Windows.

platformdirs' macOS and Windows classes are plain path arithmetic, so they run here;
Windows' folders come from platformdirs' own ``WIN_PD_OVERRIDE_*`` variables.
"""

import os
import sys

import platformdirs
import platformdirs.macos
import platformdirs.windows
import pytest

from docker_credential_truss import paths
from docker_credential_truss.paths import APP, Paths

LOCAL = "C:\\Users\\me\\AppData\\Local"


def _xdg_free(monkeypatch, home):
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(home))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG rules")
def test_without_an_environment_given_the_process_environment_decides(monkeypatch, tmp_path):
    _xdg_free(monkeypatch, tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xc"))
    found = Paths.from_env()
    assert found.config_dir == f"{tmp_path}/.config/{APP}"
    assert found.token_cache == f"{tmp_path}/xc/{APP}/tokens"
    assert found.log_dir == f"{tmp_path}/.local/state/{APP}/log"
    assert found.docker_config == f"{tmp_path}/.docker/config.json"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG rules")
@pytest.mark.parametrize("env", [{}, {"HOME": ""}])
def test_an_environment_without_HOME_falls_back_to_the_users_home(monkeypatch, tmp_path, env):
    # expanduser("~") reads the process's HOME, the user's home directory
    _xdg_free(monkeypatch, tmp_path)
    found = Paths.from_env(env)
    assert found.data_dir == f"{tmp_path}/.local/share/{APP}"
    assert found.store == f"{tmp_path}/.local/share/{APP}/secrets.json"
    assert found.truss_config == f"{tmp_path}/.truss/config.yaml"
    assert found.docker_config == f"{tmp_path}/.docker/config.json"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG rules")
def test_every_directory_is_kept_as_chosen(tmp_path):
    env = {
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": "/c",
        "XDG_DATA_HOME": "/d",
        "XDG_CACHE_HOME": "/k",
        "XDG_STATE_HOME": "/s",
    }
    found = Paths.from_env(env)
    assert (found.config_dir, found.data_dir, found.cache_dir, found.log_dir) == (
        f"/c/{APP}",
        f"/d/{APP}",
        f"/k/{APP}",
        f"/s/{APP}/log",
    )
    assert found.helper_config == f"/c/{APP}/config.json"


def test_on_macos_the_helper_uses_platformdirs_library_folders(monkeypatch, tmp_path):
    _xdg_free(monkeypatch, tmp_path)
    monkeypatch.setattr(platformdirs, "PlatformDirs", platformdirs.macos.MacOS)
    monkeypatch.setattr(sys, "platform", "darwin")
    found = Paths.from_env({"HOME": str(tmp_path)})
    library = f"{tmp_path}/Library"
    assert (found.config_dir, found.data_dir, found.cache_dir, found.log_dir) == (
        f"{library}/Application Support/{APP}",
        f"{library}/Application Support/{APP}",
        f"{library}/Caches/{APP}",
        f"{library}/Logs/{APP}",
    )
    assert found.docker_config == f"{tmp_path}/.docker/config.json"


def test_on_windows_the_folders_carry_no_author_level(monkeypatch):
    monkeypatch.setenv("WIN_PD_OVERRIDE_LOCAL_APPDATA", LOCAL)
    monkeypatch.setenv("WIN_PD_OVERRIDE_APPDATA", "C:\\Users\\me\\AppData\\Roaming")
    monkeypatch.setattr(platformdirs, "PlatformDirs", platformdirs.windows.Windows)
    app = os.path.join(LOCAL, APP)
    assert paths._platformdirs() == {
        "config_dir": app,
        "data_dir": app,
        "cache_dir": os.path.join(app, "Cache"),
        "log_dir": os.path.join(app, "Logs"),
    }
