"""The howold web page: upload photos, see every face boxed with how old the person looks.

Run it with `howold app` or `streamlit run howold/app/main.py`. Uploads are read into memory,
analysed and shown; nothing is written to disk. `HOWOLD_MODEL` (set by `howold app --model`)
names another ONNX age model with its sidecar.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import streamlit as st

from howold import (
    IMAGE_SUFFIXES,
    WARNING_LABELS,
    WARNING_NOTES,
    AgeCheck,
    DetectOptions,
    Face,
    HowoldError,
    MetricKey,
    PhotoResult,
    Predictor,
    annotate,
    encode_png,
    face_thumbnail,
    failed,
    load_image,
    reading_order,
    results_csv,
    results_json,
)

UPLOAD_TYPES = tuple(sorted(suffix.lstrip(".") for suffix in IMAGE_SUFFIXES))  # every format the CLI reads
MAX_SIDES = (640, 960, 1280, 1920, DetectOptions.SERVICE_MAX_SIDE, DetectOptions.FULL_SIZE)
MODEL_ENV = "HOWOLD_MODEL"
SORTS = {"position": "Position", "age": "Age, youngest first"}
THUMB_PX = 100  # gallery cards' width in screen pixels: three fit side by side on a 390-pixel phone
PAGE_WIDTH_PX = 820  # the photo's width on the page on a 1280-pixel laptop screen: labels are sized for it
PHONE_WIDTH_PX = 358  # the photo's width on the page on a 390-pixel phone
# The page draws on, and shows, a copy of the photo at most this long a side (twice the page's width, for
# sharp screens), decoded small from the start: an 81-megapixel JPEG peaked at 2 GB when drawn at full size.
SHOWN_MAX_SIDE = 2 * 1024
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
COLOUR_TEXT = (
    "**Yellow box:** an age estimate · **red box:** low confidence, a wide age range · "
    "**blue box:** the face you chose."
)
NO_MODEL_TEXT = "No age model is installed, so faces are found and boxed but not aged (shown as “?”)."


@dataclass(frozen=True)
class Settings:
    """What the sidebar sets: how faces are found (threshold, detection size), landmarks on the image."""

    detect: DetectOptions = DetectOptions()
    landmarks: bool = False
    check: AgeCheck | None = None  # the age check, when it is on


AGE_CHECK_TEXT = (
    "An age check is an estimate from a face, not proof of age: it must not be the only check. "
    "See the measured error rates in the README."
)


def hand_back_freed_memory() -> None:
    """Have glibc map every block of 1 MiB or more on its own, so that a photo's pixels go back to
    the system once freed. Left to itself, glibc stops mapping blocks the size of one it has freed
    and keeps them, per thread: three sessions rendering an 81-megapixel JPEG held 1,066 MiB once
    they were gone (`python benchmarks/bench_page_memory.py --tabs 3`). Not glibc: nothing to do."""
    try:
        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, 1 << 20)
    except (OSError, AttributeError):
        pass


hand_back_freed_memory()  # before any photo is decoded


def model_path() -> str | None:
    """The age model to use: `HOWOLD_MODEL` if set, else None for the shipped one."""
    return os.environ.get(MODEL_ENV) or None


@st.cache_resource(show_spinner="Loading the models…")
def load_predictor(model: str | None = None) -> Predictor:
    """The one Predictor of this server for `model`, shared by every session; models load once."""
    predictor = Predictor(model=model) if model else Predictor()
    return predictor.prepare()


@st.cache_data(max_entries=64, show_spinner=False)
def analyse(data: bytes, name: str, options: DetectOptions, model: str | None) -> PhotoResult:
    """Faces and ages of one uploaded photo, cached in memory by content and settings."""
    return load_predictor(model).analyse(data, name=name, options=options)


def header() -> None:
    st.set_page_config(page_title="howold", page_icon="🎂", layout="wide")
    st.title("howold")
    st.write(
        "Upload photos: howold finds every face and estimates how old each person looks, "
        "with an 80% range, e.g. “34 (29–39)”."
    )
    st.caption(
        "Ages are estimates of how old someone looks, not their real age; they are weaker for "
        "children, the elderly and poor photos (small, blurry, dark or turned faces)."
    )


def sidebar() -> Settings:
    """Draw the settings and return them."""
    with st.sidebar:
        st.header("Settings")
        min_score = st.slider(
            "Detection threshold", DetectOptions.SERVICE_MIN_SCORE, 0.99, DetectOptions.min_score, 0.01,
            help="How sure the face detector must be; lower finds more faces and more mistakes.",
        )  # fmt: skip
        max_side = st.select_slider(
            "Maximum image side (pixels)", options=MAX_SIDES, value=DetectOptions.max_side,
            format_func=lambda side: "full size" if side == DetectOptions.FULL_SIZE else f"{side}",
            help="The detector sees the photo shrunk to this size; larger finds smaller faces, slower.",
        )  # fmt: skip
        landmarks = st.checkbox("Show landmarks", help="Eyes, nose tip and mouth corners.")
        check = age_check_control()
    return Settings(DetectOptions(min_score=min_score, max_side=max_side), landmarks=landmarks, check=check)


def age_check_control() -> AgeCheck | None:
    """The sidebar's age check: off, or the age asked about and the challenge age."""
    if not st.checkbox("Age check", key="age-check", help="Is each person at least a given age? " + AGE_CHECK_TEXT):
        return None
    over = st.number_input(
        "Is the person at least (years)", 0.0, AgeCheck.MAX_AGE, 18.0, 1.0, format="%g", key="age-check-over"
    )
    default = AgeCheck(over).challenge
    challenge = st.number_input(
        "Ask for ID unless they look at least (years)", 0.0, AgeCheck.MAX_AGE, None, 1.0, format="%g",
        key="age-check-challenge", placeholder=f"{default:g} (the measured default)",
        help="“Challenge 25”: answer “over” only when the person more likely than not is at least this old.",
    )  # fmt: skip
    try:
        return AgeCheck(over, challenge)
    except HowoldError as exc:
        st.error(str(exc))
        return None


