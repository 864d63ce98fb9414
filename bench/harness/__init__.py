"""Pieces of the Glade benchmark harness; bench/run.py is the entry point."""
