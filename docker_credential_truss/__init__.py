"""A Docker credential helper for truss registry auth."""

__version__ = "0.1.0"
