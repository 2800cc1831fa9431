#!/usr/bin/env python
"""Print MODEL_CARD.md's metric tables (Markdown) from the results that scripts/release_model.sh
writes to out/eval/. Usage: python scripts/card_tables.py [out/eval]"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from howold.age_model import DEFAULT_MODEL_PATH, read_model_info

EXACT_COLUMNS = ("n", "mae", "cs5", "coverage", "mean_range_width", "bias")


def exact_row(label: str, m: dict, bold: bool = False) -> str:
    mae = f"**{m['mae']:.2f}**" if bold else f"{m['mae']:.2f}"
    return (
        f"| {label} | {m['n']} | {mae} | {m['cs5']:.3f} | {m['coverage']:.3f} | "
        f"{m['mean_range_width']:.1f} | {m['bias']:+.2f} |".replace("| -", "| −")
    )


def exact_table(result: dict, groups=("by_age_band", "by_gender", "by_race")) -> str:
    lines = [
        "| | n | MAE | CS@5 | coverage | width | bias |",
        "|---|---|---|---|---|---|---|",
        exact_row("**all**", result["overall"], bold=True),
    ]
    for group in groups:
        for name, m in result.get(group, {}).items():
            label = f"ages {name}" if group == "by_age_band" else name
            lines.append(exact_row(label, m))
    return "\n".join(lines)


def fairface_table(result: dict) -> str:
    bins = result["bins_by_bin"]
    head = "| bin | " + " | ".join(bins) + " | all |"
    rule = "|---|" + "---|" * (len(bins) + 1)
    hits = "| hit rate | " + " | ".join(f"{m['bin_hit_rate']:.2f}" for m in bins.values())
    hits += f" | **{result['bins']['bin_hit_rate']:.3f}** |"
    extra = [f"Range overlaps the bin in {100 * result['bins']['range_overlaps_bin']:.1f}% of photos."]
    for group in ("bins_by_gender", "bins_by_race"):
        if result.get(group):
            extra.append(", ".join(f"{k} {m['bin_hit_rate']:.2f}" for k, m in result[group].items()))
    return "\n".join([head, rule, hits, "", *extra])


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "out/eval")
    load = lambda name: json.loads((out / f"{name}.json").read_text())  # noqa: E731
    tables = {
        "utkface_test": ("by_age_band", "by_gender", "by_race"),
        "utkface_test_e2e": (),
        "utkface_val": (),
        "aaf_val": (),
        "aaf_test_e2e": ("by_age_band", "by_gender"),
        "fgnet_test_e2e": ("by_age_band",),
    }
    for name, groups in tables.items():
        if not (out / f"{name}.json").is_file():
            continue
        r = load(name)
        print(
            f"### {name}: {r['evaluated']} of {r['images']} evaluated, {r['no_face']} without a face, "
            f"temperature {r['temperature']}, flip {r['tta_flip']}\n"
        )
        print(exact_table(r, groups=groups))
        print()
    print("### fairface\n")
    print(fairface_table(load("fairface")), "\n")
    if (out / "scale_stability.json").is_file():
        print(f"scale stability: {load('scale_stability')}")
    metrics = read_model_info(DEFAULT_MODEL_PATH).metrics
    for key in ("calibration", "calibration_poor", "flip_choice"):
        print(f"{key} (shipped sidecar): {metrics.get(key)}")


if __name__ == "__main__":
    main()
