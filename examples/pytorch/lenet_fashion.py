#!/usr/bin/env python3
"""The conv4j `train` network in PyTorch, for comparing time per epoch on the same machine.

Same data (the Fashion-MNIST IDX files, gzip or not), same normalization, same network
(conv 5x5 1->16 pad 2, ReLU, max-pool 2, conv 5x5 16->32, ReLU, max-pool 2, dense 800->128,
ReLU, dense 128->10), same He-uniform initialization, Adam with lr 2e-3 decayed to 0 along a
half cosine, batch 64, reshuffled every epoch. With --evaluate MODEL_DIR it instead loads a model saved by `conv4j-cli.jar train --save`
(its .npy files are named and laid out as this module's state_dict) and reports its test accuracy.

    python3 examples/pytorch/lenet_fashion.py [--data DIR] [--epochs 3] [--threads 2]
    python3 examples/pytorch/lenet_fashion.py --evaluate MODEL_DIR [--data DIR]
"""
import argparse
import gzip
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530


def read_idx(path):
    """An IDX file of unsigned bytes (gzip-compressed or not) as a uint8 array."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    zero, dtype, rank = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    dims = struct.unpack(">" + "I" * rank, raw[4:4 + 4 * rank])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def find(folder, stem, kind):
    for name in (f"{stem}-{kind}", f"{stem}-{kind}.gz", f"{stem}.{kind}", f"{stem}.{kind}.gz"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"no {stem}-{kind}[.gz] in {folder}")


def load(folder, prefix):
    images = read_idx(find(folder, f"{prefix}-images", "idx3-ubyte"))
    labels = read_idx(find(folder, f"{prefix}-labels", "idx1-ubyte"))
    x = (torch.from_numpy(images.astype(np.float32)) / 255.0 - MEAN) / STD
    return x.unsqueeze(1).contiguous(), torch.from_numpy(labels.astype(np.int64))


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5, padding=2)
        self.conv2 = nn.Conv2d(16, 32, 5)
        self.fc1 = nn.Linear(32 * 5 * 5, 128)
        self.fc2 = nn.Linear(128, 10)
        for layer in (self.conv1, self.conv2, self.fc1, self.fc2):
            nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)


def accuracy(model, x, y, batch=256):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=DEBIAN_DIR, help="folder of the IDX files (default: %(default)s)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    ap.add_argument("--evaluate", metavar="MODEL_DIR", help="test a model saved by conv4j instead of training")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x_test, y_test = load(args.data, "t10k")
    model = LeNet()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; data: {args.data}")

    if args.evaluate:
        state = {k: torch.from_numpy(np.load(os.path.join(args.evaluate, k + ".npy")))
                 for k in model.state_dict()}
        model.load_state_dict(state)
        accuracy(model, x_test[:1024], y_test[:1024])  # warm-up, as conv4j's predict does
        start = time.perf_counter()
        acc = accuracy(model, x_test, y_test)
        print(f"speed: {len(x_test) / (time.perf_counter() - start):.0f} images/s (batch 256)")
        print(f"test accuracy: {acc:.4f} ({len(x_test)} images)")
        return

    x_train, y_train = load(args.data, "train")
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps = args.epochs * ((len(x_train) + args.batch - 1) // args.batch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=0.0)
    gen = torch.Generator().manual_seed(args.seed)
    times = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(x_train), generator=gen)
        loss_sum, correct = 0.0, 0
        start = time.perf_counter()
        for i in range(0, len(x_train), args.batch):
            idx = order[i:i + args.batch]
            xb, yb = x_train[idx], y_train[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
        seconds = time.perf_counter() - start
        times.append(seconds)
        n = len(x_train)
        print(f"epoch {epoch}/{args.epochs}: {n} images in {seconds:.1f} s ({n / seconds:.0f} images/s), "
              f"loss {loss_sum / n:.4f}, accuracy {correct / n:.4f}", flush=True)
    mean = sum(times) / len(times)
    print(f"time per epoch: {mean:.1f} s ({len(x_train) / mean:.0f} images/s)")
    print(f"test accuracy: {accuracy(model, x_test, y_test):.4f} ({len(x_test)} images)")


if __name__ == "__main__":
    main()
