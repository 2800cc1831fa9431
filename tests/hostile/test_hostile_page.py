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
