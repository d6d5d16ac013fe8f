"""The grading image: find it, fill its wheelhouse, build it and tag it by content.

The image is made from three inputs only: the top-level ``Dockerfile``, the hash-locked
``requirements.lock`` and the base image. Its tag is a hash of those, so an unchanged tree gives
the same tag and ``build`` is skipped. The extras (with ``extras/_harness``), the submission and
the datasets are never copied in: the docker runner mounts them read-only at run time.
"""

from __future__ import annotations

import hashlib
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.provenance import sha256_file

IMAGE_REPOSITORY = "tinytorch-harness"
LABEL_TREE = "org.tinytorch-harness.tree"
LABEL_LOCK = "org.tinytorch-harness.lock"
LABEL_BASE = "org.tinytorch-harness.base"
LABEL_BASE_ID = "org.tinytorch-harness.base-id"
LABEL_NAMES = (LABEL_TREE, LABEL_LOCK, LABEL_BASE, LABEL_BASE_ID)  # part of the tag: new labels, new image
TREE_FILES = ("Dockerfile", "requirements.lock")
_ARCH_PLATFORMS = {
    "x86_64": ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"),
    "aarch64": ("manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64"),
}
_ARCH_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}
_REQUIREMENT = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


class ImageError(Exception):
    """The grading image cannot be found or built; the message says why and what to do."""


class ImageConfigError(ImageError):
    """The checkout's Dockerfile or lock is missing or malformed (a usage error, not infrastructure)."""


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    hashes: frozenset[str]  # sha256 hex digests of the acceptable wheels


def project_root() -> Path:
    """The checkout that holds the Dockerfile (the parent of the ``harness`` package)."""
    return Path(__file__).resolve().parents[3]


def _require_tree(root: Path) -> None:
    missing = [name for name in TREE_FILES if not (root / name).is_file()]
    if missing:
        raise ImageConfigError(
            f"{', '.join(missing)} not found in {root}: run from a checkout of tinytorch-harness "
            "or pass --context DIR pointing at one"
        )


def default_base(root: Path) -> str:
    """The pinned default of ``ARG BASE_IMAGE`` in the Dockerfile (the one source of that pin)."""
    _require_tree(root)
    match = re.search(r"^ARG BASE_IMAGE=(\S+)", (root / "Dockerfile").read_text(encoding="utf-8"), re.M)
    if not match:
        raise ImageConfigError(f"{root / 'Dockerfile'} has no `ARG BASE_IMAGE=<image>` line")
    return match.group(1)


def tree_hash(root: Path) -> str:
    """sha256 over the files the image is built from (names and contents)."""
    _require_tree(root)
    digest = hashlib.sha256()
    for name in TREE_FILES:
        data = (root / name).read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def lock_hash(root: Path) -> str:
    return "sha256:" + sha256_file(root / "requirements.lock")


def image_tag(root: Path, base: str, base_id: str) -> str:
    """``tinytorch-harness:<16 hex>`` from the tree, the exact base image and the labels it carries."""
    inputs = f"{tree_hash(root)}\0{base}\0{base_id}\0{','.join(LABEL_NAMES)}"
    digest = hashlib.sha256(inputs.encode()).hexdigest()
    return f"{IMAGE_REPOSITORY}:{digest[:16]}"


def _logical_lines(path: Path) -> list[tuple[int, str]]:
    """(first line number, text) with backslash continuations joined and comments dropped."""
    entries: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = raw.split("#", 1)[0].rstrip()
        start, sofar = pending or (lineno, "")
        sofar += " " + text.rstrip("\\")
        pending = (start, sofar) if text.endswith("\\") else None
        if pending is None and sofar.strip():
            entries.append((start, sofar.strip()))
    return entries


def parse_lock(path: Path) -> list[LockedPackage]:
    """Requirements of a hash-locked file; every one must be pinned with ``==`` and hashed."""
    packages = []
    for lineno, line in _logical_lines(path):
        match = _REQUIREMENT.match(line)
        hashes = frozenset(_HASH.findall(line))
        if not match or not hashes:
            raise ImageConfigError(
                f"{path}:{lineno}: {line[:60]!r} is not `name==version --hash=sha256:<64 hex>`"
            )
        packages.append(LockedPackage(match.group(1), match.group(2), hashes))
    if not packages:
        raise ImageConfigError(f"{path} lists no packages")
    return packages


def engine_arch(client) -> str:
    """The engine's CPU architecture in manylinux spelling (x86_64, aarch64)."""
    arch = str(client.info().get("Architecture") or platform.machine())
    arch = _ARCH_ALIASES.get(arch, arch)
    if arch not in _ARCH_PLATFORMS:
        raise ImageError(f"engine architecture {arch!r} is not supported (only {', '.join(_ARCH_PLATFORMS)})")
    return arch


def missing_wheels(packages: list[LockedPackage], wheelhouse: Path) -> list[LockedPackage]:
    """Locked packages with no wheel in ``wheelhouse`` whose sha256 matches the lock."""
    present = {sha256_file(p) for p in wheelhouse.glob("*.whl")} if wheelhouse.is_dir() else set()
    return [pkg for pkg in packages if not pkg.hashes & present]


