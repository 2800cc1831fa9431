"""Hostile uploads on the web page: each bad photo is its own one-sentence error, the rest show."""

from __future__ import annotations

import pytest

pytest.importorskip("streamlit", reason="needs the [app] extra")

from corpus import EPS_LOOP, dds_zeroed  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402


def photos_script(photos):
    from howold.app import main as app

    settings = app.sidebar()
    for i, (name, data) in enumerate(photos):
        app.render_photo(name, data, settings, key=str(i))


def test_bad_uploads_are_sentences_and_good_ones_still_show(face_paths):
    photos = [("loop.eps", EPS_LOOP), ("zeroed.dds", dds_zeroed()), ("face.jpg", face_paths[0].read_bytes())]
    at = AppTest.from_function(photos_script, args=(photos,), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 2 and all("not a supported image" in e for e in errors)
    assert errors[0].startswith("loop.eps: ") and errors[1].startswith("zeroed.dds: ")
    assert len(at.dataframe) == 1  # the good photo's faces


def clip_script(data: bytes):
    import streamlit as st

    from howold import DetectOptions
    from howold.app import main as app
    from howold.app.video_page import analyse_clip

    result, annotated = analyse_clip(data, "fast.mp4", 5.0, DetectOptions(), None, app.load_predictor)
    st.write(f"{result.frames_read} frames read, {len(annotated)} bytes drawn")
    for note in result.notes:
        st.caption(note)


def test_a_1000_fps_clip_costs_the_page_its_budget_only():
    """10 s of 720p at 1000 frames a second cost the page 74 s before (210 s on 2 busy cores)."""
    import time

    from corpus import frame_copies

    from howold import VideoOptions

    at = AppTest.from_function(clip_script, args=(frame_copies(1280, 720, 1000, 10_000),), default_timeout=120)
    started = time.perf_counter()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.markdown[0].value.startswith(f"{VideoOptions.SERVICE_MAX_FRAMES} frames read")
    assert at.caption[0].value == "fast.mp4: only the first 3.6 s were analysed (the limit of 3,600 decoded frames)."
    assert time.perf_counter() - started < 60


@pytest.mark.slow
def test_an_81_megapixel_jpeg_is_drawn_small_and_its_memory_given_back():
    """Three sessions rendering this 9000x9000 JPEG peaked at 2623 MiB and held 1126 MiB once gone
    before (models: 170 MiB); now the page draws on a 2048-pixel copy and glibc hands freed
    photos back (746 and 432 MiB measured)."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_page_memory.py"
    run = subprocess.run([sys.executable, str(bench), "--tabs", "3"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    found = re.search(r"peak RSS (\d+) MiB before the render, (\d+) MiB after; (\d+) MiB held", run.stdout)
    before, peak, held = map(int, found.groups())
    assert peak - before < 900 and held - before < 500, run.stdout
