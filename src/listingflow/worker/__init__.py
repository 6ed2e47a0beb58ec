"""Dramatiq wiring only: the broker chosen by settings, the embedded worker, per-loop databases."""
