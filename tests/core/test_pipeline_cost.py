"""What a photo costs: each network run once where once is enough, nothing measured twice, and sessions
that do not spin. The figures behind them: benchmarks/bench_against.py."""

from __future__ import annotations

from unittest import mock

import cv2
import numpy as np
import pytest

import howold.pipeline
from howold.age_model import DEFAULT_MODEL_PATH, AgeModel
from howold.pipeline import Predictor
from howold.runtime import SizedSession, create_session


def small_and_large_faces(composite: np.ndarray) -> np.ndarray:
    """The composite three times larger beside the composite itself: faces both sides of refine_below."""
    big = cv2.resize(composite, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    photo = np.zeros((big.shape[0], big.shape[1] + composite.shape[1], 3), np.uint8)
    photo[:, : big.shape[1]], photo[: composite.shape[0], big.shape[1] :] = big, composite
    return photo


class Runs:
    """Counts the calls of an onnxruntime session's run, passing them on."""

    def __init__(self, session) -> None:
        self.session, self.batches = session, []

    def run(self, outputs, feeds):
        self.batches.append(len(next(iter(feeds.values()))))
        return self.session.run(outputs, feeds)


def test_small_faces_framings_and_every_crop_as_cut_go_through_the_age_model_in_one_run(predictor, composite):
    photo = small_and_large_faces(composite)
    faces = predictor.predict(photo)
    small = sum(min(f.box[2] - f.box[0], f.box[3] - f.box[1]) < predictor.detector.refine_below for f in faces)
    assert 0 < small < len(faces)
    runs = Runs(predictor.age_model._session)
    with mock.patch.object(predictor.age_model, "_session", runs):
        assert predictor.predict(photo) == faces
    framings = len(howold.pipeline.SMALL_FACE_FRAMINGS)
    assert runs.batches == [len(faces) + small * (framings - 1)]


@pytest.mark.parametrize("shipped", [False, True])
def test_a_crop_gets_the_same_logits_in_any_batch(tiny_model, shipped):
    """Why the framings may share the crops' run: onnxruntime reads each crop of a batch alone."""
    if shipped and not DEFAULT_MODEL_PATH.is_file():
        pytest.skip("no shipped age model installed")
    model = AgeModel(DEFAULT_MODEL_PATH if shipped else tiny_model).prepare()
    size = model.info.crop_size
    crops = np.random.default_rng(0).integers(0, 256, (5, size, size, 3), dtype=np.uint8)
    both = model.logits(crops)
    assert np.array_equal(model.logits(crops[:2]), both[:, :2])
    assert np.array_equal(model.logits(crops[2:]), both[:, 2:])


def test_each_face_is_measured_for_blur_once(predictor, composite):
    with mock.patch.object(howold.pipeline, "blur_variance", wraps=howold.pipeline.blur_variance) as measured:
        estimates = predictor.estimate(composite)
    assert len(estimates) == 4 and measured.call_count == 4
    assert [e.sharpness for e in estimates] == [howold.pipeline.blur_variance(c) for c in crops(predictor, composite)]


def crops(predictor: Predictor, image: np.ndarray) -> list[np.ndarray]:
    info = predictor.model_info
    from howold.crop import crop_face

    return [
        crop_face(image, np.array(f.landmarks, np.float32), info.crop_size, info.crop_margin)
        for f in predictor.predict(image)
    ]


def test_sessions_sleep_rather_than_spin_between_nodes(tiny_model):
    session = create_session(tiny_model, threads=2)
    assert session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"


class Answers:
    """A stand-in session that says which it is."""

    def __init__(self, name: str) -> None:
        self.name = name

    def run(self, output_names, input_feed, run_options=None):
        return self.name

    def get_inputs(self):
        return f"{self.name}'s inputs"


def test_a_sized_session_runs_small_inputs_on_its_one_thread_session():
    sized = SizedSession(Answers("one"), Answers("many"), up_to=3 * 8 * 8)
    assert sized.run(None, {"x": np.zeros((1, 3, 8, 8), np.float32)}) == "one"
    assert sized.run(None, {"x": np.zeros((2, 3, 8, 8), np.float32)}) == "many"
    assert sized.get_inputs() == "many's inputs"


def test_a_model_on_more_threads_gets_one_thread_for_small_inputs_with_the_same_logits(tiny_model):
    sized = create_session(tiny_model, threads=2, one_thread_up_to=100)
    assert isinstance(sized, SizedSession)
    threads = [s.get_session_options().intra_op_num_threads for s in (sized.one, sized.many)]
    assert threads == [1, 2]
    assert not isinstance(create_session(tiny_model, threads=1, one_thread_up_to=100), SizedSession)
    name = sized.get_inputs()[0].name
    size = AgeModel(tiny_model).info.input_size
    batch = np.random.default_rng(0).random((4, 3, size, size), np.float32)
    np.testing.assert_allclose(sized.one.run(None, {name: batch})[0], sized.many.run(None, {name: batch})[0],
                               rtol=1e-6, atol=1e-6)  # fmt: skip
    # the shipped predictor: a 200x200 chip's detection and a single crop run on one thread
    predictor = Predictor(threads=2).prepare()
    detector, ages = predictor.detector._session, predictor.age_model._session
    assert isinstance(detector, SizedSession) and isinstance(ages, SizedSession)
    assert 3 * 200 * 200 <= detector.up_to < 3 * 256 * 256 and ages.up_to == 3 * 128 * 128
