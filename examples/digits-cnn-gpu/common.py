"""Data and model shared by train.py and eval.py: scikit-learn's bundled 8x8 digits (no download), a fixed
stratified split, a small convolutional network stored as safetensors, and the shifted test set that eval.py
measures on.

The digits are read from the file scikit-learn ships them in, the one ``sklearn.datasets.load_digits`` reads,
without importing scikit-learn: the evaluation needs PyTorch, safetensors and scikit-learn's files, not NumPy or
SciPy."""

import csv
import gzip
import importlib.util
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

SPLIT_SEED = 0
TEST_FRACTION = 0.3
#: the largest shift, in pixels, of the test images (each image moves by a random dx, dy in [-SHIFT, SHIFT])
SHIFT = 1


def digits_file() -> Path:
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("scikit-learn is not installed: its digits are the data set (pip install scikit-learn)")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"


def load_digits():
    """The 1,797 images as float32 (N, 1, 8, 8) in [0, 1] and their labels (int64)."""
    with gzip.open(digits_file(), "rt") as handle:
        rows = [[int(float(value)) for value in row] for row in csv.reader(handle) if row]
    data = torch.tensor(rows, dtype=torch.int64)
    return (data[:, :64].float() / 16.0).reshape(-1, 1, 8, 8), data[:, 64]


def split():
    """x_train, x_test, y_train, y_test: a stratified split, TEST_FRACTION of each class (rounded) in the test set,
    drawn with SPLIT_SEED."""
    images, labels = load_digits()
    generator = torch.Generator().manual_seed(SPLIT_SEED)
    test = []
    for digit in range(10):
        members = torch.nonzero(labels == digit).flatten()
        chosen = members[torch.randperm(len(members), generator=generator)]
        test.append(chosen[:round(TEST_FRACTION * len(members))])
    test_index = torch.sort(torch.cat(test)).values
    is_test = torch.zeros(len(labels), dtype=torch.bool)
    is_test[test_index] = True
    return images[~is_test], images[is_test], labels[~is_test], labels[is_test]


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
