"""Helpers for testing conda-store-jupyter without access to a real conda channel."""
