"""``unconfigure``, in-process: what it takes out of both configs, and what it leaves.

It removes the helper's records of the registries named (or of a truss's registries),
removes the ``credHelpers`` entries that name truss, puts back the helper ``configure``
replaced, leaves an entry naming another helper alone, and gives docker's config.json
back byte for byte as docker wrote it. ``--dry-run`` says the same and writes nothing.
"""

from __future__ import annotations

import json
import os

from docker_credential_truss import config

# As docker (Go's json.MarshalIndent) writes it: tabs, "&" "<" ">" escaped, non-ASCII
# as it is, no final newline.
DOCKER_WRITTEN = (
    "{\n"
    '\t"auths": {\n\t\t"quay.io": {\n\t\t\t"auth": "c2VlZDpzZWVk"\n\t\t}\n\t},\n'
    '\t"credHelpers": {\n\t\t"gcr.io": "gcloud",\n\t\t"ghcr.io": "ecr-login"\n\t},\n'
    '\t"proxies": {\n\t\t"default": {\n\t\t\t"noProxy": "localhost,a\\u0026b\\u003cc\\u003e"\n'
    "\t\t}\n\t},\n"
    '\t"psFormat": "table café"\n'
    "}"
)


def write_docker_config(paths, text: str) -> None:
    os.makedirs(os.path.dirname(paths.docker_config), exist_ok=True)
    with open(paths.docker_config, "w", encoding="utf-8") as handle:
        handle.write(text)


def docker_config_bytes(paths) -> bytes:
    with open(paths.docker_config, "rb") as handle:
        return handle.read()


def helper_config_bytes(paths) -> bytes:
    with open(paths.helper_config, "rb") as handle:
        return handle.read()


def a_truss(tmp_path, secrets: str, name: str = "my-truss") -> str:
    directory = tmp_path / name
    directory.mkdir()
    (directory / "config.yaml").write_text(f"secrets:\n{secrets}")
    return str(directory)


def test_configure_then_unconfigure_gives_back_the_bytes_docker_wrote(cli, tmp_path, paths):
    write_docker_config(paths, DOCKER_WRITTEN)
    path = a_truss(
        tmp_path, "  DOCKER_REGISTRY_ghcr.io: null\n  DOCKER_REGISTRY_127.0.0.1:5000: null\n"
    )
    run = cli("configure", path)
    assert run.code == 0, run.err
    assert (
        '"credHelpers": {"ghcr.io": "truss"} (was \'ecr-login\'; unconfigure puts it back)'
        in run.out
    )
    routed = docker_config_bytes(paths).decode()
    assert json.loads(routed)["credHelpers"] == {
        "gcr.io": "gcloud",
        "ghcr.io": "truss",
        "127.0.0.1:5000": "truss",
    }
    # still in docker's own format
    assert routed.startswith('{\n\t"auths"') and not routed.endswith("\n")
    assert "a\\u0026b\\u003cc\\u003e" in routed and "table café" in routed

    undone = cli("unconfigure", path)
    assert (undone.code, undone.err) == (0, "")
    assert undone.out.splitlines() == [
        f"removed from {paths.helper_config}:",
        "  ghcr.io: REGISTRY_SECRET (secret_name=DOCKER_REGISTRY_ghcr.io)",
        "  127.0.0.1:5000: REGISTRY_SECRET (secret_name=DOCKER_REGISTRY_127.0.0.1:5000)",
        f"changed in {paths.docker_config}:",
        '  "credHelpers": {"ghcr.io": "ecr-login"} (put back: configure had replaced it)',
        '  "credHelpers": "127.0.0.1:5000" removed',
    ]
    assert docker_config_bytes(paths) == DOCKER_WRITTEN.encode()
    assert config.load(paths) == {} and config.replaced(paths) == {}


def test_dry_run_says_what_would_change_and_writes_nothing(cli, tmp_path, paths):
    write_docker_config(paths, DOCKER_WRITTEN)
    path = a_truss(tmp_path, "  DOCKER_REGISTRY_ghcr.io: null\n  DOCKER_REGISTRY_nvcr.io: null\n")
    assert cli("configure", path).code == 0
    docker_before, helper_before = docker_config_bytes(paths), helper_config_bytes(paths)
    dry = cli("unconfigure", "--dry-run", path)
    assert (dry.code, dry.err) == (0, "")
    assert dry.out.splitlines() == [
        f"would remove from {paths.helper_config}:",
        "  ghcr.io: REGISTRY_SECRET (secret_name=DOCKER_REGISTRY_ghcr.io)",
        "  nvcr.io: REGISTRY_SECRET (secret_name=DOCKER_REGISTRY_nvcr.io)",
        f"would change in {paths.docker_config}:",
        '  "credHelpers": {"ghcr.io": "ecr-login"} (put back: configure had replaced it)',
        '  "credHelpers": "nvcr.io" removed',
    ]
    assert docker_config_bytes(paths) == docker_before
    assert helper_config_bytes(paths) == helper_before


def test_docker_hub_loses_both_keys_and_an_empty_credhelpers_goes(cli, paths):
    # someone else's file: two-space indent, non-ASCII escaped, a final newline
    original = '{\n  "auths": {},\n  "psFormat": "caf\\u00e9"\n}\n'
    write_docker_config(paths, original)
    flags = ("--auth-method", "REGISTRY_SECRET", "--secret-name", "hub_pat")
    assert cli("configure", "--registry", "docker.io", *flags).code == 0
    routed = docker_config_bytes(paths).decode()
    assert json.loads(routed)["credHelpers"] == {
        "https://index.docker.io/v1/": "truss",
        "docker.io": "truss",
    }
    assert routed.startswith('{\n  "auths"') and routed.endswith("}\n")
    for dry in (("--dry-run",), ()):
        run = cli("unconfigure", *dry, "docker.io")
        assert run.code == 0, run.err
        assert '"credHelpers": "https://index.docker.io/v1/" removed' in run.out
        assert '"credHelpers": "docker.io" removed' in run.out
    assert docker_config_bytes(paths) == original.encode()
    assert "https://index.docker.io/v1/" not in config.load(paths)


