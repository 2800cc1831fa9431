"""The API's JSON bodies as pydantic models.

`PhotoResultSchema` validates exactly `howold.pipeline.PhotoResult.to_dict()`, the schema that
`howold predict --json` writes (inside `ResultsSchema`) and `POST /v1/predict` returns.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from howold import WARNINGS, AgeCheck

FaceWarning = Literal[WARNINGS]  # type: ignore[valid-type]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgeCheckSchema(_Strict):
    """The answer to an age check (`over`, `challenge`): howold.pipeline.Face.check."""

    over: float = Field(ge=0, le=AgeCheck.MAX_AGE, description="the age checked, in years")
    p_over: float = Field(ge=0, le=1, description="calibrated probability that the person is at least `over`")
    challenge: float = Field(ge=0, le=AgeCheck.MAX_AGE, description="the age the face must look to pass")
    p_challenge: float = Field(ge=0, le=1, description="calibrated probability that the person is at least `challenge`")
    verdict: Literal[AgeCheck.VERDICTS] = Field(  # type: ignore[valid-type]
        description=f"'over' when p_challenge >= {AgeCheck.PASS_PROBABILITY:g}, else 'check_id'"
    )


class DistributionSchema(_Strict):
    """A face's calibrated age distribution: probs[i] is the probability of the age ages[i]."""

    ages: list[int]
    probs: list[float]


def _absent_unless_given() -> Any:
    # left out of the JSON unless asked for, so the default answer stays as small as PhotoResult.to_dict()'s
    return Field(default=None, exclude_if=lambda value: value is None)


class FaceSchema(_Strict):
    """One face; the ages are null when no age model is installed."""

    box: tuple[float, float, float, float] = Field(
        description="x1, y1, x2, y2 in pixels", examples=[[412.3, 188.0, 530.9, 334.6]]
    )
    score: float = Field(ge=0.0, le=1.0, description="detection confidence")
    landmarks: list[tuple[float, float]] = Field(
        min_length=5,
        max_length=5,
        description="eyes, nose tip, mouth corners as (x, y)",
        examples=[[[447.1, 245.2], [497.6, 244.0], [473.5, 273.9], [452.8, 301.3], [494.0, 300.2]]],
    )
    age: float | None = Field(description="estimated age in years")
    age_low: float | None = Field(description="low end of the 80% range")
    age_high: float | None = Field(description="high end of the 80% range")
    warnings: list[FaceWarning] = Field(description="reasons to trust the estimate less")
    age_check: AgeCheckSchema | None = _absent_unless_given()
    distribution: DistributionSchema | None = _absent_unless_given()


class PhotoResultSchema(_Strict):
    """One photo: its size, the age model used ('name version') and its faces, largest first."""

    source: str
    width: int = Field(ge=0)
    height: int = Field(ge=0)
    model: str | None = Field(description="age model as 'name version'; null without one")
    faces: list[FaceSchema]
    faces_dropped: int = Field(ge=0, description="faces found beyond the per-photo limit (the smallest), left out")
    error: str | None = Field(description="why the photo could not be read; null when it was")


class PersonSchema(_Strict):
    """One person followed through a clip, with the age settled over their frames."""

    person: int = Field(ge=1, description="1, 2, ... in order of first appearance")
    first_seen: float = Field(ge=0, description="seconds into the clip")
    last_seen: float = Field(ge=0, description="seconds into the clip")
    frames: int = Field(ge=1, description="analysed frames their face was found in")
    age: float | None = Field(description="settled age in years")
    age_low: float | None = Field(description="low end of the 80% range")
    age_high: float | None = Field(description="high end of the 80% range")
    looks: float = Field(ge=0, description="how many equally good frames the evidence is worth")
    box: tuple[float, float, float, float] = Field(
        description="their best look's box, x1, y1, x2, y2", examples=[[412.3, 188.0, 530.9, 334.6]]
    )
    best_time: float = Field(ge=0, description="when their best look was, in seconds")
    warnings: list[FaceWarning]


class VideoResultSchema(_Strict):
    """One clip: its size and length, the frames read and analysed, and one entry per person."""

    source: str
    kind: Literal["video"]
    width: int = Field(ge=0)
    height: int = Field(ge=0)
    fps: float = Field(ge=0, description="the clip's frame rate")
    duration: float = Field(ge=0, description="seconds")
    rotation: int = Field(description="degrees the clip's display matrix turned it by")
    frames_read: int = Field(ge=0)
    frames_analysed: int = Field(ge=0)
    model: str | None = Field(description="age model as 'name version'; null without one")
    persons: list[PersonSchema]
    truncated: bool = Field(description="the file ended early; the results cover what could be read")
    stopped_at: float | None = Field(description="analysis stopped at this many seconds (a limit)")
    notes: list[str] = Field(default=[], description="sentences on how complete the result is (a limit, a cut file)")
    error: str | None
    frames: list[dict[str, Any]] | None = Field(default=None, description="per analysed frame, when asked for")


class ResultsSchema(_Strict):
    """The document `howold predict --json FILE` writes."""

    howold_version: str
    results: list[PhotoResultSchema | VideoResultSchema]


class ErrorSchema(_Strict):
    """Every error response: one sentence saying what went wrong."""

    detail: str


class HealthSchema(_Strict):
    status: Literal["ok"]


class ReadySchema(_Strict):
    status: Literal["ready"]
    model: str | None = Field(description="age model as 'name version'; null without one")
    model_missing_reason: str | None
    in_flight: int = Field(ge=0, description="predict requests being handled now")
    max_in_flight: int


class ModelInfoSchema(BaseModel):
    """The installed age model's sidecar (name, version, metrics, preprocessing)."""

    model_config = ConfigDict(extra="allow")

    name: str
    version: str
    backbone: str
    metrics: dict[str, Any]
    input_size: int
    min_age: int
    max_age: int
    interval: float
