"""Readers of the real development data (paths from compress.paths)."""
