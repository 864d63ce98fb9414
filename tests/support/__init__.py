"""Helpers for tests that drive a real `glade` process."""
