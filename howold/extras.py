"""The optional extras of pyproject.toml, and the one check a subcommand makes before it needs one.

Standard library only: the check looks for the modules without importing them, so it costs nothing
when the extra is there and says in one sentence what to install when it is not.
"""

from __future__ import annotations

import importlib.util
import sys

from howold.errors import HowoldError

# the modules each extra brings that its commands import (import names, not distribution names)
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "train": ("torch", "torchvision", "timm", "lightning", "torchmetrics", "onnx", "yaml", "pandas", "matplotlib"),
    "tune": ("torch", "lightning", "yaml", "optuna", "optuna_integration"),
    "app": ("streamlit",),
    "api": ("fastapi", "fastapi_offline", "uvicorn", "python_multipart", "pydantic", "pydantic_settings"),
    "batch": ("ray", "pyarrow"),
    "video": ("av", "trackers"),
    "webcam": ("streamlit_webrtc",),
}
# the extra of pyproject.toml that installs each group (howold tune comes with [train])
INSTALLED_BY = {"tune": "train"}


def install_hint(extra: str) -> str:
    """How to install an extra, as the messages of every command and module that needs one say it."""
    install = INSTALLED_BY.get(extra, extra)
    return f"pip install -e '.[{install}]' in the howold checkout"


class MissingExtraError(HowoldError):
    """A command needs an optional extra that is not installed; `missing` names its first absent module."""

    def __init__(self, command: str, extra: str, missing: str) -> None:
        install = INSTALLED_BY.get(extra, extra)
        super().__init__(
            f"howold {command} needs the [{install}] extra ({missing} is not installed): {install_hint(extra)}."
        )
        self.command, self.extra, self.missing = command, install, missing


def missing_module(extra: str) -> str | None:
    """The first module of `extra` that cannot be imported, or None when all are there."""
    for module in EXTRA_MODULES[extra]:
        if module in sys.modules:  # imported already (some, like optuna_integration, have no __spec__)
            if sys.modules[module] is None:  # blocked
                return module
            continue
        try:
            if importlib.util.find_spec(module) is None:
                return module
        except (ImportError, ValueError):  # a parent package missing, or a broken spec
            return module
    return None


def require_extra(command: str, extra: str) -> None:
    """Raise MissingExtraError, one sentence with the install command, unless `extra` is installed."""
    if extra not in EXTRA_MODULES:
        raise ValueError(f"extra: expected one of {sorted(EXTRA_MODULES)}, got {extra!r}")
    missing = missing_module(extra)
    if missing is not None:
        raise MissingExtraError(command, extra, missing)
