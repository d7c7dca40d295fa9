"""Evaluate on the digits test split, each image shifted by a random pixel (drawn from --seed), on CUDA under
bfloat16 autocast; write {"accuracy", "log_loss"} as JSON. Runs on an NVIDIA GPU only."""

import argparse
import json
import os
import sys

import torch


def environment():
    props = torch.cuda.get_device_properties(0)
    return (f"{props.name}, {props.total_memory / 2**30:.0f} GiB, torch {torch.__version__}, CUDA {torch.version.cuda}, "
            f"cuDNN {torch.backends.cudnn.version()}, bf16 autocast, "
            f"cudnn.deterministic={torch.backends.cudnn.deterministic}, cudnn.benchmark={torch.backends.cudnn.benchmark}, "
            f"CUBLAS_WORKSPACE_CONFIG={os.environ.get('CUBLAS_WORKSPACE_CONFIG', '')}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("this evaluation needs an NVIDIA GPU with CUDA (torch.cuda.is_available() is False); "
                 "it measures the model under bfloat16 autocast on the GPU")
    from common import load, shift, split  # after the check: without a GPU nothing else is loaded

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    _, x_test, _, y_test = split()
    x_test = shift(x_test, torch.Generator().manual_seed(args.seed))
    model = load(args.weights, device="cuda")
    with torch.no_grad(), torch.autocast(device_type="cuda", dtype=torch.bfloat16):
        logits = model(x_test.cuda())
    logits = logits.float().cpu()
    accuracy = (logits.argmax(1) == y_test).float().mean().item()
    log_loss = torch.nn.functional.cross_entropy(logits, y_test).item()
    print(f"seed {args.seed}: accuracy {accuracy:.4f}, log loss {log_loss:.4f} on {len(y_test)} shifted test images")
    print(f"on {environment()}")
    with open(args.out, "w") as handle:
        json.dump({"accuracy": accuracy, "log_loss": log_loss}, handle)


if __name__ == "__main__":
    main()