def about(predictor: Predictor) -> None:
    """The model's name and its measured error, or a plain note that there is no model."""
    with st.expander("About"):
        info = predictor.model_info
        if info is None:
            st.write(NO_MODEL_TEXT)
        else:
            backbone = f" ({info.backbone})" if info.backbone else ""
            st.markdown(f"**Age model:** {info.label}{backbone}")
            figures = measured_figures(info.metrics, info.interval)
            st.markdown("Measured on test photos the model never saw in training:")
            st.markdown("\n".join(f"- {line}" for line in figures) if figures else "- not recorded in its sidecar.")
        st.markdown(COLOUR_TEXT)
        st.markdown("\n".join(f"- **{WARNING_LABELS[name]}:** {note}" for name, note in WARNING_NOTES.items()))
        st.markdown(
            "Faces are found with RetinaFace; each face is cropped from the untouched photo and "
            f"the age model gives a point estimate and its {_interval(predictor)} range. "
            "Photos are analysed in memory and never stored."
        )


def uploads() -> list[tuple[str, bytes]]:
    """The photos to analyse: uploaded files, then the camera shot if the camera is on; each photo once."""
    files = st.file_uploader(
        "Photos", type=list(UPLOAD_TYPES), accept_multiple_files=True,
        help="JPEG, PNG, WebP, BMP, TIFF, GIF or HEIC/HEIF; several at once.",
    )  # fmt: skip
    photos = [(file.name, file.getvalue()) for file in files or []]
    if st.toggle("Use the camera"):
        shot = st.camera_input("Take a photo")
        if shot is not None:
            photos.append(("camera.jpg", shot.getvalue()))
    unique, repeated = unique_photos(photos)
    for name, first in repeated:
        st.caption(f"{name} is the same photo as {first}; it is shown once.")
    return unique


