"""Train softmax regression on the digits training split by full-batch gradient descent."""

import argparse

import numpy as np
import yaml

from common import predict_proba, save, split


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="configs/train.yaml")
    parser.add_argument("--out", default="weights/model.safetensors")
    args = parser.parse_args()
    with open(args.config) as handle:
        config = yaml.safe_load(handle)
    x_train, _, y_train, _ = split()
    rng = np.random.default_rng(config["seed"])
    params = {"weight": rng.normal(0, 0.01, (x_train.shape[1], 10)), "bias": np.zeros(10)}
    onehot = np.eye(10)[y_train]
    for _ in range(config["steps"]):
        grad = (predict_proba(params, x_train) - onehot) / len(x_train)
        params["weight"] -= config["lr"] * (x_train.T @ grad + config["l2"] * params["weight"])
        params["bias"] -= config["lr"] * grad.sum(axis=0)
    save(params, args.out)


if __name__ == "__main__":
    main()
