"""Transforms (package initialiser owned by the augfunc branch)."""
