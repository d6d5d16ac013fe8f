"""The offline base image is tagged by its recipe, so a stale image can never hide a broken recipe.

A machine that had an older base once kept passing while a fresh machine failed (the recipe's
PATH lacked /usr/sbin, and the Dockerfile's ``groupadd`` was not found). These tests pin the
mechanism that rules that out: the tag is a hash of the recipe, the moving alias always points
at the current recipe's image, and the grading image in use was built on it.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

SCRIPT = "scripts/build-base-image.sh"
RECIPE_LABEL = "org.tinytorch-harness.base-recipe"


def recipe_tag(script, **env) -> str:
    done = subprocess.run(["bash", str(script), "--print-tag"], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", **env}, check=True)
    return done.stdout.strip()


def test_the_tag_is_a_hash_of_the_recipe(tmp_path, repo_root):
    tag = recipe_tag(repo_root / SCRIPT)
    assert re.fullmatch(r"tinytorch-harness-base:bookworm-[0-9a-f]{12}", tag)
    copy = tmp_path / "build-base-image.sh"
    shutil.copy(repo_root / SCRIPT, copy)
    assert recipe_tag(copy) == tag, "the tag must depend on the recipe, not on where it lives"
    copy.write_text(copy.read_text().replace('PACKAGES="python3,python3-venv"',
                                             'PACKAGES="python3,python3-venv,passwd"'))
    assert recipe_tag(copy) != tag, "changing the package list must change the tag"
    assert recipe_tag(repo_root / SCRIPT, DEBIAN_SUITE="trixie").startswith("tinytorch-harness-base:trixie-")


def test_the_recipe_puts_the_sbin_directories_on_path(repo_root):
    path = re.search(r'^IMAGE_PATH="([^"]+)"', (repo_root / SCRIPT).read_text(), re.M).group(1)
    assert {"/usr/sbin", "/sbin", "/usr/bin", "/bin"} <= set(path.split(":"))


def test_the_dockerfile_needs_no_sbin_on_path(repo_root):
    """groupadd/useradd live in /usr/sbin: the Dockerfile names them by absolute path."""
    text = (repo_root / "Dockerfile").read_text()
    for tool in ("groupadd", "useradd"):
        uses = re.findall(rf"(\S*){tool}\s", text)
        assert uses and all(prefix == "/usr/sbin/" for prefix in uses), (tool, uses)


@pytest.mark.docker
def test_the_base_alias_is_the_current_recipes_image(docker_engine, repo_root):
    import docker

    tag = recipe_tag(repo_root / SCRIPT)
    client = docker.from_env()
    try:
        image = client.images.get(tag)
        alias = client.images.get(tag.rsplit("-", 1)[0])
    finally:
        client.close()
    assert image.labels.get(RECIPE_LABEL) == tag.rsplit("-", 1)[1]
    assert alias.id == image.id, f"{tag.rsplit('-', 1)[0]} points at an image of an older recipe"


@pytest.mark.docker
def test_the_base_runs_what_the_dockerfile_runs(docker_engine, repo_root):
    import docker

    client = docker.from_env()
    try:
        lookup = "for tool in groupadd useradd; do command -v $tool; done"
        out = client.containers.run(recipe_tag(repo_root / SCRIPT), ["sh", "-c", lookup],
                                    network_disabled=True, remove=True)
    finally:
        client.close()
    assert out.decode().split() == ["/usr/sbin/groupadd", "/usr/sbin/useradd"]


@pytest.mark.docker
def test_an_offline_grading_image_is_built_on_the_current_recipe(docker_engine, repo_root):
    import docker

    from harness.runners.docker.image import LABEL_BASE, LABEL_BASE_ID, find_image

    client = docker.from_env()
    try:
        labels = find_image(client, repo_root).labels
        current = client.images.get(recipe_tag(repo_root / SCRIPT)).id
    finally:
        client.close()
    if labels.get(LABEL_BASE, "").startswith("tinytorch-harness-base:"):
        assert labels.get(LABEL_BASE_ID) == current, f"the grading image was built on a stale base {labels}"
