"""jukestudio: a desktop composing workstation for OpenAI's Jukebox music model."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("jukestudio")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
