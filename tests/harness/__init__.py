"""Tests of the harness core, with fake extras and submissions."""
