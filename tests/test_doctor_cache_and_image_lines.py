"""doctor's last lines for a registry, word for word: the token cache and the base image.

In-process, with test_doctor.py's healthy set-up (a real docker-registry on loopback
that accepts the secret's credential, docker routing it to truss, the helper on PATH):

- the cached token's expiry in UTC, its time left (``1h00m`` at an hour), and the
  count of other identities' fresh tokens, in the singular and the plural;
- a base image that configure recorded is looked for, and its absence is a FAIL with
  its fix; a registry check that breaks is a FAIL that names what it was doing.
"""

from __future__ import annotations

import time

from test_doctor import REG, bindir, healthy, registry_server, route  # noqa: F401 (fixtures)

from docker_credential_truss import config
from docker_credential_truss.cache import TokenCache
from docker_credential_truss.minting import Token

LATER = 1900000000.0  # 2030-03-17 17:46:40 UTC


def lines_of(run) -> list[str]:  # type: ignore[no-untyped-def]
    return run.out.splitlines()


def test_a_cached_tokens_expiry_is_shown_in_utc(cli, healthy, paths):  # noqa: F811
    TokenCache(paths.token_cache).put(REG, "id", Token("u", "SENTINEL-c1", LATER), time.time())
    run = cli("doctor", REG)
    said = [line for line in lines_of(run) if "token cache: a token valid until" in line]
    assert len(said) == 1, run.out
    assert said[0].startswith("  --    token cache: a token valid until 2030-03-17 17:46:40 UTC")
    assert "SENTINEL-c1" not in run.out


def test_an_hour_left_is_said_in_hours(cli, healthy, paths):  # noqa: F811
    now = time.time()
    # 60 minutes and 50 s: an hour left for the next 50 s, however slow the run
    TokenCache(paths.token_cache).put(REG, "id", Token("u", "SENTINEL-c2", now + 3650), now)
    run = cli("doctor", REG)
    assert any(line.endswith("(fresh, 1h00m left)") for line in lines_of(run)), run.out


def test_other_identities_fresh_tokens_are_counted(cli, healthy, paths):  # noqa: F811
    now = time.time()
    cache = TokenCache(paths.token_cache)
    cache.put(REG, "best", Token("u", "SENTINEL-c3", now + 7200), now)
    cache.put(REG, "other-1", Token("u", "SENTINEL-c4", now + 3600), now)
    run = cli("doctor", REG)
    assert "  --    token cache: 1 more fresh token for other identities" in lines_of(run)
    assert "stale token" not in run.out, run.out  # both are fresh: none is stale
    cache.put(REG, "other-2", Token("u", "SENTINEL-c5", now + 3600), now)
    run = cli("doctor", REG)
    assert "  --    token cache: 2 more fresh tokens for other identities" in lines_of(run)


def test_a_nearly_expired_token_is_said_so(cli, healthy, paths):  # noqa: F811
    now = time.time()
    TokenCache(paths.token_cache).put(REG, "id", Token("u", "SENTINEL-c6", now + 30), now - 3600)
    run = cli("doctor", REG)
    assert any(
        line.endswith("(nearly expired: the next get mints a new one)") for line in lines_of(run)
    ), run.out


def test_a_recorded_base_image_that_is_absent_is_a_fail_with_its_fix(cli, healthy, paths):  # noqa: F811
    image = f"{REG}/org/no-such-base:1"
    config.merge(
        paths,
        {REG: {"auth_method": "REGISTRY_SECRET", "source": "/t/config.yaml", "image": image}},
    )
    run = cli("doctor", REG)
    assert run.code == 1
    lines = lines_of(run)
    at = next(i for i, line in enumerate(lines) if line.startswith(f"  FAIL  image {image}:"))
    assert lines[at].startswith(f"  FAIL  image {image}: not found ("), lines[at]
    assert lines[at + 1] == (
        "        fix: push the image, or correct base_image.image in the truss config and run"
        " configure again"
    )
    assert "image: none recorded" not in run.out


def test_no_recorded_image_is_said(cli, healthy):  # noqa: F811
    run = cli("doctor", REG)
    assert (
        "  --    image: none recorded (configure records the truss's base_image.image)"
        in lines_of(run)
    )


def test_a_registry_check_that_breaks_names_what_it_was_doing(cli, healthy, monkeypatch):  # noqa: F811
    from docker_credential_truss import registrycheck

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyError("SENTINEL-doctor-internal")

    monkeypatch.setattr(registrycheck, "check", broken)
    run = cli("doctor", REG)
    assert run.code == 1
    lines = lines_of(run)
    at = lines.index("  FAIL  internal error (KeyError) checking the registry")
    assert lines[at + 1] == "        fix: please report it"
    assert "SENTINEL-doctor-internal" not in run.out


def test_a_token_at_its_very_expiry_is_said_expired(cli, healthy, paths, monkeypatch):  # noqa: F811
    TokenCache(paths.token_cache).put(REG, "id", Token("u", "SENTINEL-c8", LATER), LATER - 3600)
    monkeypatch.setattr(time, "time", lambda: LATER)  # the clock reads the expiry itself
    run = cli("doctor", REG, "--offline")
    assert (
        "  --    token cache: a token valid until 2030-03-17 17:46:40 UTC"
        " (expired: the next get mints a new one)"
    ) in lines_of(run), run.out
    assert "SENTINEL-c8" not in run.out


def test_two_stale_tokens_are_counted_in_the_plural(cli, healthy, paths):  # noqa: F811
    now = time.time()
    cache = TokenCache(paths.token_cache)
    cache.put(REG, "current", Token("u", "SENTINEL-c9", now + 7200), now)
    for name in ("rotated-1", "rotated-2"):
        cache.put(REG, name, Token("u", "SENTINEL-c10", now - 60), now - 3600)
    run = cli("doctor", REG, "--offline")
    assert (
        "  --    token cache: 2 stale tokens of other or earlier identities (expired or nearly);"
        " expired ones are removed as the cache is written"
    ) in lines_of(run), run.out


def test_a_registry_only_docker_routes_here_is_checked_under_set_up(cli, paths):
    route(paths, "only.routed.test")
    run = cli("doctor", "--offline")
    lines = lines_of(run)
    assert lines[1:3] == ["", "set-up"], run.out
    assert "only.routed.test" in lines, run.out
    assert "no registry is configured" not in run.out
