"""Generate data/points.csv: two Gaussian clouds in 2-D, 400 train and 200 test points, fixed seed."""

import csv
import random

random.seed(7)
with open("data/points.csv", "w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(["x1", "x2", "label", "split"])
    for split, count in (("train", 400), ("test", 200)):
        for i in range(count):
            label = i % 2
            centre = (1.0, 1.0) if label else (-1.0, -1.0)
            writer.writerow([f"{random.gauss(centre[0], 1.0):.6f}", f"{random.gauss(centre[1], 1.0):.6f}", label,
                             split])
