"""Evaluate on the digits test split; write {"accuracy", "log_loss"} as JSON."""

import argparse
import json

import numpy as np

from common import load, predict_proba, split


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    _, x_test, _, y_test = split()
    proba = predict_proba(load(args.weights), x_test)
    accuracy = float((proba.argmax(axis=1) == y_test).mean())
    log_loss = float(-np.log(np.clip(proba[np.arange(len(y_test)), y_test], 1e-12, 1)).mean())
    print(f"accuracy {accuracy:.4f}, log loss {log_loss:.4f} on {len(y_test)} test images")
    with open(args.out, "w") as handle:
        json.dump({"accuracy": accuracy, "log_loss": log_loss}, handle)


if __name__ == "__main__":
    main()
