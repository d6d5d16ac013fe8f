#!/usr/bin/env python3
"""Regenerate requirements.lock (the sandbox's dependencies) with the sha256 of each wheel.

Usage: python scripts/lock_sandbox.py            # the pins of requirements.in
Downloads the cp311 wheels for x86_64 and aarch64 (manylinux, or pure-Python) with pip into a
temporary directory (no dependencies are followed: requirements.in pins every package) and
rewrites requirements.lock. Then `harness image build` makes a new image (the lock is in its tag).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
PINS = ROOT / "requirements.in"
PLATFORMS = {
    "x86_64": ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"),
    "aarch64": ("manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64"),
}
HEADER = """\
# The grading sandbox's Python dependencies: ONLY what runs inside the container.
# Generated from requirements.in (the course's declared student environment; extend it there).
# Installed with: pip install --no-index --find-links /wheelhouse --require-hashes -r requirements.lock
# One hash per supported engine architecture (x86_64, aarch64) of each cp311 manylinux wheel;
# one hash for a pure-Python wheel (it serves both).
# Regenerate with: python scripts/lock_sandbox.py
"""


def wheel_hashes(pin: str) -> list[str]:
    hashes = []
    for arch, tags in PLATFORMS.items():
        with tempfile.TemporaryDirectory() as dest:
            command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                       "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
                       "--abi", "cp311", "--dest", dest, pin]
            for tag in tags:
                command += ["--platform", tag]
            if subprocess.run(command).returncode != 0:
                sys.exit(f"error: pip could not download {pin} for cp311 {arch}")
            (wheel,) = Path(dest).glob("*.whl")
            digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
            if digest not in hashes:  # a pure-Python wheel serves every architecture
                hashes.append(digest)
    return hashes


def read_pins(path: Path) -> list[str]:
    """The `name==version` lines of requirements.in, comments dropped."""
    return [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()
            if line.split("#", 1)[0].strip()]


def main(pins: list[str]) -> int:
    pins = pins or read_pins(PINS)
    if not pins or not all(re.fullmatch(r"[A-Za-z0-9_.-]+==[^\s=]+", pin) for pin in pins):
        print(__doc__, file=sys.stderr)
        return 2
    entries = []
    for pin in pins:
        lines = [pin] + [f"    --hash=sha256:{digest}" for digest in wheel_hashes(pin)]
        entries.append(" \\\n".join(lines))
    LOCK.write_text(HEADER + "\n".join(entries) + "\n")
    print(f"wrote {LOCK}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
