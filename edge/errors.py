"""One base exception per boundary. Messages say what was wrong and what would be valid."""


class FetalEdgeError(Exception):
    """Base of every error fetal-edge raises on purpose."""

    exit_code = 1


class ConfigError(FetalEdgeError):
    """A config file or option is malformed or impossible."""

    exit_code = 2


class InputError(FetalEdgeError):
    """An image, frame, pixel size or other user input cannot be used."""

    exit_code = 3


class ModelError(FetalEdgeError):
    """A model file or manifest is missing, altered, truncated or does not match."""

    exit_code = 4


class BackendError(FetalEdgeError):
    """An inference backend is unavailable or failed."""

    exit_code = 5


class SyncError(FetalEdgeError):
    """The outbox, broker or receiver refused or failed."""

    exit_code = 6
