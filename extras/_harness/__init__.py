"""Harness-side helpers that extras import (stdlib + numpy only, never the student's package)."""
