"""The howold REST API: `create_app()` builds the FastAPI application.

The models load once, in the lifespan, before the first request (or before the server starts,
when `howold serve` hands them in). Inference is CPU-bound and runs in worker threads, at most
`concurrency` at once, so the event loop keeps answering; a client that disconnects stops its
work (before it starts, and for a video between analysed frames).
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from howold import (
    DEFAULT_MODEL_PATH,
    AgeCheck,
    DetectOptions,
    HowoldError,
    PhotoResult,
    Predictor,
    VideoOptions,
    __version__,
    analyse_video,
    is_video,
    looks_like_video,
    probe_video,
)
from howold.api.schemas import (
    ErrorSchema,
    HealthSchema,
    ModelInfoSchema,
    PhotoResultSchema,
    ReadySchema,
    VideoResultSchema,
)
from howold.api.settings import Settings
from howold.api.upload import FORM_FIELD, BodyBudget, read_upload, too_large

log = logging.getLogger("howold.api")
T = TypeVar("T")

IMAGE_MEDIA_TYPES = (
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/heic",
    "video/mp4",
    "video/quicktime",
    "video/webm",
    "video/x-matroska",
    "application/octet-stream",
)


class ServerState:
    """What the app holds between requests: settings, loaded predictors, requests in flight."""

    def __init__(self, settings: Settings, predictor: Predictor | None = None) -> None:
        self.settings = settings
        self.default = predictor
        self.in_flight = 0  # touched only on the event loop thread
        self.limiter: anyio.CapacityLimiter | None = None
        self.bodies = BodyBudget(settings.max_bodies_bytes, settings.retry_after_s)

    def load(self) -> None:
        """Load the models (blocking; run once at start-up)."""
        options = DetectOptions(min_score=self.settings.min_score, max_side=self.settings.max_side)
        model = self.settings.model or DEFAULT_MODEL_PATH
        self.default = Predictor(model, options, threads=self.settings.threads).prepare()

    @property
    def predictor(self) -> Predictor:
        """The loaded predictor (`ready_state` answers 503 before there is one)."""
        if self.default is None:
            raise HTTPException(503, "The models are still loading; retry shortly.", headers={"Retry-After": "1"})
        return self.default

    @property
    def busy(self) -> bool:
        return self.in_flight >= self.settings.max_in_flight

    def refuse_if_busy(self) -> None:
        """Refuse with 503 and Retry-After while max_in_flight requests wait for or run inference."""
        if self.busy:
            wait = self.settings.retry_after_s
            raise HTTPException(
                503,
                f"The server is busy with {self.settings.max_in_flight} requests in flight; retry after {wait} s.",
                headers={"Retry-After": str(wait)},
            )

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Count a predict request (its photo received) in flight, or refuse it with 503 when too many are."""
        self.refuse_if_busy()
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1


def get_state(request: Request) -> ServerState:
    return request.app.state.howold


def ready_state(state: Annotated[ServerState, Depends(get_state)]) -> ServerState:
    if state.default is None:
        raise HTTPException(503, "The models are still loading; retry shortly.", headers={"Retry-After": "1"})
    return state


State = Annotated[ServerState, Depends(ready_state)]

_bearer = HTTPBearer(auto_error=False, description="the server's HOWOLD_API_KEY")


def require_api_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Refuse with 401 unless the request carries 'Authorization: Bearer <HOWOLD_API_KEY>'."""
    key = get_state(request).settings.api_key
    if not key:  # unset or empty: no key needed
        return
    given = credentials.credentials.encode() if credentials else b""
    if not hmac.compare_digest(given, key.get_secret_value().encode()):
        raise HTTPException(
            401,
            "A valid API key is required: send the header 'Authorization: Bearer <key>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorSchema} for code in codes}


probes = APIRouter(tags=["probes"])


@probes.get("/healthz", response_model=HealthSchema)
async def healthz() -> dict[str, str]:
    """The process is alive and answering."""
    return {"status": "ok"}


@probes.get("/readyz", response_model=ReadySchema, responses=_errors(503))
async def readyz(state: State) -> dict[str, Any]:
    """The models are loaded and a predict request would be accepted now (503 while loading or busy)."""
    state.refuse_if_busy()
    info = state.predictor.model_info
    return {
        "status": "ready",
        "model": info.label if info else None,
        "model_missing_reason": state.predictor.missing_model_reason,
        "in_flight": state.in_flight,
        "max_in_flight": state.settings.max_in_flight,
    }


v1 = APIRouter(prefix="/v1", tags=["v1"])


@v1.get("/model", response_model=ModelInfoSchema, responses=_errors(401, 404, 503))
async def model(state: State) -> dict[str, Any]:
    """The installed age model's sidecar: name, version, metrics and preprocessing."""
    info = state.predictor.model_info
    if info is None:
        raise HTTPException(404, state.predictor.missing_model_reason or "No age model is loaded.")
    return info.to_dict()


