"""The one exception tree of howold: every error a person may see derives from HowoldError."""


class HowoldError(Exception):
    """Base class: the message is one sentence a person can act on."""


class ImageError(HowoldError):
    """An image could not be read: missing, empty, truncated, not an image, or too large."""


class ModelError(HowoldError):
    """A model file or its sidecar is missing, corrupt, or does not fit howold."""


class NoModelError(ModelError):
    """No age model is installed or given."""
