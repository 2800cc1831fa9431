"""Do the annotated labels stay inside the photo and off other faces? Counted on real photos.

    python benchmarks/bench_labels.py [--display-side 1280] [--data ../shared/data] [--video-seconds 4] [--no-photos]

Photos from ../shared/data: the 1927 Solvay group photo (29 faces), FG-NET (1,002 photos of
300-770 px) and FairFace-540 (448 px, some with several faces). Each photo goes through the
shipped Predictor; its labels are laid out by `howold.draw.place_labels` ("now") and by the
rule used before it ("before": the label above the box's left corner, moved only to stay on the
page), and each label is checked: inside the photo, and clear of every other face's box and label.

Then video: a 1280x720 camera panning and zooming over the group photo (5 frames/s, H.264) goes
through `analyse_video` with `annotate_to`, and every drawn frame's labels are checked the same
way: as drawn now (`howold.draw.track_labels`, the photo's placement) and as drawn before it
(howold 0.4.0: the person labels placed, the frame's "now NN" tag under the box's left corner).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

from PIL import ImageFont

from howold import Predictor, analyse_video, draw, load_image
from howold.draw import DISPLAY_SIDE, inside, label_size, min_text_size, overlaps, place_labels

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def photo_sets(data: Path) -> dict[str, list[Path]]:
    return {
        "group photo": [data / "group-photos" / "Solvay_conference_1927.jpg"],
        "FG-NET": sorted((data / "fgnet" / "images").glob("*.JPG")),
        "FairFace-540": sorted((data / "fairface" / "images").glob("*.jpg")),
    }


def before(size, boxes, texts) -> list[tuple]:
    """The labels as annotate drew them before place_labels (howold 0.3.0), texts '#1 34 (29-39)'."""
    width, height = size
    rects = []
    for (x1, y1, x2, y2), text in zip(boxes, (t.replace(" · ", " ") for t in texts)):
        font_size = max(12, round(max(max(x2 - x1, y2 - y1) / 5, max(size) / 120)))
        left, top, right, bottom = ImageFont.load_default(size=font_size).getbbox(text)
        pad = max(2, font_size // 6)
        w, h = right - left + 2 * pad, bottom - top + 2 * pad
        x = min(max(0, x1), width - w)
        y = y1 - h if y1 - h >= 0 else min(y2, height - h)
        rects.append((x, y, x + w, y + h))
    return rects


def check(size, boxes, rects) -> Counter:
    counts = Counter(labels=len(rects))
    for i, rect in enumerate(rects):
        if rect is None:
            counts["without a place"] += 1
            continue
        others = [b for j, b in enumerate(boxes) if j != i] + [r for j, r in enumerate(rects) if j != i and r]
        counts["outside the photo"] += not inside(rect, *size)
        counts["on another face or label"] += any(overlaps(rect, other) for other in others)
    return counts


def video_before(size, faces, settled) -> list[tuple]:
    """The rectangles annotate_tracks drew before it used track_labels: each tracked person's label
    placed by place_labels, and each aged face's 'now NN' tag under its box, placed by nothing."""
    texts = [
        f"#{t.person} · {settled.get(t.person, t.face.label)}".replace("–", "-") if t.person else "?" for t in faces
    ]
    labels = place_labels(size, [t.face.box for t in faces], texts)
    rects = [label.box for t, label in zip(faces, labels) if t.person and label.box is not None]
    boxes = [t.face.box for t, label in zip(faces, labels) if t.person and label.box is not None]
    for t, label in zip(faces, labels):
        if t.face.age is not None:
            font_size = max(min_text_size(size), label.size * 2 // 3)
            w, h = label_size(f"now {round(t.face.age)}", font_size)
            left, top = min(max(0.0, t.face.box[0]), size[0] - w), min(t.face.box[3] + 1, size[1] - h)
            rects.append((left, top, left + w, top + h))
            boxes.append(t.face.box)
    return boxes, rects


def video_rows(predictor: Predictor, seconds: float, group_photo: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from video_clips import camera, write_clip

    scene = load_image(group_photo)
    totals = {"before": Counter(), "now": Counter()}
    place = draw.track_labels

    def counting(size, faces, settled, *args):
        labels = place(size, faces, settled, *args)
        face_boxes = [t.face.box for t in faces]
        for layout, (boxes, rects) in (
            ("before", video_before(size, faces, settled)),
            ("now", (face_boxes, [label.box for label in labels])),
        ):
            counts = check_against(size, boxes, face_boxes, rects)
            counts["bad frames"] += bool(counts["outside the photo"] or counts["on another face or label"])
            counts["frames"] += 1
            totals[layout] += counts
        return labels

    with tempfile.TemporaryDirectory() as folder:
        clip = write_clip(Path(folder) / "pan.mp4", camera(scene, seconds, 5, (1280, 720), pan=0.3, zoom=0.1,
                                                           noise=2), fps=5)  # fmt: skip
        draw.track_labels = counting
        try:
            analyse_video(predictor, clip, annotate_to=Path(folder) / "annotated.mp4")
        finally:
            draw.track_labels = place
    print("\n| clip | frames | labels | layout | labels outside the frame | labels on another face or label "
          "| frames with a bad label |")  # fmt: skip
    print("|---|---:|---:|---|---:|---:|---:|")
    for layout, c in totals.items():
        print(
            f"| pan over the group photo, 1280x720, {seconds:g} s | {c['frames']} | {c['labels']} | {layout} "
            f"| {c['outside the photo']} | {c['on another face or label']} | {c['bad frames']} |"
        )


def check_against(size, owners, boxes, rects) -> Counter:
    """As `check`, for labels whose own face is `owners[i]` (a face may have two labels)."""
    counts = Counter(labels=len([r for r in rects if r]))
    for i, rect in enumerate(rects):
        if rect is None:
            continue
        others = [b for b in boxes if b != owners[i]] + [r for j, r in enumerate(rects) if j != i and r]
        counts["outside the photo"] += not inside(rect, *size)
        counts["on another face or label"] += any(overlaps(rect, other) for other in others)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--display-side", type=int, default=DISPLAY_SIDE)
    parser.add_argument("--video-seconds", type=float, default=4.0, help="length of the pan (0: no video)")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (default: %(default)s)")
    parser.add_argument("--no-photos", action="store_true", help="only the video")
    args = parser.parse_args()
    predictor = Predictor().prepare()
    print("| photos | faces | layout | labels outside the photo | labels on another face or label "
          "| faces with the number only (age in the legend) | photos with a bad label |")  # fmt: skip
    print("|---|---:|---|---:|---:|---:|---:|")
    sets = photo_sets(args.data)
    for name, paths in ({} if args.no_photos else sets).items():
        totals = {"before": Counter(), "now": Counter()}
        for path in paths:
            result = predictor.analyse(path)
            if not result.ok or not result.faces:
                continue
            size = (result.width, result.height)
            boxes = [face.box for face in result.faces]
            texts = [f"#{n} · {face.label}".replace("–", "-") for n, face in enumerate(result.faces, start=1)]
            labels = place_labels(size, boxes, texts, display_side=args.display_side)
            for layout, rects in (("before", before(size, boxes, texts)), ("now", [label.box for label in labels])):
                counts = check(size, boxes, rects)
                counts["bad photos"] += bool(counts["outside the photo"] or counts["on another face or label"])
                if layout == "now":
                    counts["number only"] += sum(label.in_legend for label in labels)
                totals[layout] += counts
        for layout, c in totals.items():
            number_only = c["number only"] if layout == "now" else "–"
            print(f"| {name} ({len(paths)}) | {c['labels']} | {layout} | {c['outside the photo']} "
                  f"| {c['on another face or label']} | {number_only} | {c['bad photos']} |")  # fmt: skip
    if args.video_seconds > 0:
        video_rows(predictor, args.video_seconds, sets["group photo"][0])


if __name__ == "__main__":
    main()
