"""Do the annotated labels stay inside the photo and off other faces? Counted on real photos.

    python benchmarks/bench_labels.py [--display-side 1280]

Photos from ../shared/data: the 1927 Solvay group photo (29 faces), FG-NET (1,002 photos of
300-770 px) and FairFace-540 (448 px, some with several faces). Each photo goes through the
shipped Predictor; its labels are laid out by `howold.draw.place_labels` ("now") and by the
rule used before it ("before": the label above the box's left corner, moved only to stay on the
page), and each label is checked: inside the photo, and clear of every other face's box and label.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from PIL import ImageFont

from howold import Predictor
from howold.draw import DISPLAY_SIDE, inside, overlaps, place_labels

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SETS = {
    "group photo": [DATA / "group-photos" / "Solvay_conference_1927.jpg"],
    "FG-NET": sorted((DATA / "fgnet" / "images").glob("*.JPG")),
    "FairFace-540": sorted((DATA / "fairface" / "images").glob("*.jpg")),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--display-side", type=int, default=DISPLAY_SIDE)
    args = parser.parse_args()
    predictor = Predictor().prepare()
    print("| photos | faces | layout | labels outside the photo | labels on another face or label "
          "| faces with the number only (age in the legend) | photos with a bad label |")  # fmt: skip
    print("|---|---:|---|---:|---:|---:|---:|")
    for name, paths in SETS.items():
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


if __name__ == "__main__":
    main()
