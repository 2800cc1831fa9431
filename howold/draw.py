"""Drawing results on a copy of the photo; separate from inference, which never sees drawn pixels.

Labels are placed by `place_labels`, pure geometry: each label lies fully inside the photo and
covers no other face's box or label. It tries spots above, below, inside and beside its face,
then smaller type down to a readable minimum, then the face number alone (its age then goes to a
legend under the photo). When serving the faces in order leaves one short, the most hemmed-in
faces are served first instead (the 1927 group photo on the page: 4 faces with the number only -> 0).
Type follows the face's size and the size the photo is shown at.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from howold.pipeline import Face

BOX_COLOUR = (255, 196, 0)  # yellow: an age estimate
WARN_COLOUR = (255, 90, 60)  # red: the age range is wide (the `low_confidence` warning)
HIGHLIGHT_COLOUR = (0, 170, 255)  # blue: the face chosen on the web page
TEXT_COLOUR = (0, 0, 0)
LANDMARK_COLOUR = (0, 220, 255)
LEGEND_BACKGROUND = (255, 255, 255)

MIN_TEXT_PX = 11  # the smallest label text, in pixels of the screen, that stays readable
DISPLAY_SIDE = 1280  # the long side a photo is assumed to be shown at when it is larger
FACE_TEXT_RATIO = 0.2  # preferred text height as a share of the face's side
MAX_TEXT_SCALE = 3.0  # preferred text is at most this many times the minimum
SHRINK = 0.85  # each smaller try of the font size

Rect = tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels
Measure = Callable[[str, int], tuple[int, int]]  # (text, font size) -> label (width, height)


@dataclass(frozen=True)
class Label:
    """Where one face's label goes.

    `box` is the label's rectangle in pixels of the photo, or None when there was no room for even
    the face number; `in_legend` is True when the age is listed in the legend instead of next to
    the face (the label then shows the number alone).
    """

    face: int  # index into the faces
    text: str
    box: Rect | None
    size: int  # font size in pixels
    in_legend: bool = False


def annotate(
    image: np.ndarray,
    faces: Sequence[Face],
    landmarks: bool = False,
    highlight: int | None = None,
    display_side: int = DISPLAY_SIDE,
) -> np.ndarray:
    """Return a copy of the RGB image with each face boxed and labelled '#1 · 34 (29-39)'.

    Faces whose full label finds no room get their number only, and a legend strip under the
    photo lists their ages (the copy is then taller than the photo). `highlight` (an index into
    `faces`) halves the brightness of the rest of the photo and boxes that face in blue.
    `display_side` is the long side, in screen pixels, the picture is meant to be shown at; it
    sets the smallest type.
    """
    canvas = Image.fromarray(image).convert("RGB")
    if highlight is not None and 0 <= highlight < len(faces):
        canvas = _dim_around(canvas, faces[highlight].box)
    draw = ImageDraw.Draw(canvas)
    boxes = [face.box for face in faces]
    texts = [f"#{number} · {face.label}".replace("–", "-") for number, face in enumerate(faces, start=1)]
    labels = place_labels(canvas.size, boxes, texts, display_side=display_side)
    for i, face in enumerate(faces):
        colour = _colour(face, i == highlight)
        line = line_width(face.box, canvas.size, display_side) * (2 if i == highlight else 1)
        draw.rectangle(face.box, outline=colour, width=line)
        if landmarks:
            radius = max(2, line)
            for x, y in face.landmarks:
                draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=LANDMARK_COLOUR)
    for label in labels:
        if label.box is not None:
            _draw_label(draw, label, _colour(faces[label.face], label.face == highlight))
    legend = [texts[label.face] for label in labels if label.in_legend]
    if legend:
        canvas = _with_legend(canvas, legend, min_text_size(canvas.size, display_side))
    return np.asarray(canvas)


def place_labels(
    size: tuple[int, int],
    boxes: Sequence[Rect],
    texts: Sequence[str],
    measure: Measure | None = None,
    display_side: int = DISPLAY_SIDE,
) -> tuple[Label, ...]:
    """Place one label per face box in an image of `size` (width, height); pure geometry.

    Every placed label lies inside the image and overlaps no other face's box and no other label
    (it may cover its own face). Faces are served in order (or, when that leaves one short, the
    most hemmed-in first: `_place`); each takes the first free spot among `candidates`, trying its
    preferred font size and then smaller ones down to the minimum, then the same with its number
    alone ('#3', the text up to the first space; `in_legend`). A face with no room even for that
    gets `box=None`.
    """
    tries = [(text, text.split(" ")[0]) for text in texts]
    spots = _place(size, boxes, tries, measure or label_size, display_side)
    smallest = min_text_size(size, display_side)
    labels = []
    for i, (text, spot) in enumerate(zip(texts, spots, strict=True)):
        if spot is None:
            labels.append(Label(i, text.split(" ")[0], None, smallest, in_legend=True))
        else:
            rect, font_size, chosen = spot
            labels.append(Label(i, chosen, rect, font_size, in_legend=chosen != text))
    return tuple(labels)


def _place(size, boxes, tries, measure, display_side) -> list[tuple[Rect, int, str] | None]:
    """For each face, the first of its texts (longest first) that finds a free spot at one of its font
    sizes: (rect, font size, text), or None. Spots avoid every other face's box and every label placed
    before.

    Faces are served in order. When that leaves a face short of its first text, the layout is made
    again serving the most hemmed-in face first (the one with the fewest free spots left), each at
    its best free spot; that one is kept when it leaves fewer faces short."""
    obstacles = [[_grow(b, 1) for j, b in enumerate(boxes) if j != i] for i in range(len(boxes))]
    sizes = [font_sizes(box, size, display_side) for box in boxes]
    spots: list[tuple[Rect, int, str] | None] = [None] * len(boxes)
    taken: list[Rect] = []
    for i, (box, texts) in enumerate(zip(boxes, tries, strict=True)):
        for text in texts:
            found = _first_free(box, text, sizes[i], obstacles[i] + taken, size, measure)
            if found is not None:
                spots[i] = (*found, text)
                taken.append(found[0])
                break
    short = [i for i, spot in enumerate(spots) if spot is None or spot[2] != tries[i][0]]
    if short:
        tight = _place_tightest_first(size, boxes, tries, measure, sizes, obstacles)
        if sum(spot is None or spot[2] != tries[i][0] for i, spot in enumerate(tight)) < len(short):
            return tight
    return spots


def _place_tightest_first(size, boxes, tries, measure, sizes, obstacles) -> list[tuple[Rect, int, str] | None]:
    """`_place`'s second layout: text by text (longest first), the face with the fewest free spots left
    takes its best one, until every face has a spot or none is left for it at this text."""
    spots: list[tuple[Rect, int, str] | None] = [None] * len(boxes)
    levels = max((len(texts) for texts in tries), default=0)
    for level in range(levels):
        live: dict[int, list[tuple[Rect, int]]] = {}
        placed = [spot[0] for spot in spots if spot is not None]
        for i, texts in enumerate(tries):
            if spots[i] is not None or level >= len(texts):
                continue
            options = []
            for font_size in sizes[i]:
                w, h = measure(texts[level], font_size)
                options += [(rect, font_size) for rect in candidates(boxes[i], (w, h), size)]
            live[i] = [o for o in options if not any(overlaps(o[0], other) for other in obstacles[i] + placed)]
        while live:
            i = min(live, key=lambda j: (len(live[j]), j))
            options = live.pop(i)
            if not options:
                continue
            rect, font_size = options[0]
            spots[i] = (rect, font_size, tries[i][level])
            for j in live:
                live[j] = [o for o in live[j] if not overlaps(o[0], rect)]
    return spots


def _first_free(box, text, sizes, obstacles, image_size, measure) -> tuple[Rect, int] | None:
    for font_size in sizes:
        w, h = measure(text, font_size)
        for rect in candidates(box, (w, h), image_size):
            if not any(overlaps(rect, other) for other in obstacles):
                return rect, font_size
    return None


def candidates(box: Rect, label: tuple[float, float], image_size: tuple[int, int]) -> list[Rect]:
    """Spots for a label of size (w, h) around a face box, best first, each moved inside the image.

    Above the box (left, centre, right), below it, inside its top and bottom edges, then beside it
    (right, left). Spots are shifted into the image; labels larger than the image give none.
    """
    w, h = label
    width, height = image_size
    if w > width or h > height:
        return []
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    xs = (x1, cx - w / 2, x2 - w)
    spots = [(x, y1 - h) for x in xs] + [(x, y2) for x in xs]
    spots += [(x, y1) for x in xs[:2]] + [(x, y2 - h) for x in xs[:2]]
    spots += [(x2, y) for y in (y1, cy - h / 2, y2 - h)] + [(x1 - w, y) for y in (y1, cy - h / 2, y2 - h)]
    rects: list[Rect] = []
    for x, y in spots:
        x, y = min(max(0.0, x), width - w), min(max(0.0, y), height - h)
        rect = (round(x), round(y), round(x) + w, round(y) + h)
        if rect not in rects:
            rects.append(rect)
    return rects


def font_sizes(box: Rect, image_size: tuple[int, int], display_side: int = DISPLAY_SIDE) -> list[int]:
    """Font sizes to try for a face, largest first: from the preferred size down to the minimum."""
    smallest = min_text_size(image_size, display_side)
    side = max(box[2] - box[0], box[3] - box[1])
    size = max(smallest, min(round(side * FACE_TEXT_RATIO), round(smallest * MAX_TEXT_SCALE)))
    sizes = []
    while size > smallest:
        sizes.append(size)
        size = round(size * SHRINK) if round(size * SHRINK) < size else size - 1
    return sizes + [smallest]


def min_text_size(image_size: tuple[int, int], display_side: int = DISPLAY_SIDE) -> int:
    """The smallest font size, in pixels of the photo, that still reads as MIN_TEXT_PX on screen."""
    return max(MIN_TEXT_PX, round(MIN_TEXT_PX * max(image_size) / display_side))


def line_width(box: Rect, image_size: tuple[int, int], display_side: int = DISPLAY_SIDE) -> int:
    """Box line width: thicker for larger faces and for photos shown shrunk."""
    side = max(box[2] - box[0], box[3] - box[1])
    return max(2, round(max(side / 40, 1.5 * max(image_size) / display_side)))


def reading_order(boxes: Sequence[Rect]) -> list[int]:
    """Indices of the boxes as people read a group photo: rows from the top, each from left to right.

    A box starts a new row when its centre is more than one median face height below the centre
    of the row's first box (people standing on steps still share a row).
    """
    if not boxes:
        return []
    centre_y = [(b[1] + b[3]) / 2 for b in boxes]
    step = float(np.median([b[3] - b[1] for b in boxes]))
    rows: list[list[int]] = []
    for i in sorted(range(len(boxes)), key=lambda i: centre_y[i]):
        if rows and centre_y[i] - centre_y[rows[-1][0]] <= step:
            rows[-1].append(i)
        else:
            rows.append([i])
    return [i for row in rows for i in sorted(row, key=lambda i: boxes[i][0] + boxes[i][2])]


def overlaps(a: Rect, b: Rect) -> bool:
    """True when two rectangles share some area (touching edges do not count)."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def inside(rect: Rect, width: int, height: int) -> bool:
    """True when the rectangle lies fully inside a width x height image."""
    return rect[0] >= 0 and rect[1] >= 0 and rect[2] <= width and rect[3] <= height


