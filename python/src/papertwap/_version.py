"""The package version (kept equal to the server's workspace version)."""

__version__ = "0.1.0"
