"""The API server's settings: one object, read from HOWOLD_* environment variables."""

from __future__ import annotations

import os

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


def _default_concurrency() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class Settings(BaseSettings):
    """How the API behaves; every field is also an environment variable, e.g. HOWOLD_API_KEY.

    `max_in_flight` bounds the predict requests accepted at once (being received, waiting or
    running); beyond it the server answers 503 with Retry-After. `concurrency` bounds how many of
    them run inference at the same time (each in a worker thread).
    """

    model_config = SettingsConfigDict(env_prefix="HOWOLD_", extra="ignore")

    api_key: SecretStr | None = Field(
        default=None, description="when set, /v1/* needs the header 'Authorization: Bearer <key>'"
    )
    model: str | None = Field(
        default=None, description="ONNX age model with its .json sidecar (default: the shipped one)"
    )
    min_score: float = Field(default=0.9, ge=0.0, le=1.0, description="default detection threshold")
    max_side: int = Field(default=1280, ge=32, le=8192, description="default detector input size")
    threads: int | None = Field(default=None, ge=1, description="onnxruntime threads per session")
    max_upload_mb: float = Field(default=20.0, gt=0, description="largest request body, in MiB")
    max_in_flight: int = Field(default=16, ge=1, description="predict requests accepted at once")
    concurrency: int = Field(default_factory=_default_concurrency, ge=1, description="inferences run at once")
    retry_after_s: int = Field(default=1, ge=0, description="Retry-After sent with a 503")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MIB)
