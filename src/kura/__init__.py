"""KURA OS — the API server for therapists' and healers' practices."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kura")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
