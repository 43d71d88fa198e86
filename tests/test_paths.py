"""The Linux fast path for directories must agree with platformdirs, which it stands in for."""

import sys

import platformdirs
import pytest

from docker_credential_truss.paths import APP, Paths, xdg_dirs

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG rules")

CASES = [
    {},
    {"XDG_CONFIG_HOME": "/x/c", "XDG_DATA_HOME": "/x/d", "XDG_CACHE_HOME": "/x/k"},
    {"XDG_STATE_HOME": "/x/s"},
    {"XDG_CONFIG_HOME": "", "XDG_DATA_HOME": "   ", "XDG_CACHE_HOME": "\t"},
]


@pytest.mark.parametrize("xdg", CASES)
def test_xdg_dirs_match_platformdirs(monkeypatch, tmp_path, xdg):
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(var, raising=False)
    for var, value in xdg.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("HOME", str(tmp_path))
    expected = platformdirs.PlatformDirs(APP, appauthor=False)
    ours = xdg_dirs({"HOME": str(tmp_path), **xdg}, str(tmp_path))
    assert ours == {
        "config_dir": expected.user_config_dir,
        "data_dir": expected.user_data_dir,
        "cache_dir": expected.user_cache_dir,
        "log_dir": expected.user_log_dir,
    }


def test_docker_config_follows_DOCKER_CONFIG(tmp_path):
    paths = Paths.from_env({"HOME": str(tmp_path), "DOCKER_CONFIG": "/elsewhere"})
    assert paths.docker_config == "/elsewhere/config.json"
    paths = Paths.from_env({"HOME": str(tmp_path)})
    assert paths.docker_config == f"{tmp_path}/.docker/config.json"
    assert paths.truss_config == f"{tmp_path}/.truss/config.yaml"
