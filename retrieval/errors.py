"""Domain errors. Each message tells the user what to do about it."""


class NewsdeskError(Exception):
    """Base class: the CLI prints ``str(err)`` on one line and exits non-zero."""

    exit_code = 1


class ConfigError(NewsdeskError):
    """A setting is missing or has a bad value."""


class NoIndexError(NewsdeskError):
    """There is nothing to search yet."""


class BackendError(NewsdeskError):
    """An answer backend (LLM) is unreachable, misconfigured or failed."""


class StoreError(NewsdeskError):
    """The vector store (Chroma) failed or is unreachable."""


class SkipFile(Exception):
    """Raised by a loader for a file that is not ingested; ``str()`` is the reason."""
