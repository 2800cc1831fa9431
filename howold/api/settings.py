"""The API server's settings: one object, read from HOWOLD_* environment variables."""

from __future__ import annotations

import os

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from howold import DetectOptions, VideoOptions

MIB = 1024 * 1024


def _default_concurrency() -> int:
    return max(1, min(4, os.cpu_count() or 1))


# the service always bounds the detector's input: DetectOptions' default size (1280), or its service
# bound were that default ever full size (None)
_DEFAULT_MAX_SIDE: int = DetectOptions.max_side or DetectOptions.SERVICE_MAX_SIDE


class Settings(BaseSettings):
    """How the API behaves; every field is also an environment variable, e.g. HOWOLD_API_KEY.

    `max_in_flight` bounds the predict requests whose photo has arrived and that wait for or run
    inference; beyond it the server answers 503 with Retry-After. A body is read before that,
    within `body_timeout_s` (408 otherwise), so a slow client never holds a place, and only once
    it fits in `max_bodies_mb`, what all bodies in memory may hold together (503 otherwise).
    `concurrency` bounds how many run inference at the same time (each in a worker thread).
    A connection must send its request headers within `header_timeout_s`, and at most
    `max_connections` are open (fewer when the open-files limit is lower); at the cap a new one
    pushes out the one that has waited longest for its headers (see howold.api.protocol).
    Detection bounds (`min_score`, `max_side`) are `howold.detect.DetectOptions`'s service bounds.
    Every number must be finite: `inf` would turn a limit off.
    """

    model_config = SettingsConfigDict(env_prefix="HOWOLD_", extra="ignore", allow_inf_nan=False)

    api_key: SecretStr | None = Field(
        default=None, description="when set, /v1/* needs the header 'Authorization: Bearer <key>'"
    )
    model: str | None = Field(
        default=None, description="ONNX age model with its .json sidecar (default: the shipped one)"
    )
    min_score: float = Field(
        default=DetectOptions.min_score,
        ge=DetectOptions.SERVICE_MIN_SCORE,
        le=1.0,
        description="default detection threshold",
    )
    max_side: int = Field(
        default=_DEFAULT_MAX_SIDE,
        ge=DetectOptions.MIN_SIDE,
        le=DetectOptions.SERVICE_MAX_SIDE,
        description="default detector input size",
    )
    threads: int | None = Field(default=None, ge=1, description="onnxruntime threads per session")
    max_upload_mb: float = Field(default=20.0, gt=0, description="largest photo upload, in MiB")
    max_video_mb: float = Field(default=VideoOptions.SERVICE_MAX_MB, gt=0, description="largest video upload, in MiB")
    max_video_seconds: float = Field(
        default=VideoOptions.SERVICE_MAX_SECONDS, gt=0, description="longest video accepted, in seconds"
    )
    max_in_flight: int = Field(default=16, ge=1, description="predict requests accepted at once")
    concurrency: int = Field(default_factory=_default_concurrency, ge=1, description="inferences run at once")
    retry_after_s: int = Field(default=1, ge=0, description="Retry-After sent with a 503")
    body_timeout_s: float = Field(default=30.0, gt=0, le=3600, description="seconds a request body may take to arrive")
    header_timeout_s: float = Field(
        default=10.0, gt=0, le=3600, description="seconds a connection may take to send its request headers"
    )
    max_connections: int = Field(default=1000, ge=1, description="connections open at once, per worker")
    max_bodies_mb: float = Field(
        default=256.0, gt=0, description="what all request bodies held in memory may add up to, in MiB"
    )

    @model_validator(mode="after")
    def _bodies_hold_the_largest_upload(self) -> Settings:
        largest = max(self.max_upload_mb, self.max_video_mb)
        if self.max_bodies_mb < largest:
            raise ValueError(f"max_bodies_mb ({self.max_bodies_mb:g}) must hold the largest upload ({largest:g} MiB)")
        return self

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MIB)

    @property
    def max_video_bytes(self) -> int:
        return int(self.max_video_mb * MIB)

    @property
    def max_bodies_bytes(self) -> int:
        return int(self.max_bodies_mb * MIB)
