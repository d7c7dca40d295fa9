"""Iris (bundled with scikit-learn), a fixed split, and a softmax-regression model in safetensors."""

import numpy as np
from safetensors.numpy import load_file, save_file
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split


def split():
    iris = load_iris()
    mean, std = iris.data.mean(axis=0), iris.data.std(axis=0)
    return train_test_split((iris.data - mean) / std, iris.target, test_size=0.4, stratify=iris.target,
                            random_state=1)


def predict_proba(params, x):
    z = x @ params["weight"] + params["bias"]
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def save(params, path):
    save_file({name: np.ascontiguousarray(value, dtype=np.float32) for name, value in params.items()}, path)


def load(path):
    return {name: value.astype(np.float64) for name, value in load_file(path).items()}