def fill_wheelhouse(root: Path, wheelhouse: Path, arch: str, log: Callable[[str], None]) -> None:
    """Download the locked wheels for the image's Python (cp311, manylinux) unless already there."""
    lock = root / "requirements.lock"
    missing = missing_wheels(parse_lock(lock), wheelhouse)
    if not missing:
        log(f"wheelhouse {wheelhouse}: complete")
        return
    log(f"wheelhouse {wheelhouse}: downloading {', '.join(p.name for p in missing)} for cp311 {arch}")
    wheelhouse.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
               "--only-binary=:all:", "--no-deps", "--require-hashes", "--python-version", "3.11",
               "--implementation", "cp", "--abi", "cp311", "--dest", str(wheelhouse), "-r", str(lock)]
    for tag in _ARCH_PLATFORMS[arch]:
        command += ["--platform", tag]
    done = subprocess.run(command, capture_output=True, text=True)
    still_missing = missing_wheels(missing, wheelhouse)
    if done.returncode != 0 or still_missing:
        raise ImageError(
            f"could not download {', '.join(p.name for p in still_missing) or 'the locked wheels'} into "
            f"{wheelhouse} (pip exit {done.returncode}: {done.stderr.strip()[-400:]}). Offline: copy a "
            "wheelhouse made on a connected machine there and pass --wheelhouse DIR"
        )


def find_image(client, root: Path | None = None):
    """The newest local image built from this tree (by label), or None.

    Outside a checkout (no Dockerfile to hash) any image built by ``harness image build`` will do.
    """
    root = root or project_root()
    try:
        label = f"{LABEL_TREE}={tree_hash(root)}"
    except ImageConfigError:
        label = LABEL_TREE
    images = client.images.list(filters={"label": label})
    return max(images, key=lambda image: image.attrs.get("Created", ""), default=None)


def _base_image_id(client, base: str) -> str:
    import docker.errors

    try:
        return client.images.get(base).id
    except docker.errors.ImageNotFound:
        return ""  # the build will pull it; its digest pin (if any) is part of the tag
    except docker.errors.APIError as exc:
        raise ImageError(f"cannot inspect base image {base}: {exc}") from None


def _build_context(root: Path, wheelhouse: Path, packages: list[LockedPackage], into: Path) -> None:
    """Dockerfile, lock and exactly the locked wheels: nothing else reaches the build."""
    for name in TREE_FILES:
        shutil.copy2(root / name, into / name)
    wanted = set().union(*(pkg.hashes for pkg in packages))
    (into / "wheelhouse").mkdir()
    for wheel in sorted(wheelhouse.glob("*.whl")):
        if sha256_file(wheel) in wanted:
            shutil.copy2(wheel, into / "wheelhouse" / wheel.name)


def build_image(client, root: Path, base: str, wheelhouse: Path, log: Callable[[str], None]):
    """Build (or reuse) the grading image; returns ``(image, built)``. Raises ImageError."""
    import docker.errors

    packages = parse_lock(root / "requirements.lock")
    base_id = _base_image_id(client, base)
    tag = image_tag(root, base, base_id)
    try:
        image = client.images.get(tag)
        log(f"{tag} is up to date (same Dockerfile, lock and base): build skipped")
        return image, False
    except docker.errors.ImageNotFound:
        pass
    fill_wheelhouse(root, wheelhouse, engine_arch(client), log)
    labels = {LABEL_TREE: tree_hash(root), LABEL_LOCK: lock_hash(root),
              LABEL_BASE: base, LABEL_BASE_ID: base_id}
    with tempfile.TemporaryDirectory(prefix="harness-image-") as context:
        _build_context(root, wheelhouse, packages, Path(context))
        log(f"building {tag} from {base} (network off during RUN steps)")
        try:
            image_id = _run_build(client, context, tag, base, labels, log)
        except docker.errors.APIError as exc:
            raise ImageError(
                f"building {tag} failed: {exc.explanation or exc}. If the base image {base} cannot be "
                "pulled (offline), build the offline base with scripts/build-base-image.sh and pass "
                "the tag it prints: --base tinytorch-harness-base:bookworm-<recipe>"
            ) from None
    return client.images.get(image_id or tag), True


def _run_build(client, context: str, tag: str, base: str, labels: dict, log: Callable[[str], None]) -> str:
    """Stream the build, logging each Dockerfile step; the new image id. ImageError on failure."""
    output: list[str] = []
    image_id = ""
    for chunk in client.api.build(path=context, tag=tag, buildargs={"BASE_IMAGE": base}, labels=labels,
                                  rm=True, forcerm=True, pull=False, network_mode="none", decode=True):
        if "error" in chunk:
            tail = "".join(output)[-1500:]
            raise ImageError(f"building {tag} failed: {str(chunk['error']).strip()}\n{tail}")
        text = str(chunk.get("stream", ""))
        output.append(text)
        if text.startswith("Step "):
            log(f"  {text.strip()[:150]}")
        image_id = chunk.get("aux", {}).get("ID", image_id)
    return image_id
