"""Invoke collections; `tasks.py` at the repository root wires them together."""
