"""Accuracy on a bootstrap resample of the iris test split chosen by --seed; writes {"accuracy", "macro_f1"}."""

import argparse
import json

import numpy as np

from common import load, predict_proba, split


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    _, x_test, _, y_test = split()
    pick = np.random.default_rng(args.seed).integers(0, len(y_test), len(y_test))
    predicted = predict_proba(load(args.weights), x_test[pick]).argmax(axis=1)
    truth = y_test[pick]
    f1 = []
    for label in range(3):
        tp = np.sum((predicted == label) & (truth == label))
        precision = tp / max(np.sum(predicted == label), 1)
        recall = tp / max(np.sum(truth == label), 1)
        f1.append(0.0 if tp == 0 else 2 * precision * recall / (precision + recall))
    metrics = {"accuracy": float((predicted == truth).mean()), "macro_f1": float(np.mean(f1))}
    print(json.dumps(metrics))
    with open(args.out, "w") as handle:
        json.dump(metrics, handle)


if __name__ == "__main__":
    main()