def unique_photos(photos: Sequence[tuple[str, bytes]]) -> tuple[list[tuple[str, bytes]], list[tuple[str, str]]]:
    """The photos without repeats of the same bytes, and (name, name of the first copy) per repeat."""
    first: dict[str, str] = {}
    unique, repeated = [], []
    for name, data in photos:
        digest = hashlib.sha1(data).hexdigest()
        if digest in first:
            repeated.append((name, first[digest]))
        else:
            first[digest] = name
            unique.append((name, data))
    return unique, repeated


def render_photo(name: str, data: bytes, settings: Settings = Settings(), key: str = "") -> PhotoResult:
    """Show one photo's results: annotated photo, face gallery, face table, PNG download; return the result.

    Choosing a face in the gallery or a row of the table highlights it on the photo.
    """
    st.subheader(name)
    with st.spinner(f"Looking for faces in {name}…"):
        try:
            result = analyse(data, name, settings.detect, model_path())
            pixels = load_image(data, name=name, max_side=SHOWN_MAX_SIDE) if result.ok else None
        except Exception as exc:  # a photo that trips a bug is its own error; the others still show
            result = failed(name, exc)
    if not result.ok:
        st.error(result.error)
        return result
    assert pixels is not None  # loaded whenever the photo was read
    scale = pixels.shape[1] / result.width
    faces = [shown(face, scale) for face in result.faces]  # boxes on the copy shown
    count = len(result.faces)
    if not count:
        st.warning(
            "No face found in this photo. Faces that are very small, turned away or hidden may be "
            "missed: try a lower detection threshold or a larger maximum image side. Faces upside down "
            "or on their side are not found: if the photo is turned, rotate it upright and upload it again."
        )
        st.image(pixels, width="content")
        return result
    state = f"face-{key}-{hashlib.sha1(data).hexdigest()[:12]}"
    chosen = st.session_state.get(state)
    chosen = chosen if chosen is not None and chosen < count else None
    photo_notes = "".join(f" · the photo: {WARNING_LABELS[w]} (every face)" for w in result.photo_warnings)
    st.caption(f"{count} face{'s' if count > 1 else ''} found · {result.width}×{result.height} pixels{photo_notes}")
    stretch = result.width >= PAGE_WIDTH_PX  # large photos fill the column; small ones keep their size
    shown_side = label_side(result.width, result.height)
    annotated = annotate(pixels, faces, landmarks=settings.landmarks, highlight=chosen, display_side=shown_side)
    st.image(annotated, width="stretch" if stretch else "content", caption=_chosen_text(result, chosen))
    st.markdown(COLOUR_TEXT)
    by = st.segmented_control(
        "Sort faces by", list(SORTS), format_func=SORTS.__getitem__, default="position", key=f"sort-{state}",
        required=True,
    )  # fmt: skip
    order = face_order(result.faces, by or "position")
    gallery(pixels, faces, order, chosen, state, photo=result.photo_warnings)
    table_key = f"table-{state}-{chosen}"  # a new table when the choice changes, so its selected row follows
    st.dataframe(
        face_table(result, order, settings.check), hide_index=True, key=table_key, selection_mode="single-row",
        height="content",  # every row, without a scroll bar inside the table
        on_select=functools.partial(_choose_row, table_key, state, order),
        selection_default={"selection": {"rows": [order.index(chosen)] if chosen is not None else []}},
    )  # fmt: skip
    warning_notes(result.faces)
    if settings.check is not None:
        st.caption(AGE_CHECK_TEXT)
    st.download_button(
        "Download annotated image (PNG)",
        data=lambda: encode_png(annotate(pixels, faces, landmarks=settings.landmarks)),
        file_name=f"{Path(name).stem}_howold.png", mime="image/png",
        key=f"png-{key}-{name}", on_click="ignore", icon=":material/download:",
    )  # fmt: skip
    return result


