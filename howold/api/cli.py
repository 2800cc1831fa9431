"""`howold serve`: run the REST API with uvicorn. Imports only the standard library and howold's
light names at load time, so `howold --help` stays fast; FastAPI and uvicorn load when the command
runs."""

from __future__ import annotations

import argparse

from howold import HowoldError, require_extra

SERVE_DESCRIPTION = (
    "Serve the REST API: POST /v1/predict, GET /healthz, /readyz, /v1/model, docs at /docs. "
    "Other settings come from HOWOLD_* environment variables."
)


def _describe_settings_on_help(serve: argparse.ArgumentParser) -> None:
    """List every HOWOLD_* setting with its default when `howold serve --help` is printed: the
    defaults come from their owner, `howold.api.settings.Settings`, loaded only then (pydantic
    would slow every `howold` command)."""
    format_help = serve.format_help

    def format_help_with_settings() -> str:
        serve.description = f"{SERVE_DESCRIPTION} {settings_help()}"
        return format_help()

    serve.format_help = format_help_with_settings  # type: ignore[method-assign]


def settings_help() -> str:
    """The HOWOLD_* variables with their defaults, or how to get them without the [api] extra."""
    try:
        from howold.api.settings import Settings
    except ImportError:
        return "Install the [api] extra to see them and their defaults."
    described = []
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        shown = "" if default is None else f" ({default:g})" if isinstance(default, float) else f" ({default})"
        described.append(f"HOWOLD_{name.upper()}{shown}")
    return "They are " + ", ".join(described) + "."


def add_serve_command(subparsers) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the REST API, POST /v1/predict (needs the [api] extra)",
        description=SERVE_DESCRIPTION,
    )
    _describe_settings_on_help(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="worker processes, each with its own models (default 1)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=("critical", "error", "warning", "info", "debug"),
        help="server log level (default info)",
    )
    serve.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    require_extra("serve", "api")
    import uvicorn

    from howold.api.settings import Settings

    if args.workers < 1:
        raise HowoldError(f"--workers must be at least 1, got {args.workers}.")
    if not 0 < args.port < 65536:
        raise HowoldError(f"--port must be between 1 and 65535, got {args.port}.")
    from howold.api.protocol import fit_to_open_files, guarded_protocol

    settings = _check_settings(Settings)
    predictor = _load_models(settings)  # a damaged model fails here with one sentence, not in a worker
    app: object  # the app itself, or its factory's import path for uvicorn's workers
    if args.workers == 1:
        from howold.api.app import create_app

        app, factory = create_app(settings, predictor), False
    else:  # each worker process loads its own models
        app, factory = "howold.api.app:create_app", True
    limits = fit_to_open_files(settings.header_timeout_s, settings.max_connections)
    uvicorn.run(
        app,
        factory=factory,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        log_config=_log_config(),
        http=guarded_protocol(limits),
        backlog=limits.backlog,
    )
    return 0


def _check_settings(settings_class):
    """Read the settings and the model's sidecar now, so a mistake fails with one sentence."""
    from pydantic import ValidationError

    from howold import Predictor

    try:
        settings = settings_class()
    except ValidationError as exc:
        error = exc.errors()[0]
        message = error["msg"].removeprefix("Value error, ")
        if not error["loc"]:  # a rule between settings
            raise HowoldError(f"HOWOLD_* settings: {message}.") from exc
        name = "HOWOLD_" + "_".join(str(p) for p in error["loc"]).upper()
        raise HowoldError(f"{name}: {message}.") from exc
    if settings.model:
        Predictor(model=settings.model)  # raises ModelError naming what is wrong
    return settings


def _load_models(settings):
    """The server's predictor, its models loaded; a missing or damaged model raises ModelError."""
    from howold.api.app import ServerState

    state = ServerState(settings)
    state.load()
    return state.default


def _log_config() -> dict:
    """Uvicorn's logging configuration, with howold's own loggers printed like uvicorn's."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["howold"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config
