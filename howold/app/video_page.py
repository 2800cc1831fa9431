"""The web page's video part: upload a clip and get one row per person with a face thumbnail, and
the annotated clip to play and download; and the live webcam (streamlit-webrtc) when it can run.

Everything stays in memory: the clip's bytes are decoded from memory and the annotated MP4 is
written into a buffer.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Callable

import streamlit as st

from howold import (
    VIDEO_SUFFIXES,
    WARNING_LABELS,
    DetectOptions,
    Predictor,
    VideoOptions,
    VideoResult,
    VideoSession,
    analyse_video,
    annotate_tracks,
    encode_png,
    install_hint,
    missing_module,
    results_csv,
    results_json,
)

VIDEO_TYPES = tuple(sorted(suffix.lstrip(".") for suffix in VIDEO_SUFFIXES))
THUMB_ROW_PX = 72  # the person table's row height: its face thumbnails show at this size (Streamlit's rows are 35)
WEBCAM_FPS = 5.0  # frames a second the webcam's faces are analysed at; the picture itself runs at full rate


def analyse_clip(
    data: bytes,
    name: str,
    fps: float,
    detect: DetectOptions,
    model: str | None,
    load: Callable[[str | None], Predictor],
) -> tuple[VideoResult, bytes]:
    """A clip's persons and its annotated MP4, kept in the session by content and settings (the
    page runs again on every click; the clip is analysed once)."""
    key = (hashlib.sha1(data).hexdigest(), name, fps, detect, model)
    kept = st.session_state.setdefault("howold_clips", {})
    if key not in kept:
        kept.clear()  # one clip a session: memory stays bounded
        kept[key] = _analyse_clip(data, name, fps, detect, load(model))
    return kept[key]


def _analyse_clip(data, name, fps, detect, predictor) -> tuple[VideoResult, bytes]:
    progress = st.progress(0.0, text=f"Analysing {name}…")
    limit = VideoOptions.PAGE_MAX_SECONDS

    def advance(analysed: int, time: float) -> None:
        progress.progress(min(1.0, time / limit), text=f"Analysing {name}: {time:.1f} s, {analysed} frames")

    buffer = io.BytesIO()
    result = analyse_video(
        predictor, data, VideoOptions.upload(fps, max_seconds=limit), name=name, annotate_to=buffer,
        thumbnails=True, on_frame=advance, detect=detect,
    )  # fmt: skip
    progress.empty()
    return result, buffer.getvalue() if result.ok else b""


def person_table(result: VideoResult) -> dict[str, list]:
    """One row per person: number, face thumbnail (a PNG data URI), age, range, when seen, frames, warnings."""
    persons, clip = result.persons, result.photo_warnings
    return {
        "Person": [p.person for p in persons],
        "Face": [_data_uri(p.thumbnail) for p in persons],
        "Age": [round(p.age) if p.age is not None else "?" for p in persons],
        "Range": [p.range_label for p in persons],
        "Seen (s)": [f"{p.first_seen:.1f}–{p.last_seen:.1f}" for p in persons],
        "Frames": [p.frames for p in persons],
        "Warnings": [", ".join(WARNING_LABELS[w] for w in p.warnings if w not in clip) for p in persons],
    }


def _data_uri(thumbnail) -> str | None:
    if thumbnail is None:
        return None
    return "data:image/png;base64," + base64.b64encode(encode_png(thumbnail)).decode("ascii")


def video_section(load: Callable[[str | None], Predictor], model: str | None, detect: DetectOptions) -> None:
    """The clip uploader and, for an uploaded clip, its persons and annotated copy."""
    st.divider()
    st.subheader("Video")
    clip = st.file_uploader(
        "A video clip", type=list(VIDEO_TYPES), key="video",
        help=f"MP4, MOV, MKV, WebM or AVI; the first {VideoOptions.PAGE_MAX_SECONDS:g} s are analysed, "
             f"{VideoOptions.fps:g} frames a second. Each person is followed through the clip and gets one age.",
    )  # fmt: skip
    if clip is None:
        return
    result, annotated = analyse_clip(clip.getvalue(), clip.name, VideoOptions.fps, detect, model, load)
    if not result.ok:
        st.error(result.error)
        return
    for note in result.notes:
        st.caption(note)
    count = len(result.persons)
    heading = "No face found in the clip" if not count else f"{count} person{'s' if count != 1 else ''} found"
    clip_notes = "".join(f" · the clip: {WARNING_LABELS[w]} (every person)" for w in result.photo_warnings)
    st.markdown(f"**{heading}** · {result.duration:.1f} s, {result.frames_analysed} frames analysed{clip_notes}")
    if count:
        st.dataframe(
            person_table(result), hide_index=True, key="persons", row_height=THUMB_ROW_PX,
            height="content",
            column_config={"Face": st.column_config.ImageColumn("Face", width="small")},
        )  # fmt: skip
    st.video(annotated, format="video/mp4")
    stem = clip.name.rsplit(".", 1)[0]
    st.download_button(
        "Download annotated video (MP4)", data=annotated, file_name=f"{stem}_howold.mp4", mime="video/mp4",
        on_click="ignore", icon=":material/movie:",
    )  # fmt: skip
    csv_column, json_column, _ = st.columns([1, 1, 3])
    csv_column.download_button(
        "Download CSV", data=results_csv([result]), file_name=f"{stem}_howold.csv", mime="text/csv",
        key="video-csv", on_click="ignore", icon=":material/table:",
    )  # fmt: skip
    json_column.download_button(
        "Download JSON", data=results_json([result]), file_name=f"{stem}_howold.json", mime="application/json",
        key="video-json", on_click="ignore", icon=":material/data_object:",
    )  # fmt: skip


def webcam_section(load: Callable[[str | None], Predictor], model: str | None) -> None:
    """The live camera with boxes and settling ages, or one sentence saying why it is not available."""
    st.divider()
    st.subheader("Live camera")
    reason = webcam_unavailable()
    if reason:
        st.info(reason)
        return
    if not st.toggle("Use the live camera", key="live_camera"):
        return
    from streamlit_webrtc import WebRtcMode, webrtc_streamer

    if "howold_live" not in st.session_state:  # one session of tracked persons per browser tab
        st.session_state["howold_live"] = LiveAges(load(model))
    try:
        webrtc_streamer(
            key="webcam", mode=WebRtcMode.SENDRECV, video_frame_callback=st.session_state["howold_live"],
            media_stream_constraints={"video": True, "audio": False},
            rtc_configuration={"iceServers": []},  # localhost needs no STUN server, and none is reachable offline
        )  # fmt: skip
    except Exception as exc:  # the component needs a live Streamlit server and a browser with WebRTC
        st.info(f"The live camera cannot start here ({type(exc).__name__}); uploaded videos still work.")
        return
    st.caption("Each person keeps a number while in view; their age settles as frames add up.")


def webcam_unavailable() -> str | None:
    """Why the live camera cannot run here, as a sentence; None when it can."""
    if missing_module("webcam") is not None:
        return (
            "The live camera needs the streamlit-webrtc package, which is not installed here: "
            f"{install_hint('webcam')}, then restart the page; uploaded videos work without it."
        )
    return None


class LiveAges:
    """streamlit-webrtc's frame callback: analyses a few frames a second and draws the latest boxes
    with each person's settling age on every frame."""

    def __init__(self, predictor: Predictor) -> None:
        import threading

        self.session = VideoSession(predictor, WEBCAM_FPS)
        self.lock = threading.Lock()
        self.faces = ()
        self.next_time = 0.0

    def __call__(self, frame):
        import time

        import av

        image = frame.to_ndarray(format="rgb24")
        now = time.monotonic()
        with self.lock:
            if now >= self.next_time:
                self.next_time = now + 1.0 / WEBCAM_FPS
                self.faces = self.session.add(image, now)
            drawn = annotate_tracks(image, self.faces, self.session.settled_labels() if self.faces else {})
        out = av.VideoFrame.from_ndarray(drawn, format="rgb24")
        out.pts, out.time_base = frame.pts, frame.time_base
        return out
