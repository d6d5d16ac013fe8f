#!/usr/bin/env python3
"""Regenerate requirements.lock (the sandbox's dependencies) with the sha256 of each wheel.

Usage: python scripts/lock_sandbox.py numpy==2.4.6 [more==pins ...]
Downloads the cp311 manylinux wheels for x86_64 and aarch64 with pip into a temporary directory
(no dependencies are followed: pin every package the sandbox needs) and rewrites requirements.lock.
Then `harness image build` makes a new image (the lock is part of its content tag).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tempfile
from pathlib import Path

LOCK = Path(__file__).resolve().parents[1] / "requirements.lock"
PLATFORMS = {
    "x86_64": ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"),
    "aarch64": ("manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64"),
}
HEADER = """\
# The grading sandbox's Python dependencies: ONLY what runs inside the container.
# The extras and extras/_harness need numpy and the standard library, nothing else.
# Installed with: pip install --no-index --find-links /wheelhouse --require-hashes -r requirements.lock
# One hash per supported engine architecture (x86_64, aarch64) of the cp311 manylinux wheel.
# Regenerate with: python scripts/lock_sandbox.py numpy==<version>
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
            hashes.append(hashlib.sha256(wheel.read_bytes()).hexdigest())
    return hashes


def main(pins: list[str]) -> int:
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
