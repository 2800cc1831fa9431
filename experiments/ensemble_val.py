"""Val MAE of age models alone, with flip averaging, and averaged together (UTKFace val only).

    python experiments/ensemble_val.py out/eval_v2/noflip.onnx out/eval_v3/noflip.onnx

Averages the models' age distributions (each at temperature 1), so it says what an ensemble would
gain before anyone builds one. All models must share the crop size and margin.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from howold.age_model import AgeModel, decode_distribution, softmax
from howold.train.evaluate import EvalData, labelled_crops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    args = parser.parse_args()
    models = [AgeModel(path).prepare() for path in args.models]
    images, true = labelled_crops(EvalData("utkface", "val"), models[0].info)
    probs = {}
    for i, model in enumerate(models):
        probs[f"m{i}"] = softmax(model.logits(images)[0])
        probs[f"m{i}+flip"] = softmax(model.logits(images[:, :, ::-1])[0])
    for i, path in enumerate(args.models):
        print(f"m{i}: {path}")
    names = [f"m{i}" for i in range(len(models))]
    combos = [[n] for n in names] + [[n, n + "+flip"] for n in names]
    combos += [list(c) for c in itertools.combinations(names, 2)]
    combos.append([k for n in names for k in (n, n + "+flip")])
    for combo in combos:
        age, _, _ = decode_distribution(np.mean([probs[c] for c in combo], axis=0), min_age=models[0].info.min_age)
        mae = np.abs(age - true).mean()
        print(f"  {' + '.join(combo):40s} val MAE {mae:.3f}")


if __name__ == "__main__":
    main()