def label_side(width: int, height: int) -> int:
    """The long side, in screen pixels, a photo's labels are sized for (`annotate`'s display_side).

    A photo at least as wide as the page's column fills it (PAGE_WIDTH_PX on a laptop): its labels
    read at 11 px there. A narrower one keeps its own size on a laptop and is shrunk on a phone, a
    448-pixel photo to 358: its labels are sized for the phone, so they read at 11 px there too (a
    small face's label read at 9.6 px with 7 px digits; issue 29 item 8). A face with no room for
    that gets its number beside it, and its age in the legend under the photo.
    """
    shown_width = PAGE_WIDTH_PX if width >= PAGE_WIDTH_PX else min(width, PHONE_WIDTH_PX)
    return round(shown_width * max(width, height) / width)


def shown(face: Face, scale: float) -> Face:
    """The face with its box and landmarks on a copy of the photo `scale` times its size."""
    if scale == 1:
        return face
    x1, y1, x2, y2 = face.box
    box = (x1 * scale, y1 * scale, x2 * scale, y2 * scale)
    return replace(face, box=box, landmarks=tuple((x * scale, y * scale) for x, y in face.landmarks))


def gallery(
    pixels: np.ndarray,
    faces: Sequence[Face],
    order: Sequence[int],
    chosen: int | None,
    state: str,
    photo: Sequence[str] = (),
) -> None:
    """Every face as a card: its crop, number, age, range and warnings (less the `photo`'s own, said
    once above); choosing a card highlights the face."""
    with st.container(horizontal=True, gap="small", key=f"gallery-{state}"):
        for index in order:
            face = faces[index]
            with st.container(width=THUMB_PX, gap="small", key=f"card-{state}-{index}"):
                st.image(face_thumbnail(pixels, face.box, side=2 * THUMB_PX), width="stretch")
                age = "?" if face.age is None else str(round(face.age))
                st.button(
                    f"#{index + 1} · {age}", key=f"pick-{state}-{index}", on_click=_choose, args=(state, index),
                    type="primary" if index == chosen else "secondary", width="stretch",
                    icon=":material/visibility:" if index == chosen else None,
                )  # fmt: skip
                notes = [f":red[{WARNING_LABELS[w]}]" for w in face.warnings if w not in photo]
                st.markdown("  \n".join([f"**{face.range_label}**"] + notes))


def face_order(faces: Sequence[Face], by: str) -> list[int]:
    """Indices of the faces in reading order ("position") or youngest first ("age")."""
    order = reading_order([face.box for face in faces])
    if by == "age":
        order.sort(key=lambda i: (faces[i].age is None, faces[i].age or 0.0))
    return order


def face_table(
    result: PhotoResult, order: Sequence[int] | None = None, check: AgeCheck | None = None
) -> dict[str, list]:
    """One row per face, in `order` (default: by number): number, age, 80% range, (with `check`: the
    probability of being at least its age and the verdict), detection score, warnings."""
    rows: dict[str, list] = {"Face": [], "Age": [], "Range": []}
    if check is not None:
        rows |= {check.column: [], "Age check": []}
    rows |= {"Detection score": [], "Warnings": []}
    for index in range(len(result.faces)) if order is None else order:
        face = result.faces[index]
        rows["Face"].append(str(index + 1))
        rows["Age"].append("?" if face.age is None else str(round(face.age)))
        rows["Range"].append(face.range_label)
        if check is not None:
            answer = face.check(check)
            rows[check.column].append("?" if answer is None else f"{answer['p_over']:.2f}")
            rows["Age check"].append("?" if answer is None else check.verdict_label(answer["verdict"]))
        rows["Detection score"].append(f"{face.score:.3f}")
        rows["Warnings"].append(", ".join(WARNING_LABELS[w] for w in result.face_warnings(index)) or "—")
    return rows


