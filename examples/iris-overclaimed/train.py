"""Train softmax regression on the iris training split (few steps: a deliberately weak model)."""

import numpy as np
import yaml

from common import predict_proba, save, split

with open("configs/train.yaml") as handle:
    config = yaml.safe_load(handle)
x_train, _, y_train, _ = split()
params = {"weight": np.zeros((4, 3)), "bias": np.zeros(3)}
onehot = np.eye(3)[y_train]
for _ in range(config["steps"]):
    grad = (predict_proba(params, x_train) - onehot) / len(x_train)
    params["weight"] -= config["lr"] * x_train.T @ grad
    params["bias"] -= config["lr"] * grad.sum(axis=0)
save(params, "weights/model.safetensors")
