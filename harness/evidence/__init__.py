"""Evidence: what the host hands a run (secret probes, initial weights) and how it grades what comes back.

The sandbox returns raw arrays (trained weights, outputs and gradients on the host's probes); every
grade-bearing number is computed here, with numpy, against data the sandbox never saw.
"""


class EvidenceProblem(Exception):
    """The run's evidence is missing or malformed: the checks that need it fail with this reason."""


class ArchitectureMismatch(EvidenceProblem):
    """The exported weights do not fit the extra's declared architecture (names, shapes, behaviour)."""
