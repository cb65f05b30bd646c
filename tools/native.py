"""Compile the sidecar's hot modules with mypyc, in place beside their sources, and
build the native PII detector (native/scan, Rust and PCRE2) with cargo.

    .venv/bin/python tools/native.py            # build (make setup runs it)
    .venv/bin/python tools/native.py --sources  # the sources of both

These modules are pure, strictly typed Python on every request's path (redaction
sessions, the OpenAI codecs and the chat model); compiled, the full pipeline serves 7 to
12% more requests at 16 clients (bench/PERF_NOTES.md, "Fifth round"). Modules with async
generators stay interpreted: mypyc does not compile those. The interpreter prefers an
extension module to the source beside it, `adapters._native` refuses one older than
its source, and POLICY_ENGINE_PURE_PYTHON=1 runs the sources instead.

The native detector replays the Python detector of `policy_engine/redaction` (the
reference, whose patterns and tables it is handed) without the interpreter and without
holding the GIL: bench/REDACTION_RESULTS.md has its throughput. Without it the Python
detector runs; its modules are not compiled with mypyc, the native detector being their
fast path.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Two groups, each one shared library inside its own package (importable from any
# working directory): calls within a group are native, across groups ordinary.
GROUPS = {
    "adapters._native_lib": [
        "adapters/_content.py",
        "adapters/_features.py",
        "adapters/_http.py",
        "adapters/_model.py",
        "adapters/_openai.py",
        "adapters/_openai_body.py",
        "adapters/_openai_client.py",
        "adapters/_openai_request.py",
        "adapters/_sse.py",
    ],
    "policy_engine._native_lib": [
        "policy_engine/_context.py",
        "policy_engine/decision/_decider.py",
        "policy_engine/pipeline/_outcome.py",
        "policy_engine/redaction/_cache.py",
        "policy_engine/redaction/_request.py",
        "policy_engine/redaction/_session.py",
        "policy_engine/redaction/_types.py",
        "policy_engine/routing/_plan.py",
    ],
}
SCAN_CRATE = Path("native/scan")
SCAN_SOURCES = [
    str(SCAN_CRATE / "Cargo.toml"),
    str(SCAN_CRATE / "Cargo.lock"),
    *sorted(str(path.relative_to(ROOT)) for path in (ROOT / SCAN_CRATE / "src").rglob("*.rs")),
]
SCAN_MODULE = Path("policy_engine/redaction") / f"_scan{sysconfig.get_config_var('EXT_SUFFIX')}"
# mypyc notes every generator it compiles as a list (`"".join(x for x in ...)`): the same
# result, nothing to act on. Those lines are dropped; any other line it prints is shown.
MYPYC_NOISE = "warning: Treating generator comprehension as list"


def main(argv: list[str]) -> None:
    if argv == ["--sources"]:
        print(" ".join([*(path for paths in GROUPS.values() for path in paths), *SCAN_SOURCES]))
        return
    build_scan()
    from mypyc.build import mypycify
    from setuptools import setup

    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            modules = mypycify(
                [path for paths in GROUPS.values() for path in paths],
                opt_level="3",
                separate=[(paths, group) for group, paths in GROUPS.items()],
            )
    finally:
        for line in printed.getvalue().splitlines():
            if MYPYC_NOISE not in line:
                print(line)
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
    remove_stale()


def remove_stale() -> None:
    """Delete the compiled copy of a module that left GROUPS: Python would import it
    before the source beside it, and adapters/_native.py refuses it as out of date."""
    compiled = {ROOT / source for paths in GROUPS.values() for source in paths}
    for package in ("adapters", "policy_engine"):
        for built in (ROOT / package).rglob("*.so"):
            source = built.with_name(built.name.split(".", 1)[0] + ".py")
            if source.exists() and source not in compiled:
                built.unlink()


def build_scan() -> None:
    cargo = shutil.which("cargo") or str(Path.home() / ".cargo/bin/cargo")
    if not Path(cargo).exists():
        sys.exit("tools/native.py: cargo not found; the native scan needs Rust (rustup.rs)")
    # --locked: the crates of Cargo.lock, or fail; PYO3_PYTHON: build for this interpreter.
    subprocess.run(
        [
            cargo,
            "build",
            "--release",
            "--locked",
            "--quiet",
            "--manifest-path",
            str(SCAN_CRATE / "Cargo.toml"),
        ],
        check=True,
        env={**os.environ, "PYO3_PYTHON": sys.executable},
    )
    # Replaced, not rewritten in place: a running sidecar may have the old one mapped.
    staged = SCAN_MODULE.with_name(SCAN_MODULE.name + ".new")
    shutil.copyfile(SCAN_CRATE / "target/release/lib_scan.so", staged)
    staged.replace(SCAN_MODULE)


if __name__ == "__main__":
    os.chdir(ROOT)
    main(sys.argv[1:])
