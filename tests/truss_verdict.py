"""Truss's own verdict on truss definitions, for the differential test (tests/test_truss_parity.py).

Runs in truss's venv (``$DCT_TRUSS_PYTHON``, see tests/truss-requirements.txt), never in
ours. Reads a JSON list of ``{"id", "kind", "text"}`` on stdin and prints one JSON
object, id -> ``{"ok": bool, "error": str}``:

- ``kind: "yaml"``: ``text`` is a config.yaml; it is loaded as ``truss push`` loads it,
  ``TrussConfig.from_yaml`` and then ``validate_forbid_extra``;
- ``kind: "python"``: ``text`` is a Chains or truss_train source file (our own test
  data); it is executed, as truss executes such a file, and must build its objects;
  a ``DockerAuthSettings`` found there then gets ``validate_forbid_extra``, which
  ``truss push`` applies to the config Chains generates from it.
"""

import json
import pathlib
import sys
import tempfile

from truss.base.truss_config import TrussConfig


def verdict(kind: str, text: str) -> dict:
    try:
        if kind == "yaml":
            with tempfile.TemporaryDirectory() as tmp:
                path = pathlib.Path(tmp, "config.yaml")
                path.write_text(text)
                TrussConfig.from_yaml(path).validate_forbid_extra()
        else:
            # our own test data, run as truss would run a Chains or truss_train file
            space: dict = {"__name__": "variant"}
            exec(compile(text, "<variant>", "exec"), space)  # noqa: S102
            for value in space.values():  # push checks a chainlet's config as truss push does
                auth = getattr(value, "docker_auth", None)
                if hasattr(auth, "validate_forbid_extra"):
                    auth.validate_forbid_extra()
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:400]}
    return {"ok": True, "error": ""}


def main() -> None:
    variants = json.load(sys.stdin)
    json.dump({v["id"]: verdict(v["kind"], v["text"]) for v in variants}, sys.stdout)


if __name__ == "__main__":
    main()
