"""Train a logistic-regression classifier on data/points.csv (the train split) and save its weights."""

import argparse
import csv
import math
import random

import yaml_free_config as config_reader
import st


def rows(path: str, split: str):
    with open(path) as handle:
        for row in csv.DictReader(handle):
            if row["split"] == split:
                yield [float(row["x1"]), float(row["x2"])], int(row["label"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="configs/train.yaml")
    parser.add_argument("--out", default="weights/model.safetensors")
    args = parser.parse_args()
    config = config_reader.read(args.config)
    random.seed(config["seed"])
    data = list(rows("data/points.csv", "train"))
    w, b = [0.0, 0.0], 0.0
    for _ in range(config["epochs"]):
        random.shuffle(data)
        for x, y in data:
            p = 1 / (1 + math.exp(-(w[0] * x[0] + w[1] * x[1] + b)))
            w = [w[i] - config["lr"] * (p - y) * x[i] for i in range(2)]
            b -= config["lr"] * (p - y)
    st.save({"weight": w, "bias": [b]}, args.out)


if __name__ == "__main__":
    main()
