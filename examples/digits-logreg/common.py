"""Data and model shared by train.py and eval.py: scikit-learn's bundled 8x8 digits (no download), a fixed
stratified split, and a softmax-regression model stored as safetensors."""

import numpy as np
from safetensors.numpy import load_file, save_file
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SPLIT_SEED = 0


def split():
    digits = load_digits()
    x = digits.data.astype(np.float64) / 16.0
    return train_test_split(x, digits.target, test_size=0.3, stratify=digits.target, random_state=SPLIT_SEED)


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def predict_proba(params, x):
    return softmax(x @ params["weight"] + params["bias"])


def save(params, path):
    save_file({name: np.ascontiguousarray(value, dtype=np.float32) for name, value in params.items()}, path)


def load(path):
    return {name: value.astype(np.float64) for name, value in load_file(path).items()}
