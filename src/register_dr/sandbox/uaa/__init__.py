"""A UAA-like token service."""