def warning_notes(faces: Sequence[Face]) -> None:
    """One plain sentence for each warning that came up in this photo."""
    seen = {w for face in faces for w in face.warnings}
    notes = [f"- **{WARNING_LABELS[name]}:** {note}" for name, note in WARNING_NOTES.items() if name in seen]
    if notes:
        st.markdown("\n".join(notes))


def _choose(state: str, index: int) -> None:
    st.session_state[state] = None if st.session_state.get(state) == index else index


def _choose_row(table_key: str, state: str, order: Sequence[int]) -> None:
    rows = st.session_state[table_key].selection.rows
    st.session_state[state] = order[rows[0]] if rows else None


def _chosen_text(result: PhotoResult, chosen: int | None) -> str | None:
    if chosen is None:
        return "Choose a face below, or a row of the table, to highlight it; choose it again to clear."
    return f"Face #{chosen + 1}: {result.faces[chosen].label} highlighted."


def downloads(results: Sequence[PhotoResult], check: AgeCheck | None = None) -> None:
    """CSV and JSON of every photo's results (the schema of `howold predict --json`), with the age check's."""
    st.divider()
    st.subheader("All results")
    csv_column, json_column, _ = st.columns([1, 1, 3])
    csv_column.download_button(
        "Download CSV", data=results_csv(results, check=check), file_name="howold_results.csv",
        mime="text/csv", on_click="ignore", icon=":material/table:",
    )  # fmt: skip
    json_column.download_button(
        "Download JSON", data=results_json(results, check=check), file_name="howold_results.json",
        mime="application/json", on_click="ignore", icon=":material/data_object:",
    )  # fmt: skip


def main() -> None:
    header()
    settings = sidebar()
    try:
        predictor = load_predictor(model_path())
    except HowoldError as exc:
        st.error(str(exc))
        st.stop()
    if predictor.model_info is None:
        st.info(NO_MODEL_TEXT)
    about(predictor)
    photos = uploads()
    results = [render_photo(name, data, settings, key=str(i)) for i, (name, data) in enumerate(photos)]
    if results:
        downloads(results, settings.check)
    from howold.app.video_page import video_section, webcam_section

    video_section(load_predictor, model_path(), settings.detect)
    webcam_section(load_predictor, model_path())


DATASET_NAMES = {
    "utkface": "UTKFace",
    "aaf": "All-Age-Faces",
    "fgnet": "FG-NET",
    "fairface": "FairFace",
    "appa_real": "APPA-REAL",
}


def measured_figures(metrics: dict, interval: float = 0.8) -> list[str]:
    """One line per test measurement that `howold val --record` wrote into the sidecar (a data set's
    test split, or a test-only set), e.g. "**UTKFace test set, photo to age:** mean absolute error
    4.76 years over 2325 faces; the 80% range holds the true age for 79%."."""
    lines = []
    for key, value in metrics.items():
        measured = MetricKey.parse(key)  # a test measurement on the undegraded photos only
        if measured is None or measured.degraded or measured.split not in ("test", "all"):
            continue
        if not isinstance(value, dict):
            continue
        overall, bins = value.get("overall") or {}, value.get("bins") or {}
        name = f"{DATASET_NAMES.get(measured.data, measured.data)}{' test set' if measured.split == 'test' else ''}"
        how = "photo to age" if measured.end_to_end else "face crops"
        if overall.get("n"):
            line = f"**{name}, {how}:** mean absolute error {overall['mae']:.2f} years over {overall['n']} faces"
            if "coverage" in overall:
                line += f"; the {round(100 * interval)}% range holds the true age for {overall['coverage']:.0%}"
            lines.append(line + ".")
        elif bins.get("n"):  # labelled with age bins (e.g. 20-29) only
            lines.append(
                f"**{name}, {how}:** the rounded age falls in the labelled age bin for "
                f"{bins['bin_hit_rate']:.0%} of {bins['n']} faces."
            )
    return lines


def _interval(predictor: Predictor) -> str:
    info = predictor.model_info
    return f"{round(100 * info.interval)}%" if info else "80%"


if __name__ == "__main__":
    main()
