"""Evaluate the classifier on the test split of data/points.csv; write {"accuracy": ..., "log_loss": ...}."""

import argparse
import csv
import json
import math
import os

import st


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", required=True, help="the safetensors file")
    parser.add_argument("--data", required=True, help="data/points.csv")
    parser.add_argument("--out", required=True, help="where to write the metrics JSON")
    args = parser.parse_args()
    tensors = st.load(args.weights)
    w, b = tensors["weight"], tensors["bias"][0]
    correct = total = 0
    loss = 0.0
    with open(args.data) as handle:
        for row in csv.DictReader(handle):
            if row["split"] != "test":
                continue
            z = w[0] * float(row["x1"]) + w[1] * float(row["x2"]) + b
            p = min(max(1 / (1 + math.exp(-z)), 1e-12), 1 - 1e-12)
            y = int(row["label"])
            correct += int((p >= 0.5) == bool(y))
            loss -= y * math.log(p) + (1 - y) * math.log(1 - p)
            total += 1
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump({"accuracy": correct / total, "log_loss": loss / total}, handle)


if __name__ == "__main__":
    main()
