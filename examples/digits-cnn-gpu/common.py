"""Data and model shared by train.py and eval.py: scikit-learn's bundled 8x8 digits (no download), a fixed
stratified split, a small convolutional network stored as safetensors, and the shifted test set that eval.py
measures on."""

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

SPLIT_SEED = 0
#: the largest shift, in pixels, of the test images (each image moves by a random dx, dy in [-SHIFT, SHIFT])
SHIFT = 1


def split():
    """x_train, x_test, y_train, y_test: images as float32 tensors (N, 1, 8, 8) scaled to [0, 1], labels int64."""
    digits = load_digits()
    x = (digits.data.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.3, stratify=digits.target, random_state=SPLIT_SEED)
    return (torch.from_numpy(x_train), torch.from_numpy(x_test),
            torch.from_numpy(y_train).long(), torch.from_numpy(y_test).long())


class DigitsCNN(nn.Module):
    """conv 3x3 (32) - ReLU - conv 3x3 (64) - ReLU - max-pool 2 - dense 1024→64 - ReLU - dense 64→10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


def shift(images, generator):
    """Move each image by its own random (dx, dy) in [-SHIFT, SHIFT], filling with background (0). The shifts are
    drawn on the CPU from ``generator``, so a seed gives the same images on every machine."""
    n = images.shape[0]
    offsets = torch.randint(-SHIFT, SHIFT + 1, (n, 2), generator=generator)
    padded = torch.nn.functional.pad(images, (SHIFT, SHIFT, SHIFT, SHIFT))
    out = torch.empty_like(images)
    for index, (dx, dy) in enumerate(offsets.tolist()):
        out[index] = padded[index, :, SHIFT + dy:SHIFT + dy + 8, SHIFT + dx:SHIFT + dx + 8]
    return out


def save(model, path):
    save_file({name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}, path)


def load(path, device="cpu"):
    model = DigitsCNN()
    model.load_state_dict(load_file(path, device="cpu"))
    return model.to(device).eval()