def test_an_entry_that_names_another_helper_is_not_ours_to_remove(cli, paths):
    flags = ("--auth-method", "REGISTRY_SECRET", "--secret-name", "pat")
    assert cli("configure", "--registry", "ghcr.io", *flags).code == 0
    assert cli("configure", "--registry", "nvcr.io", *flags).code == 0
    with open(paths.docker_config) as handle:
        data = json.load(handle)
    data["credHelpers"]["ghcr.io"] = "pass"  # routed elsewhere by hand since
    write_docker_config(paths, json.dumps(data))
    run = cli("unconfigure", "ghcr.io", "nvcr.io")
    assert run.code == 0, run.err
    assert "  ghcr.io: REGISTRY_SECRET (registry=ghcr.io, secret_name=pat)" in run.out
    assert '"credHelpers": "nvcr.io" removed' in run.out and '"ghcr.io" removed' not in run.out
    with open(paths.docker_config) as handle:
        assert json.load(handle)["credHelpers"] == {"ghcr.io": "pass"}
    assert config.load(paths) == {}


def test_a_registry_neither_configured_nor_routed_has_nothing_to_undo(cli, paths):
    write_docker_config(paths, '{"credHelpers": {"ghcr.io": "pass"}}')
    run = cli("unconfigure", "ghcr.io")
    assert (run.code, run.err) == (0, "")
    assert run.out == "ghcr.io: not configured and not routed to truss; nothing to undo\n"
    assert docker_config_bytes(paths) == b'{"credHelpers": {"ghcr.io": "pass"}}'
    assert not os.path.exists(paths.helper_config)  # nothing to forget: not written


def test_a_registry_routed_by_hand_but_not_recorded_is_unrouted(cli, paths):
    write_docker_config(paths, '{"credHelpers": {"ghcr.io": "truss"}}')
    run = cli("unconfigure", "ghcr.io")
    assert (run.code, run.err) == (0, "")
    assert run.out == f'changed in {paths.docker_config}:\n  "credHelpers": "ghcr.io" removed\n'
    assert docker_config_bytes(paths) == b"{}"
    assert not os.path.exists(paths.helper_config)


def test_a_target_that_is_neither_a_truss_nor_a_registry_is_an_error(cli, paths):
    flags = ("--auth-method", "REGISTRY_SECRET", "--secret-name", "pat")
    assert cli("configure", "--registry", "ghcr.io", *flags).code == 0
    run = cli("unconfigure", "no such thing", "ghcr.io")
    assert run.code == 1
    assert run.err == "error: 'no such thing': not a truss here, nor a registry (bad host)\n"
    assert '"credHelpers": "ghcr.io" removed' in run.out  # the good target is still undone
    assert config.load(paths) == {}


def test_a_registry_recorded_from_another_truss_is_left_to_it(cli, tmp_path, paths):
    one = a_truss(tmp_path, "  DOCKER_REGISTRY_ghcr.io: null\n", "one")
    two = a_truss(
        tmp_path, "  DOCKER_REGISTRY_ghcr.io: null\n  DOCKER_REGISTRY_nvcr.io: null\n", "two"
    )
    assert cli("configure", one).code == 0
    assert cli("configure", two).code == 0  # ghcr.io: the same settings, kept from one
    run = cli("unconfigure", two)
    assert run.code == 0
    source = os.path.join(one, "config.yaml")
    assert run.err == (
        f"note: ghcr.io is recorded from {source}, not {os.path.join(two, 'config.yaml')};"
        " left as it is (unconfigure ghcr.io removes it)\n"
    )
    assert set(config.load(paths)) == {"ghcr.io"}
    with open(paths.docker_config) as handle:
        assert json.load(handle)["credHelpers"] == {"ghcr.io": "truss"}


def test_of_docker_hubs_two_keys_only_the_one_naming_truss_goes(cli, paths):
    flags = ("--auth-method", "REGISTRY_SECRET", "--secret-name", "hub_pat")
    assert cli("configure", "--registry", "docker.io", *flags).code == 0
    # the docker CLI's key routed elsewhere by hand since; containers/image's still ours
    helpers = {"https://index.docker.io/v1/": "desktop", "docker.io": "truss"}
    write_docker_config(paths, json.dumps({"credHelpers": helpers}))
    run = cli("unconfigure", "docker.io")
    assert run.code == 0, run.err
    assert '"credHelpers": "docker.io" removed' in run.out
    with open(paths.docker_config) as handle:
        assert json.load(handle) == {"credHelpers": {"https://index.docker.io/v1/": "desktop"}}


def test_credhelpers_that_is_no_object_is_named_with_its_file(cli, paths):
    write_docker_config(paths, '{"credHelpers": ["ghcr.io"]}')
    for flags in (("--dry-run",), ()):
        run = cli("unconfigure", *flags, "ghcr.io")
        assert (run.code, run.out) == (1, "")
        assert f"credHelpers in {paths.docker_config} should be a JSON object" in run.err
    assert docker_config_bytes(paths) == b'{"credHelpers": ["ghcr.io"]}'


def test_a_directory_that_holds_no_truss_is_an_error_that_says_why(cli, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    run = cli("unconfigure", str(empty))
    assert (run.code, run.out) == (1, "")
    assert run.err == (
        f"error: {str(empty)!r}: not a truss here, nor a registry (cannot read truss config"
        f" {empty}/config.yaml: No such file or directory)\n"
    )
