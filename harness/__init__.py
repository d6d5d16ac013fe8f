"""tinytorch-harness: grade TinyTorch milestone extras against YAML criteria."""

__version__ = "0.1.0"
