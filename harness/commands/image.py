"""`harness image build [--base IMAGE]`: build (or reuse) the grading image and print its id."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.runners.docker.image import ImageConfigError, ImageError, build_image, default_base, project_root

EXIT_OK, EXIT_USAGE, EXIT_INFRA = 0, 2, 3


def register(subparsers) -> None:
    image = subparsers.add_parser("image", help="build the grading image for the docker backend")
    actions = image.add_subparsers(dest="image_command", metavar="ACTION", required=True)
    build = actions.add_parser(
        "build", help="make the wheelhouse, build the image, tag it by content, print its id",
        description="The tag hashes Dockerfile, requirements.lock and the base image: "
                    "an unchanged tree is not rebuilt.",
    )
    build.add_argument("--base", default=None, metavar="IMAGE",
                       help="base image with Python 3.11 (default: the Dockerfile's pinned python slim; "
                            "offline: the tag scripts/build-base-image.sh prints)")
    build.add_argument("--context", type=Path, default=None, metavar="DIR",
                       help="checkout holding Dockerfile and requirements.lock (default: this one)")
    build.add_argument("--wheelhouse", type=Path, default=None, metavar="DIR",
                       help="where the locked wheels are kept (default: <context>/wheelhouse)")
    build.set_defaults(func=run_build)


def run_build(args: argparse.Namespace) -> int:
    import docker

    root = (args.context or project_root()).resolve()
    wheelhouse = (args.wheelhouse or root / "wheelhouse").resolve()
    quiet = getattr(args, "quiet", False)

    def log(message: str) -> None:
        if not quiet:
            print(message, file=sys.stderr)

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        print(f"error: no Docker engine reachable ({exc}). Start one (`sudo dockerd &` on Linux, "
              "Docker Desktop elsewhere) and retry.", file=sys.stderr)
        return EXIT_INFRA
    try:
        image, _ = build_image(client, root, args.base or default_base(root), wheelhouse, log)
    except ImageConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ImageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INFRA
    finally:
        client.close()
    log(f"tags: {', '.join(image.tags)}")
    print(image.id)
    return EXIT_OK
