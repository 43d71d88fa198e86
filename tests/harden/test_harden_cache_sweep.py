"""The token cache removes expired entries while other processes read and write it.

Eight processes share one cache directory for a few seconds. Each fetches tokens for
four identities, two minted to live 1 ms (so every fetch of them mints, and their
entries are swept all the time) and two an hour; after each fetch it writes an
already-expired entry for an identity never used again. Every write sweeps with no
minimum age, so entries, their lock files and their failure files are removed while
other processes wait for, take and release those very locks. Checked:

- single flight holds: a mint creates a marker file with O_EXCL and removes it when
  done, so two processes minting the same identity at once (two locks on two files of
  one name, the hazard of removing lock files) make the second one fail;
- every fetch answers its own identity's token; no process fails;
- afterwards no expired entry, orphan lock or failure file is left once writes stop,
  and the directory holds no more than one entry (and its lock) per live identity.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from hardening import Clock, expect, record, trials

from docker_credential_truss.cache import TokenCache

WORKER = r"""
import os, random, sys, time
from docker_credential_truss.cache import TokenCache
from docker_credential_truss.minting import Token

directory, seconds, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
cache = TokenCache(directory, lock_wait=30, sweep_age=0)
fetches = mints = 0
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    ident = rng.choice(["a", "b", "c", "d"])

    def mint():
        global mints
        marker = os.path.join(directory, "minting-" + ident)
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)  # fails if two mint
        try:
            time.sleep(0.01)
            mints += 1
            return Token("u", "secret-" + ident, time.time() + (0.001 if ident in "ab" else 3600))
        finally:
            os.close(fd)
            os.unlink(marker)

    token = cache.fetch("sweep.test", ident, mint)
    if token.secret != "secret-" + ident:
        sys.exit("wrong token for " + ident)
    fetches += 1
    now = time.time()
    cache.put("sweep.test", "gone-%d-%d" % (seed, fetches), Token("u", "old", now - 1), now)
print(fetches, mints)
"""


def test_expired_entries_are_removed_under_concurrent_fetches(tmp_path):
    clock = Clock()
    directory = str(tmp_path / "tokens")
    seconds = 3.0 if trials(1) == 1 else 10.0
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, directory, str(seconds), str(seed)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in range(8)
    ]
    fetches = mints = 0
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        expect(worker.returncode == 0, f"a worker failed: {err.strip()[-400:]}")
        done, minted = map(int, out.split())
        fetches, mints = fetches + done, mints + minted
    expect(fetches > 0, "no fetch completed")
    cache = TokenCache(directory, sweep_age=0)
    later = time.time() + 1
    while cache.sweep(later):
        pass
    names = os.listdir(directory)
    live = [n for n in names if n.endswith(".json")]
    for name in live:
        with open(os.path.join(directory, name), "rb") as handle:
            expect(b'"expires_at"' in handle.read(), "a damaged entry was left")
    orphans = [n for n in names if n.endswith(".lock") and n[: -len(".lock")] not in names]
    expect(not orphans, f"{len(orphans)} lock files without their entry were left")
    expect(not [n for n in names if n.endswith(".failed")], "failure files were left")
    expect(len(live) <= 4, f"{len(live)} entries left for 4 identities")
    expect(not [n for n in names if n.startswith("minting-")], "a mint marker was left")
    record(
        "cache sweep: 8 processes fetching while every write removes expired entries",
        fetches=fetches,
        mints=mints,
        entries_left=len(live),
        files_left=len(names),
        seconds=clock.seconds(),
    )