AGE_CHECK_HELP = {
    "over": f"photos: the age to check, 0 to {AgeCheck.MAX_AGE:g}; each face gets `age_check` with the "
    "probability that the person is at least that old and a verdict",
    "challenge": "with `over`: answer 'over' only when the person more likely than not is at least this old, "
    "else 'check_id' (default: `over` plus the measured margin, "
    + ", ".join(f"{t}: +{m:g}" for t, m in AgeCheck.CHALLENGE_MARGINS.items())
    + ")",
}


_binary = {"type": "string", "format": "binary"}
_PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "description": (
            f"The photo or short video: a multipart form with the field '{FORM_FIELD}', or the raw bytes. "
            f"Videos (MP4, MOV, WebM, MKV, AVI) may be up to {VideoOptions.SERVICE_MAX_MB} MiB and "
            f"{VideoOptions.SERVICE_MAX_SECONDS:g} s long by default (HOWOLD_MAX_VIDEO_MB, HOWOLD_MAX_VIDEO_SECONDS)."
        ),
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FORM_FIELD],
                    "properties": {FORM_FIELD: _binary},
                }
            },
            **{media_type: {"schema": _binary} for media_type in IMAGE_MEDIA_TYPES},
        },
    }
}


@v1.post(
    "/predict",
    response_model=PhotoResultSchema | VideoResultSchema,
    responses=_errors(401, 408, 413, 415, 422, 503),
    openapi_extra=_PREDICT_BODY,
)
async def predict(
    request: Request,
    state: State,
    min_score: Annotated[
        float | None, Query(ge=DetectOptions.SERVICE_MIN_SCORE, le=1.0, description="detection threshold")
    ] = None,
    max_side: Annotated[
        int | None,
        Query(
            ge=DetectOptions.MIN_SIDE,
            le=DetectOptions.SERVICE_MAX_SIDE,
            description="detector input size, long side in pixels",
        ),
    ] = None,
    fps: Annotated[
        float | None,
        Query(
            gt=0,
            le=VideoOptions.SERVICE_MAX_FPS,
            description=f"videos: frames analysed per second (default {VideoOptions.fps:g})",
        ),
    ] = None,
    over: Annotated[str | None, Query(description=AGE_CHECK_HELP["over"])] = None,
    challenge: Annotated[str | None, Query(description=AGE_CHECK_HELP["challenge"])] = None,
    distribution: Annotated[bool, Query(description="photos: add each face's age distribution")] = False,
) -> dict[str, Any]:
    """Find every face in the photo and estimate each one's age with an 80% range; for a short
    video, follow each person through it and return one settled age per person."""
    state.refuse_if_busy()  # early, so a busy server does not make the client send the photo
    check = age_check(over, challenge)
    settings = state.settings
    declared = request.headers.get("content-type", "").lower()
    photo_limit, video_limit = settings.max_upload_bytes, settings.max_video_bytes
    # a body declared as a photo or a video is held to its own limit while it arrives; any other to the larger
    limit = (
        photo_limit
        if declared.startswith("image/")
        else video_limit
        if declared.startswith("video/")
        else (max(photo_limit, video_limit))
    )
    detect = detect_options(state.predictor, min_score, max_side)
    with state.bodies.hold() as hold:  # the body stays in memory until the answer is ready
        upload = await read_upload(request, limit, settings.body_timeout_s, hold)
        video = upload.media_type.startswith("video/") or is_video(upload.name) or looks_like_video(upload.data)
        if len(upload.data) > (video_limit if video else photo_limit):
            raise too_large(video_limit if video else photo_limit)
        if video:
            return await _predict_video(request, state, upload, fps, detect)
        with state.admit():

            def run(left: threading.Event) -> PhotoResult:
                if left.is_set():  # the client left while the request waited for a worker
                    raise ClientLeft
                return state.predictor.analyse(upload.data, name=upload.name, options=detect)

            result = await run_for_client(request, run, state.limiter)
    if not result.ok:
        raise HTTPException(422, result.error)
    return result.to_dict(check, distribution)


def age_check(over: str | None, challenge: str | None) -> AgeCheck | None:
    """The age check a request's query parameters ask for, or 422 with one sentence naming the parameter."""
    if over is None:
        if challenge is not None:
            raise HTTPException(422, "Query parameter challenge needs over (the age checked).")
        return None
    try:  # the query's text read as ages here, with the same sentences AgeCheck would give
        over_age = AgeCheck.parse_age("over", over)
        challenge_age = None if challenge is None else AgeCheck.parse_age("challenge", challenge)
        return AgeCheck(over_age, challenge_age)
    except HowoldError as exc:
        raise HTTPException(422, f"Query parameter {exc}") from exc


def detect_options(predictor: Predictor, min_score: float | None, max_side: int | None) -> DetectOptions:
    """The predictor's detection options with a request's query parameters (None: not given)."""
    options = predictor.options
    if min_score is not None:
        options = replace(options, min_score=min_score)
    if max_side is not None:
        options = replace(options, max_side=max_side)
    return options


class ClientLeft(Exception):
    """The client closed its connection before its answer was ready."""


def _stop_if_left(left: threading.Event) -> Callable[[int, float], None]:
    def on_frame(frames: int, time: float) -> None:
        if left.is_set():
            log.info("the client left; video analysis stopped after %d frames (%.1f s of clip)", frames, time)
            raise ClientLeft

    return on_frame


