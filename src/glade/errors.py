"""Errors shared by several rooms of the code (a leaf module: imports nothing of Glade's)."""

from __future__ import annotations


class SettingError(ValueError):
    """A value that a setting refuses; the message says what is expected."""
