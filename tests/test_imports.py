"""The hot path must not load cloud SDKs: a static or cached answer pays only for itself."""

import base64
import json
import subprocess
import sys

SDKS = ("boto3", "botocore", "google.auth", "google.oauth2", "requests", "yaml", "platformdirs")


def loaded_after_get(env: dict, server: str) -> set:
    code = (
        "import io, json, sys\n"
        "from docker_credential_truss.cli import main\n"
        f"main(['get'], stdin=io.BytesIO({server.encode()!r}), stdout=io.BytesIO())\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out))


def test_static_get_from_the_environment_imports_no_sdk(env):
    secret = base64.b64encode(b"u:p").decode()
    modules = loaded_after_get({**env, "TRUSS_SECRET_DOCKER_REGISTRY_ghcr.io": secret}, "ghcr.io")
    assert not [m for m in SDKS if m in modules]


def test_unknown_registry_imports_no_sdk(env):
    modules = loaded_after_get(env, "unknown.example.com")
    assert not [m for m in SDKS if m in modules]


def modules_after(code: str) -> set:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys, json; print(json.dumps(list(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(json.loads(out))


def test_cli_module_alone_is_light():
    added = modules_after("import docker_credential_truss.cli") - modules_after("")
    assert not [m for m in (*SDKS, "dataclasses", "pathlib", "tempfile", "logging") if m in added]


def test_static_get_compiles_no_avoidable_module(env, tmp_path):
    # Each of these cost 0.7-1.8 ms of a ~27 ms start (bench/startup.py): base64 (and
    # its struct) for a decode binascii does alone, importlib for one import by name.
    secret = base64.b64encode(b"u:p").decode()
    (tmp_path / ".truss").mkdir()
    (tmp_path / ".truss" / "config.yaml").write_text(
        f"secrets:\n  DOCKER_REGISTRY_ghcr.io: {secret}\n"
    )
    modules = loaded_after_get({**env, "HOME": str(tmp_path)}, "ghcr.io")
    assert "docker_credential_truss.yamlsubset" in modules  # it did read the file
    # Less what the interpreter loads before any of ours (pip install -e's import hook
    # loads importlib), which no change here can avoid.
    modules -= modules_after("")
    assert not [m for m in ("base64", "importlib", "struct") if m in modules]


def test_get_and_list_never_import_argparse(env):
    # argparse is the human commands' (options.py): docker runs get once per registry.
    secret = base64.b64encode(b"u:p").decode()
    for server in ("ghcr.io", "unknown.example.com"):
        modules = loaded_after_get({**env, "TRUSS_SECRET_DOCKER_REGISTRY_ghcr.io": secret}, server)
        assert "argparse" not in modules and "docker_credential_truss.options" not in modules
    assert "argparse" not in modules_after("import docker_credential_truss.cli")


def test_static_get_loads_no_mint_machinery(env):
    # signal/threading arm the mint deadline; a decoded secret has no network to bound.
    secret = base64.b64encode(b"u:p").decode()
    modules = loaded_after_get({**env, "TRUSS_SECRET_DOCKER_REGISTRY_ghcr.io": secret}, "ghcr.io")
    assert not [m for m in ("signal", "threading", "docker_credential_truss.cache") if m in modules]
