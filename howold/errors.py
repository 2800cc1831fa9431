"""The one exception tree of howold: every error a person may see derives from HowoldError."""


class HowoldError(Exception):
    """Base class: the message is one sentence a person can act on."""


class ImageError(HowoldError):
    """An image could not be read: missing, empty, truncated, not an image, or too large."""


class VideoError(HowoldError):
    """A video could not be read or written: missing, not a video, no frames, or damaged."""


class ModelError(HowoldError):
    """A model file or its sidecar is missing, corrupt, or does not fit howold."""


class NoModelError(ModelError):
    """No age model is installed or given."""


class WorkerError(HowoldError):
    """The worker processes of `howold predict --workers` keep stopping (killed, or out of memory), fresh
    ones too: the photos not yet analysed have no result."""


class OptionError(HowoldError, ValueError):
    """An option is out of range; `option` names it and `reason` says what it must be."""

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"{option} {reason}.")
        self.option = option
        self.reason = reason


def brief(exc: BaseException) -> str:
    """The first line of an exception's message, short enough to sit inside a one-sentence error."""
    lines = str(exc).strip().splitlines()
    text = lines[0].rstrip(".") if lines else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
