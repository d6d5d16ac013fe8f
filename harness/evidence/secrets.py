"""The instructor's secrets: probe key, answer keys and hidden thresholds, kept outside the public tree.

``HARNESS_SECRETS`` (or ``--secrets DIR``) names a directory that is never mounted into a sandbox
and never lives in a repository students can read::

    probe-key          one line, at least 32 hex characters: seeds every run's probes and starts
    references/*.json  answer keys (e.g. tinytalks_test_answers.json)
    thresholds.yaml    {criterion id: {check name: {rule: {...}, profile_rules: {...}}}} overrides

Without it the public sample (``criteria/sample-secrets/``) is used, so that students can run every
extra locally; reports then say the secrets are the public sample, not fit for grading.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "criteria" / "sample-secrets"
ENV_VAR = "HARNESS_SECRETS"
_KEY = re.compile(r"^[0-9a-fA-F]{32,}$")


class SecretsError(Exception):
    """The secrets directory is missing or malformed (the message names the file and the fix)."""


@dataclass(frozen=True)
class Secrets:
    root: Path
    is_sample: bool

    @property
    def label(self) -> str:
        return "public sample (not for grading)" if self.is_sample else "instructor"

    def probe_key(self) -> bytes:
        path = self.root / "probe-key"
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretsError(f"{path}: cannot read the probe key ({exc.strerror}); create it with "
                               "`python -c 'import secrets; print(secrets.token_hex(32))' > probe-key`"
                               ) from None
        if not _KEY.match(text):
            raise SecretsError(f"{path}: the probe key must be one line of at least 32 hex characters")
        return bytes.fromhex(text[: len(text) // 2 * 2])

    def run_seed(self, *parts: str) -> int:
        """A 63-bit seed from the probe key and the run's identity: unpredictable without the key,
        the same for the same submission, extra, profile and seed (so grading is reproducible)."""
        digest = hmac.new(self.probe_key(), "\0".join(parts).encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") >> 1

    @property
    def references_dir(self) -> Path:
        return self.root / "references"

    def thresholds(self) -> dict:
        path = self.root / "thresholds.yaml"
        if not path.is_file():
            return {}
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise SecretsError(f"{path}: not valid YAML ({exc})") from None
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise SecretsError(f"{path}: expected {{criterion id: {{check name: {{rule: ...}}}}}}")
        return data


def load_secrets(path: Path | str | None = None) -> Secrets:
    """The secrets at ``path``, else ``$HARNESS_SECRETS``, else the public sample."""
    chosen = path or os.environ.get(ENV_VAR)
    if not chosen:
        return Secrets(SAMPLE_DIR, is_sample=True)
    root = Path(chosen).expanduser().resolve()
    if not root.is_dir():
        raise SecretsError(f"secrets directory {root} does not exist (from "
                           f"{'--secrets' if path else ENV_VAR}); create it or unset {ENV_VAR}")
    return Secrets(root, is_sample=root == SAMPLE_DIR.resolve())


def active_secrets() -> Secrets:
    """The secrets this process grades with: ``$HARNESS_SECRETS`` (set by ``--secrets``), else the sample."""
    return load_secrets()
