"""The version of denselab (also in pyproject.toml)."""

__version__ = "0.1.0"
