"""Compile the sidecar's hot modules with mypyc, in place beside their sources.

    .venv/bin/python tools/native.py            # build (make setup runs it)
    .venv/bin/python tools/native.py --sources  # the compiled modules' sources

These modules are pure, strictly typed Python on every request's path (redaction,
the OpenAI codecs and the chat model); compiled, the full pipeline serves 7 to 12% more
requests at 16 clients (bench/PERF_NOTES.md, "Fifth round"). Modules with async
generators stay interpreted: mypyc does not compile those. The interpreter prefers an
extension module to the source beside it, `adapters._native` refuses one older than
its source, and POLICY_ENGINE_PURE_PYTHON=1 runs the sources instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Two groups, each one shared library inside its own package (importable from any
# working directory): calls within a group are native, across groups ordinary.
GROUPS = {
    "adapters._native_lib": [
        "adapters/_content.py",
        "adapters/_http.py",
        "adapters/_model.py",
        "adapters/_openai.py",
        "adapters/_openai_client.py",
        "adapters/_sse.py",
    ],
    "policy_engine._native_lib": [
        "policy_engine/_context.py",
        "policy_engine/decision/_decider.py",
        "policy_engine/pipeline/_outcome.py",
        "policy_engine/redaction/_cache.py",
        "policy_engine/redaction/_numbering.py",
        "policy_engine/redaction/_patterns.py",
        "policy_engine/redaction/_phones.py",
        "policy_engine/redaction/_session.py",
        "policy_engine/redaction/_types.py",
        "policy_engine/redaction/_validators.py",
        "policy_engine/routing/_plan.py",
    ],
}


def main(argv: list[str]) -> None:
    if argv == ["--sources"]:
        print(" ".join(path for paths in GROUPS.values() for path in paths))
        return
    from mypyc.build import mypycify
    from setuptools import setup

    modules = mypycify(
        [path for paths in GROUPS.values() for path in paths],
        opt_level="3",
        separate=[(paths, group) for group, paths in GROUPS.items()],
    )
    setup(
        name="policy-engine-native",
        ext_modules=modules,
        script_args=["--quiet", "build_ext", "--inplace", "--build-temp", "build/mypyc"],
    )
    # A module whose C code came out unchanged is not rebuilt, and its copy keeps the
    # old time: mark every one as built from the sources as they are now.
    for path in (ROOT / source for paths in GROUPS.values() for source in paths):
        for built in path.parent.glob(f"{path.stem}.*.so"):
            built.touch()


if __name__ == "__main__":
    import os

    os.chdir(ROOT)
    main(sys.argv[1:])
