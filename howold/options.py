"""Settings owned by the core, each with its default and bounds written once; light (standard library
only) so that frontends can build their arguments, sliders and fields from it without loading models."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields
from typing import ClassVar

from howold.errors import HowoldError, OptionError


@dataclass(frozen=True)
class DetectOptions:
    """How faces are found, and the one place each option's default and bounds live.

    `min_score`: detection confidence threshold in [0, 1]. `max_side`: the detector sees at most
    this many pixels on the long side (at least `MIN_SIDE`; None for full size, which frontends
    write `FULL_SIZE`, 0, and which this class reads as None). `min_face_size`:
    faces smaller than this on their short side (pixels of the photo) are dropped. `max_faces`:
    at most this many faces per photo get an age, the largest; the rest are counted as dropped.

    Frontends that serve other people (the REST API) also hold requests to the service bounds:
    `min_score` at least `SERVICE_MIN_SCORE` (below it the detector returns hundreds of boxes
    on background) and `max_side` at most `SERVICE_MAX_SIDE` (detector time and memory grow
    with its square).
    """

    min_score: float = 0.9
    max_side: int | None = 1280
    min_face_size: float = 0.0
    max_faces: int = 256

    MIN_SIDE: ClassVar[int] = 32
    FULL_SIZE: ClassVar[int] = 0  # max_side None as flags, environment variables and sliders write it
    # the command-line flag of each option that has one (howold predict, howold batch)
    FLAGS: ClassVar[dict[str, str]] = {"min_score": "--min-score", "max_side": "--max-side",
                                       "min_face_size": "--min-face"}
    SERVICE_MIN_SCORE: ClassVar[float] = 0.5
    SERVICE_MAX_SIDE: ClassVar[int] = 2560

    def __post_init__(self) -> None:
        if self.max_side == self.FULL_SIZE:
            object.__setattr__(self, "max_side", None)
        if not 0.0 <= self.min_score <= 1.0:
            raise OptionError("min_score", f"must be between 0 and 1, got {self.min_score}")
        if self.max_side is not None and self.max_side < self.MIN_SIDE:
            raise OptionError("max_side", f"must be at least {self.MIN_SIDE} pixels, got {self.max_side}")
        if not self.min_face_size >= 0:
            raise OptionError("min_face_size", f"must be 0 or more pixels, got {self.min_face_size}")
        if self.max_faces < 1:
            raise OptionError("max_faces", f"must be at least 1, got {self.max_faces}")

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add the detection flags, with their defaults, to a command's parser."""
        default = cls()
        parser.add_argument(cls.FLAGS["min_score"], type=float, default=default.min_score, metavar="S",
                            help=f"detection confidence threshold, 0..1 (default {default.min_score})")
        parser.add_argument(cls.FLAGS["max_side"], type=int, default=default.max_side, metavar="N",
                            help="detect on a copy at most N pixels on its long side; "
                                 f"{cls.FULL_SIZE} = full size (default {default.max_side})")
        parser.add_argument(cls.FLAGS["min_face_size"], type=float, default=default.min_face_size, metavar="PX",
                            dest="min_face_size",
                            help=f"ignore faces smaller than PX pixels (default {default.min_face_size:g})")

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> DetectOptions:
        """The options given by the flags of `add_arguments`; a value out of range is a HowoldError
        naming its flag."""
        values = {f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)}
        try:
            return cls(**values)
        except OptionError as exc:
            raise HowoldError(f"{cls.FLAGS.get(exc.option, exc.option)} {exc.reason}.") from exc
