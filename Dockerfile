# The grading image of tinytorch-harness: a pinned Python 3.11, numpy installed offline from a
# hash-locked wheelhouse into a venv, and a non-root user. Nothing from a submission, the extras or
# the datasets is baked in: the docker runner mounts them read-only at run time.
# Build with `harness image build` (it fills wheelhouse/ and tags the image by content); see docs/docker.md.
# Offline: `harness image build --base "$(bash scripts/build-base-image.sh | tail -n1)"` (debootstrap base).

# python:3.11.10-slim-bookworm, pinned by its multi-arch index digest (as pinned by a public
# Renovate-managed Dockerfile; check with `docker buildx imagetools inspect python:3.11.10-slim-bookworm`).
ARG BASE_IMAGE=python:3.11.10-slim-bookworm@sha256:5148c0e4bbb64271bca1d3322360ebf4bfb7564507ae32dd639322e4952a6b16

FROM ${BASE_IMAGE} AS build
COPY requirements.lock /tmp/requirements.lock
COPY wheelhouse/ /wheelhouse/
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/python -m pip install --no-index --find-links /wheelhouse --require-hashes \
        --no-cache-dir --disable-pip-version-check -r /tmp/requirements.lock \
 && /opt/venv/bin/python -m pip uninstall --yes --quiet --disable-pip-version-check pip setuptools

FROM ${BASE_IMAGE}
ARG BASE_IMAGE
LABEL org.opencontainers.image.title="tinytorch-harness grading sandbox" \
      org.opencontainers.image.description="Python 3.11 + numpy for running TinyTorch milestone extras against a mounted student package" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
COPY --from=build /opt/venv /opt/venv
# The sandbox reads bytecode only from /opt/pycache (PYTHONPYCACHEPREFIX; the root filesystem is
# read-only at run time), so nothing a submission ships in __pycache__ is ever run: compile the
# standard library and the venv there once, so imports stay fast.
RUN PYTHONPYCACHEPREFIX=/opt/pycache python3 -m compileall -q -j 0 \
        "$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')" /opt/venv/lib >/dev/null
# Absolute paths: the base's PATH need not name the sbin directories.
RUN /usr/sbin/groupadd --system --gid 10001 sandbox \
 && /usr/sbin/useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /work --shell /usr/sbin/nologin sandbox
ENV PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin \
    LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /work
USER 10001:10001
CMD ["python3", "-c", "import numpy; print('tinytorch-harness sandbox, numpy', numpy.__version__)"]
