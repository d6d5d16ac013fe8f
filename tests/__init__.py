"""Project tests (a package, so tests/tinytorch does not shadow the real tinytorch package)."""
