"""Reading an uploaded image into memory, never to disk, and never more than the size limits.

The body is streamed and counted, so an oversized upload is refused as soon as it is seen to be
too large (at once when Content-Length says so, or when the counted bytes pass the limit for a
chunked body), and it must arrive within a time limit, so a stalled client holds nothing for long.
Before a byte of it is read, the body must fit in what all bodies held in memory may add up to
(`BodyBudget`; its declared length, or each chunk as it comes when it declares none), or it is
refused with 503: 40 clients each sending 48 MiB took the server from 297 MiB to 2.2 GB before.
A multipart form is parsed as it arrives, in memory, off the event loop, with python-multipart's
streaming parser (nothing spools to a temporary file), and refused as soon as it has more than
`FORM_MAX_PARTS` parts: a 49 MiB form of 828k one-byte fields held the event loop for 14-19 s before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

import anyio
from fastapi import HTTPException, Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

RAW_TYPES = ("application/octet-stream",)
FORM_FIELD = "file"
DEFAULT_NAME = "upload"
FORM_MAX_PARTS = 16  # a form from a browser or curl has the file and a few fields
FORM_MAX_HEADER_BYTES = 16 * 1024  # a part's headers, all together


class BodyBudget:
    """What the request bodies held in memory may add up to; used on the event loop thread only."""

    def __init__(self, limit: int, retry_after_s: int = 1) -> None:
        self.limit, self.held, self.retry_after_s = limit, 0, retry_after_s

    @contextmanager
    def hold(self) -> Iterator[Hold]:
        """A request's share, given back when the request ends (its body is held until then)."""
        share = Hold(self)
        try:
            yield share
        finally:
            self.held -= share.count


class Hold:
    """One request's share of the `BodyBudget`."""

    def __init__(self, budget: BodyBudget) -> None:
        self.budget, self.count = budget, 0

    def need(self, total: int) -> None:
        """Grow the share to `total` bytes, or refuse the request with 503 when the budget cannot."""
        more = total - self.count
        if more <= 0:
            return
        budget = self.budget
        if budget.held + more > budget.limit:
            raise HTTPException(
                503,
                f"The server holds as many uploads as it may ({_size(budget.limit)}); "
                f"retry after {budget.retry_after_s} s.",
                headers={"Retry-After": str(budget.retry_after_s), "Connection": "close"},
            )
        budget.held += more
        self.count = total


@dataclass(frozen=True)
class Upload:
    """The image bytes of a request and the name it goes by in messages and results."""

    data: bytes
    name: str
    media_type: str = ""


async def read_upload(request: Request, limit: int, timeout: float, hold: Hold) -> Upload:
    """Return the image or video sent as a raw body or as the multipart field `file`; the whole
    body must arrive within `timeout` seconds (408 otherwise) and fit in `hold` (503 otherwise)."""
    raw_type, params = parse_options_header(request.headers.get("content-type"))
    media_type = raw_type.decode("latin-1").lower()
    is_form = media_type == "multipart/form-data"
    if not (is_form or _is_image_type(media_type)):
        raise HTTPException(
            415,
            f"Content type {media_type!r} is not accepted; send an image or video body (image/*, video/* or "
            f"application/octet-stream) or a multipart form with the file in the field '{FORM_FIELD}'.",
        )
    form = None
    if is_form:
        boundary = params.get(b"boundary")
        if not boundary:
            raise HTTPException(422, "The multipart form has no boundary in its Content-Type header.")
        form = FormParser(boundary)
    try:
        with anyio.fail_after(timeout):
            body = await read_body(request, limit, hold, form)
    except TimeoutError as exc:
        raise HTTPException(
            408,
            f"The upload did not arrive within {timeout:g} s; send the whole photo at once.",
            headers={"Connection": "close"},
        ) from exc
    return Upload(body, DEFAULT_NAME, media_type) if form is None else form.result()


def _is_image_type(media_type: str) -> bool:
    return media_type == "" or media_type.startswith(("image/", "video/")) or media_type in RAW_TYPES