async def run_for_client(request: Request, work: Callable[[threading.Event], T], limiter) -> T:
    """Return `work(left)` run in a worker thread; `left` is set as soon as the client disconnects,
    so the work can stop (it raises ClientLeft), and a request still waiting for a worker never starts.
    The body must have been read: the next ASGI message is then the disconnect."""
    left = threading.Event()
    outcome: dict[str, Any] = {}

    async def watch(scope: anyio.CancelScope) -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass
        left.set()
        scope.cancel()  # the work stops waiting for a worker; a running one stops at its next check

    async with anyio.create_task_group() as group:
        group.start_soon(watch, group.cancel_scope)
        try:
            outcome["value"] = await anyio.to_thread.run_sync(work, left, limiter=limiter)
        except Exception as exc:  # raised after the group, not wrapped in an ExceptionGroup
            outcome["error"] = exc
        group.cancel_scope.cancel()
    if left.is_set() or isinstance(outcome.get("error"), ClientLeft):
        raise HTTPException(400, "The client disconnected before the answer was ready.")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


async def _predict_video(request: Request, state: ServerState, upload, fps, detect: DetectOptions) -> dict[str, Any]:
    limit = state.settings.max_video_seconds
    with state.admit():

        def run(left: threading.Event):
            if left.is_set():
                raise ClientLeft
            try:
                info = probe_video(upload.data, name=upload.name)
            except HowoldError as exc:
                raise HTTPException(422, str(exc)) from exc
            if info.duration and info.duration > limit + 0.5:
                raise HTTPException(
                    413, f"{upload.name}: the clip is {info.duration:.0f} s long; the limit is {limit:g} s."
                )
            options = VideoOptions.upload(fps, max_seconds=limit)
            return analyse_video(state.predictor, upload.data, options, name=upload.name, detect=detect,
                                 on_frame=_stop_if_left(left), should_stop=left.is_set)  # fmt: skip

        result = await run_for_client(request, run, state.limiter)
    if not result.ok:
        raise HTTPException(422, result.error)
    return result.to_dict()


def create_app(settings: Settings | None = None, predictor: Predictor | None = None) -> FastAPI:
    """Return the API application; settings come from HOWOLD_* environment variables by default,
    and the models load at start-up unless `predictor` (prepared) is given."""
    state = ServerState(settings or Settings(), predictor)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.limiter = anyio.CapacityLimiter(state.settings.concurrency)
        _quiet_accept_errors(asyncio.get_running_loop())
        if state.default is None:
            await anyio.to_thread.run_sync(state.load)
        info = state.predictor.model_info
        log.info("howold models loaded; age model: %s", info.label if info else "none")
        yield

    app = FastAPIOffline(  # /docs with Swagger UI's files from the package, no CDN
        redoc_url=None,
        title="howold",
        version=__version__,
        summary="Find every face in a photo and estimate how old each person looks, with a range.",
        description=versions_text(state.settings.model),
        lifespan=lifespan,
    )
    app.state.howold = state
    _add_error_handlers(app)
    app.include_router(probes)
    guard = [Depends(require_api_key)] if state.settings.api_key else []
    app.include_router(v1, dependencies=guard)
    return app


def _quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Log running out of file descriptors as one line, not asyncio's traceback per failed accept
    (asyncio then waits a second before it accepts again)."""
    default = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
            log.error("out of file descriptors (%s); new connections wait a second", exc.strerror)
        elif default is not None:
            default(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"There is no endpoint at {request.url.path}; see /docs for the API."
        elif exc.status_code == 405 and detail == "Method Not Allowed":
            detail = f"{request.method} is not allowed on {request.url.path}; see /docs for the API."
        return JSONResponse({"detail": str(detail)}, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _one_sentence(exc.errors())}, 422)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        # the server logs the traceback when the error propagates on from here
        log.error("unhandled %s on %s %s: %s", type(exc).__name__, request.method, request.url.path, exc)
        return JSONResponse({"detail": "The server failed on this request; the error has been logged."}, 500)


def _one_sentence(errors: Sequence[Any]) -> str:
    """Return the first validation error as a sentence, e.g. "Query parameter min_score: ..."."""
    if not errors:
        return "The request is invalid."
    error = errors[0]
    where, *names = [str(part) for part in error.get("loc", ())] or ["request"]
    field = ".".join(names)
    message = str(error.get("msg", "is invalid")).rstrip(".")
    label = f"{where.capitalize()} parameter {field}" if field else where.capitalize()
    return f"{label}: {message}."


def versions_text(model: str | None) -> str:
    """The /docs page's line on versions: the package's (the page's version) is not the age model's."""
    from howold import DEFAULT_MODEL_PATH, read_model_info

    try:
        info = read_model_info(model or DEFAULT_MODEL_PATH)
        served = f"the age model {info.label}"
    except HowoldError:
        served = "no age model (faces are found, not aged)"
    return f"The version above is howold's ({__version__}); it serves {served}, described at GET /v1/model."
