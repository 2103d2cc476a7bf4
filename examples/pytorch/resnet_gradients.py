#!/usr/bin/env python3
"""Checks conv4j's ResNet training step against PyTorch's autograd on the same weights and batch.

DIR is a conv4j model folder (see resnet_fashion.py) plus what one training step of conv4j saw and
computed: x.npy (the normalized N x C x H x W batch), labels.npy (the N class indices, as float32),
loss.npy (conv4j's mean loss, one value) and grad/<name>.npy (conv4j's gradient of every parameter).
The network runs in training mode (batch statistics), as conv4j's step does. Exits with status 1
when the loss or a gradient differs by more than the tolerance, relative to the gradient's largest
value (plus a small absolute floor).

    python3 examples/pytorch/resnet_gradients.py DIR [--tolerance 1e-4]
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

from resnet_fashion import load_model


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()
    torch.set_num_threads(1)

    model, _, _, _ = load_model(args.dir)
    model.train()
    x = torch.from_numpy(np.load(os.path.join(args.dir, "x.npy")))
    labels = torch.from_numpy(np.load(os.path.join(args.dir, "labels.npy")).astype(np.int64))
    loss = F.cross_entropy(model(x), labels)
    loss.backward()
    theirs = float(np.load(os.path.join(args.dir, "loss.npy")).reshape(-1)[0])
    worst, failed = 0.0, False
    print(f"loss: conv4j {theirs:.7f}, PyTorch {loss.item():.7f}")
    if abs(theirs - loss.item()) > args.tolerance * max(1.0, abs(loss.item())):
        print("the losses differ")
        failed = True
    for name, p in model.named_parameters():
        path = os.path.join(args.dir, "grad", name + ".npy")
        if not os.path.isfile(path):
            print(f"{path} is missing")
            failed = True
            continue
        g = np.load(path)
        ref = p.grad.numpy()
        if g.shape != ref.shape:
            print(f"{name}: shape {g.shape}, PyTorch's {ref.shape}")
            failed = True
            continue
        diff = float(np.abs(g - ref).max())
        rel = diff / max(float(np.abs(ref).max()), 1e-3)
        worst = max(worst, rel)
        if rel > args.tolerance:
            print(f"{name}: max difference {diff:.3e}, {rel:.3e} of the largest gradient")
            failed = True
    print(f"{sum(1 for _ in model.parameters())} gradients compared; the largest difference is {worst:.2e} "
          f"of its tensor's largest value (tolerance {args.tolerance:g})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
