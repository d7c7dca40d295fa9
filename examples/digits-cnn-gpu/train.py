"""Train the CNN on the digits training split with Adam and a cosine learning-rate decay, on the CPU and
deterministically: one thread, and one seed for the initial weights, the batch order and the random shifts that
augment the training images."""

import argparse

import torch
import yaml

from common import DigitsCNN, save, shift, split


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="configs/train.yaml")
    parser.add_argument("--out", default="weights/model.safetensors")
    args = parser.parse_args()
    with open(args.config) as handle:
        config = yaml.safe_load(handle)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(config["seed"])
    generator = torch.Generator().manual_seed(config["seed"])
    x_train, x_test, y_train, y_test = split()
    model = DigitsCNN()
    optimiser = torch.optim.Adam(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=config["epochs"])
    for epoch in range(config["epochs"]):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        for start in range(0, len(order), config["batch_size"]):
            batch = order[start:start + config["batch_size"]]
            loss = torch.nn.functional.cross_entropy(model(shift(x_train[batch], generator)), y_train[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        schedule.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}, test accuracy (unshifted, fp32) {accuracy:.4f}")
    save(model, args.out)


if __name__ == "__main__":
    main()