def label_size(text: str, size: int) -> tuple[int, int]:
    """The (width, height) of a label: the text in the built-in font plus its padding."""
    left, top, right, bottom = _font(size).getbbox(text)
    pad = _pad(size)
    return right - left + 2 * pad, bottom - top + 2 * pad


def face_thumbnail(image: np.ndarray, box: Rect, side: int = 160, margin: float = 0.3) -> np.ndarray:
    """A square crop around a face box with `margin` of its side on each side, resized to `side`.

    For people to look at (the web page's gallery); the age model has its own crop.
    """
    x1, y1, x2, y2 = box
    half = max(x2 - x1, y2 - y1) * (0.5 + margin)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    crop = Image.fromarray(image).crop((round(cx - half), round(cy - half), round(cx + half), round(cy + half)))
    return np.asarray(crop.resize((side, side), Image.Resampling.LANCZOS))


def _colour(face: Face, highlighted: bool) -> tuple[int, int, int]:
    if highlighted:
        return HIGHLIGHT_COLOUR
    return WARN_COLOUR if "low_confidence" in face.warnings else BOX_COLOUR


def _grow(rect: Rect, by: float) -> Rect:
    return rect[0] - by, rect[1] - by, rect[2] + by, rect[3] + by


def _pad(size: int) -> int:
    return max(2, size // 6)


def _draw_label(draw: ImageDraw.ImageDraw, label: Label, colour) -> None:
    font = _font(label.size)
    left, top, _, _ = font.getbbox(label.text)
    assert label.box is not None  # only labels drawn beside their face come here, not the legend's
    x1, y1, x2, y2 = label.box
    draw.rectangle((x1, y1, x2 - 1, y2 - 1), fill=colour)
    pad = _pad(label.size)
    draw.text((x1 + pad - left, y1 + pad - top), label.text, fill=TEXT_COLOUR, font=font)


def _dim_around(canvas: Image.Image, box: Rect) -> Image.Image:
    dimmed = Image.eval(canvas, lambda v: v // 2)
    x1, y1, x2, y2 = (round(v) for v in box)
    region = (max(0, x1), max(0, y1), min(canvas.width, x2), min(canvas.height, y2))
    if region[0] < region[2] and region[1] < region[3]:
        dimmed.paste(canvas.crop(region), region[:2])
    return dimmed


def _with_legend(canvas: Image.Image, entries: Sequence[str], size: int) -> Image.Image:
    """The canvas with a white strip below it listing `entries`, wrapped to its width."""
    font = _font(size)
    gap = size
    lines: list[str] = []
    for entry in entries:
        candidate = f"{lines[-1]}    {entry}" if lines else entry
        if lines and font.getlength(candidate) + 2 * gap <= canvas.width:
            lines[-1] = candidate
        else:
            lines.append(entry)
    line_height = round(size * 1.4)
    strip = Image.new("RGB", (canvas.width, 2 * gap + line_height * len(lines)), LEGEND_BACKGROUND)
    draw = ImageDraw.Draw(strip)
    for row, line in enumerate(lines):
        draw.text((gap, gap + row * line_height), line, fill=TEXT_COLOUR, font=font)
    out = Image.new("RGB", (canvas.width, canvas.height + strip.height))
    out.paste(canvas, (0, 0))
    out.paste(strip, (0, canvas.height))
    return out


_fonts: dict[int, ImageFont.ImageFont | ImageFont.FreeTypeFont] = {}


def _font(size: int):
    if size not in _fonts:
        try:
            _fonts[size] = ImageFont.load_default(size=size)
        except (TypeError, ImportError, OSError):  # Pillow without FreeType: fixed bitmap font
            _fonts[size] = ImageFont.load_default()
    return _fonts[size]


def annotate_tracks(image: np.ndarray, faces: Sequence, settled: dict[int, str]) -> np.ndarray:
    """Return a copy of a video frame with each tracked face boxed and labelled '#2 · 34 (31-37) · now 36'
    (the person's settling age, `settled[person]`, then the frame's own estimate). Labels are placed
    by `track_labels`, as a photo's are: none covers another face or label. `faces` are
    `howold.video.TrackedFace`."""
    canvas = Image.fromarray(image).convert("RGB")
    draw = ImageDraw.Draw(canvas)
    labels = track_labels(canvas.size, faces, settled)
    for tracked in faces:
        draw.rectangle(
            tracked.face.box, outline=_colour(tracked.face, False), width=line_width(tracked.face.box, canvas.size)
        )
    for label in labels:
        if label.box is not None:
            _draw_label(draw, label, _colour(faces[label.face].face, False))
    return np.asarray(canvas)


def track_labels(
    size: tuple[int, int], faces: Sequence, settled: dict[int, str], display_side: int = DISPLAY_SIDE
) -> tuple[Label, ...]:
    """The labels of one video frame's tracked faces, placed like a photo's (`place_labels`).

    A frame has no room for a legend, so each face takes the longest text that fits: the person's
    number, settling age and the frame's estimate ('#2 · 34 (31-37) · now 36'), then without the
    frame's estimate, then the number alone. A face not (yet) given a person shows its own
    estimate ('now 36'). `box` is None for a face with no room for even that.
    """
    tries = []
    for tracked in faces:
        face = tracked.face
        now = [] if face.age is None else [f"now {round(face.age)}"]
        if tracked.person:
            full = f"#{tracked.person} · {settled.get(tracked.person, face.label)}".replace("–", "-")
            tries.append(tuple(f"{full} · {text}" for text in now) + (full, f"#{tracked.person}"))
        else:
            tries.append(tuple(now) or ("?",))
    spots = _place(size, [t.face.box for t in faces], tries, label_size, display_side)
    smallest = min_text_size(size, display_side)
    return tuple(
        Label(i, tries[i][-1], None, smallest) if spot is None else Label(i, spot[2], spot[0], spot[1])
        for i, spot in enumerate(spots)
    )