async def read_body(request: Request, limit: int, hold: Hold, form: FormParser | None = None) -> bytes:
    """Return the whole body, refusing with 413 once it is known to be over `limit` bytes, and
    with 503 before reading it when `hold` cannot grow to its size. With `form`, each chunk goes to
    it as it arrives (parsed in a worker thread), so a form over its limits is refused at once."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit():
        if int(declared) > limit:
            raise too_large(limit)
        hold.need(int(declared))
    body = bytearray()
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise too_large(limit)
            hold.need(received)
            if form is None:
                body += chunk
            elif chunk:
                await anyio.to_thread.run_sync(form.write, chunk)
    except ClientDisconnect as exc:  # nobody is left to read the answer; keep the log quiet
        raise HTTPException(400, "The client disconnected before the whole upload arrived.") from exc
    return bytes(body)


def too_large(limit: int) -> HTTPException:
    # the rest of the body is not read: without closing, uvicorn would read and discard all of it
    detail = f"The upload is larger than the limit of {_size(limit)}."
    return HTTPException(413, detail, headers={"Connection": "close"})


def _size(count: int) -> str:
    for unit, scale in (("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{count} bytes"


def _refuse_form(status: int, detail: str) -> HTTPException:
    # the rest of the body is not read, so the connection cannot carry another request
    return HTTPException(status, detail, headers={"Connection": "close"})


class FormParser:
    """A multipart/form-data body parsed as it arrives, kept in memory; a form of more than
    `FORM_MAX_PARTS` parts, or a part with over `FORM_MAX_HEADER_BYTES` of headers, is refused
    as soon as the parser sees it."""

    def __init__(self, boundary: bytes) -> None:
        self.parts: list[dict] = []
        self.field: list[bytes] = []
        self.value: list[bytes] = []
        self.header_bytes = 0
        callbacks: MultipartCallbacks = {
            "on_part_begin": self._begin,
            "on_header_field": lambda data, start, end: self._header(self.field, data, start, end),
            "on_header_value": lambda data, start, end: self._header(self.value, data, start, end),
            "on_header_end": self._header_end,
            "on_part_data": lambda data, start, end: self.parts[-1]["data"].extend(data[start:end]),
        }
        try:
            self.parser = MultipartParser(boundary, callbacks)
        except ValueError as exc:
            raise _refuse_form(422, "The multipart form is malformed and cannot be read.") from exc

    def write(self, data: bytes) -> None:
        try:
            self.parser.write(data)
        except (MultipartParseError, ValueError) as exc:
            raise _refuse_form(422, "The multipart form is malformed and cannot be read.") from exc

    def _begin(self) -> None:
        if len(self.parts) == FORM_MAX_PARTS:
            raise _refuse_form(413, f"The multipart form has more than {FORM_MAX_PARTS} parts; send the file alone.")
        self.parts.append({"headers": {}, "data": bytearray()})
        self.header_bytes = 0

    def _header(self, into: list[bytes], data: bytes, start: int, end: int) -> None:
        self.header_bytes += end - start
        if self.header_bytes > FORM_MAX_HEADER_BYTES:
            limit = _size(FORM_MAX_HEADER_BYTES)
            raise _refuse_form(413, f"A part of the multipart form has more than {limit} of headers.")
        into.append(data[start:end])

    def _header_end(self) -> None:
        self.parts[-1]["headers"][b"".join(self.field).decode("latin-1").lower()] = b"".join(self.value)
        self.field.clear()
        self.value.clear()

    def result(self) -> Upload:
        """The first part named `file`, once the whole body has been written."""
        try:
            self.parser.finalize()
        except (MultipartParseError, ValueError) as exc:
            raise HTTPException(422, "The multipart form is malformed and cannot be read.") from exc
        for part in self.parts:
            _, disposition = parse_options_header(part["headers"].get("content-disposition"))
            if disposition.get(b"name") != FORM_FIELD.encode():
                continue
            raw_type, _ = parse_options_header(part["headers"].get("content-type"))
            part_type = raw_type.decode("latin-1").lower()
            if not _is_image_type(part_type):
                raise HTTPException(
                    415, f"The form field '{FORM_FIELD}' has content type {part_type!r}, not an image or a video."
                )
            name = disposition.get(b"filename", b"").decode("utf-8", "replace")
            name = PurePosixPath(name.replace("\\", "/")).name.strip()  # no client folders
            return Upload(bytes(part["data"]), name or DEFAULT_NAME, part_type)
        raise HTTPException(422, f"The multipart form has no field named '{FORM_FIELD}' with the image.")


def parse_form(body: bytes, boundary: bytes) -> Upload:
    """Return the first part named `file` of a multipart/form-data body held in memory."""
    form = FormParser(boundary)
    form.write(body)
    return form.result()
