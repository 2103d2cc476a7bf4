#!/usr/bin/env python3
"""The conv4j ResNet-20 in PyTorch: the reference for its training schedule, and a check of its saved models.

Same data (the Fashion-MNIST IDX files, gzip or not), same normalization, same network (a
CIFAR-style ResNet: conv 3x3 1->16 with BatchNorm and ReLU, three stages of 3 basic blocks of
widths 16, 32 and 64, the first block of the second and third stage with stride 2 and a 1x1
projection shortcut, global average pool, dense 64->10; convolutions without bias, each followed by
BatchNorm), same initialization (Kaiming normal, fan out, on the convolutions), same augmentation
(2 pixels of zero padding, a random 28x28 crop, a horizontal flip with probability 0.5), same
schedule (SGD with Nesterov momentum 0.9, weight decay 5e-4, batch 128 reshuffled every epoch,
one-cycle learning rate up to --lr over the first quarter then down along a cosine).

A model folder, as conv4j saves it and as --save writes it, holds model.json (format
"conv4j-resnet", the architecture, the normalization, the class names) and one float32 .npy per
state_dict entry (conv1.weight.npy, layer2.0.downsample.1.running_var.npy, fc.bias.npy, ...);
num_batches_tracked is not saved.

    python3 examples/pytorch/resnet_fashion.py [--epochs 8] [--threads 2] [--limit N]
                                               [--log run.csv] [--save MODEL_DIR]
    python3 examples/pytorch/resnet_fashion.py --evaluate MODEL_DIR    # test accuracy, images/s
    python3 examples/pytorch/resnet_fashion.py --export MODEL_DIR      # MODEL_DIR/model.onnx, model.pt
    python3 examples/pytorch/resnet_fashion.py --check MODEL_DIR --logits conv4j.npy [--count N] [--tolerance 1e-3]

--check compares conv4j's logits for the first N test images (a float32 N x classes .npy) with
PyTorch's for the same weights, and exits with status 1 when they differ by more than the
tolerance or when a predicted class differs (apart from ties within the tolerance).
The --log CSV has one row per epoch: epoch, seconds (training only, not the test evaluation),
train_loss, train_accuracy (of the augmented images, in training mode), test_accuracy and lr (the
learning rate of the epoch's last step).
"""
import argparse
import csv
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from lenet_fashion import DEBIAN_DIR, MEAN, STD, find, read_idx

FORMAT = "conv4j-resnet"
DESCRIPTION = "model.json"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
ARCHITECTURE = {"channels": 1, "height": 28, "width": 28, "widths": [16, 32, 64], "blocks": 3, "classes": 10}
PAD = 2
MOMENTUM, WEIGHT_DECAY = 0.9, 5e-4
PCT_START, DIV_FACTOR, FINAL_DIV_FACTOR = 0.25, 25.0, 1e4


def fail(message):
    sys.exit(f"resnet_fashion: {message}")


def load_raw(folder, prefix):
    """Images as uint8 N x H x W, kept raw so that augmentation pads with true zeros, and int64 labels."""
    images = read_idx(find(folder, f"{prefix}-images", "idx3-ubyte"))
    labels = read_idx(find(folder, f"{prefix}-labels", "idx1-ubyte"))
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def normalize(images, mean, std):
    x = (images.to(torch.float32) / 255.0 - mean) / std
    return x.unsqueeze(1).contiguous()


class BasicBlock(nn.Module):
    def __init__(self, inp, out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out, eps=1e-5, momentum=0.1)
        self.conv2 = nn.Conv2d(out, out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out, eps=1e-5, momentum=0.1)
        self.downsample = None
        if stride != 1 or inp != out:
            self.downsample = nn.Sequential(nn.Conv2d(inp, out, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(out, eps=1e-5, momentum=0.1))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(y + shortcut)


class ResNet(nn.Module):
    """Built from a model.json "architecture", so that conv4j's other widths and depths load too."""

    def __init__(self, arch):
        super().__init__()
        widths, blocks = [int(w) for w in arch["widths"]], int(arch["blocks"])
        self.conv1 = nn.Conv2d(int(arch["channels"]), widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0], eps=1e-5, momentum=0.1)
        inp = widths[0]
        for stage, width in enumerate(widths, start=1):
            stride = 1 if stage == 1 else 2
            layers = []
            for b in range(blocks):
                layers.append(BasicBlock(inp, width, stride if b == 0 else 1))
                inp = width
            self.add_module(f"layer{stage}", nn.Sequential(*layers))
        self.stages = len(widths)
        self.fc = nn.Linear(inp, int(arch["classes"]))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        for stage in range(1, self.stages + 1):
            x = getattr(self, f"layer{stage}")(x)
        # flatten rather than view(size(0), -1): a trace keeps the batch axis dynamic either way,
        # but flatten exports to ONNX without a Shape/Gather/Reshape chain
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


def saved_keys(model):
    return [k for k in model.state_dict() if not k.endswith("num_batches_tracked")]


def save_model(model, arch, folder, training):
    os.makedirs(folder, exist_ok=True)
    state = model.state_dict()
    for key in saved_keys(model):
        np.save(os.path.join(folder, key + ".npy"), state[key].detach().cpu().numpy().astype(np.float32))
    classes = CLASSES if arch["classes"] == len(CLASSES) else [str(i) for i in range(arch["classes"])]
    doc = {"format": FORMAT, "version": 1, "architecture": arch, "normalize": {"mean": MEAN, "std": STD},
           "classes": classes, "training": training}
    with open(os.path.join(folder, DESCRIPTION), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


def load_model(folder):
    """The eval-mode network of a model folder, and its model.json; exits with a message naming the faulty file."""
    path = os.path.join(folder, DESCRIPTION)
    if not os.path.isfile(path):
        fail(f"no {DESCRIPTION} in {folder}: not a saved model")
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{path}: {e}")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else None
        fail(f"{path}: format is {found}, expected {FORMAT}")
    if doc.get("version") != 1:
        fail(f"{path}: version {doc.get('version')} of {FORMAT} is not known (1 is)")
    try:
        arch = doc["architecture"]
        mean, std = float(doc["normalize"]["mean"]), float(doc["normalize"]["std"])
        model = ResNet(arch)
    except (KeyError, TypeError, ValueError) as e:
        fail(f"{path}: bad architecture or normalize ({type(e).__name__}: {e})")
    expected = model.state_dict()
    state = {}
    for key in saved_keys(model):
        file = os.path.join(folder, key + ".npy")
        if not os.path.isfile(file):
            fail(f"{file} is missing (the architecture in {DESCRIPTION} needs {key})")
        try:
            array = np.load(file, allow_pickle=False)
        except (OSError, ValueError) as e:
            fail(f"{file}: {e}")
        if array.dtype != np.float32:
            fail(f"{file}: dtype {array.dtype}, expected float32")
        want = tuple(expected[key].shape)
        if array.shape != want:
            fail(f"{file}: shape {list(array.shape)} does not match {key}{list(want)} "
                 f"of the architecture in {DESCRIPTION}")
        state[key] = torch.from_numpy(array)
    # num_batches_tracked only matters to BatchNorm with momentum=None, which this network never uses
    result = model.load_state_dict(state, strict=False)
    assert all(k.endswith("num_batches_tracked") for k in result.missing_keys), result.missing_keys
    model.eval()
    return model, doc, mean, std


def logits_of(model, x, batch=256):
    model.eval()
    with torch.no_grad():
        return torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)])


def accuracy(model, x, y, batch=256):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x)


class Augment:
    """Random crops of the zero-padded images and horizontal flips, a whole batch in one gather."""

    def __init__(self, images, mean, std):
        n, self.h, self.w = images.shape
        # padding the whole set once costs 60000 x 32 x 32 bytes and saves a pad per batch
        self.padded = F.pad(images, (PAD, PAD, PAD, PAD)).reshape(n, -1)
        self.pw = self.w + 2 * PAD
        self.rows = torch.arange(self.h)
        self.cols = torch.arange(self.w)
        # a 256-entry table turns the normalization into an index, the same floats as the formula
        self.table = (torch.arange(256, dtype=torch.float32) / 255.0 - mean) / std

    def __call__(self, idx, gen):
        b = len(idx)
        dy = torch.randint(0, 2 * PAD + 1, (b,), generator=gen)
        dx = torch.randint(0, 2 * PAD + 1, (b,), generator=gen)
        flip = torch.rand(b, generator=gen) < 0.5
        cols = torch.where(flip[:, None], self.cols.flip(0)[None, :], self.cols[None, :]) + dx[:, None]
        rows = self.rows[None, :] + dy[:, None]
        offsets = rows[:, :, None] * self.pw + cols[:, None, :]
        pixels = torch.gather(self.padded[idx], 1, offsets.reshape(b, -1))
        return self.table[pixels.long()].reshape(b, 1, self.h, self.w)


def train(args):
    arch = dict(ARCHITECTURE, widths=[int(w) for w in args.widths.split(",")], blocks=args.blocks)
    torch.manual_seed(args.seed)
    images, y_train = load_raw(args.data, "train")
    if args.limit:
        images, y_train = images[:args.limit], y_train[:args.limit]
    test_images, y_test = load_raw(args.data, "t10k")
    x_test = normalize(test_images, MEAN, STD)
    arch.update(height=images.shape[1], width=images.shape[2])
    model = ResNet(arch)
    augment = Augment(images, MEAN, STD)
    n = len(images)
    steps_per_epoch = (n + args.batch - 1) // args.batch
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=MOMENTUM, nesterov=True,
                          weight_decay=WEIGHT_DECAY)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch, pct_start=PCT_START,
        anneal_strategy="cos", div_factor=DIV_FACTOR, final_div_factor=FINAL_DIV_FACTOR, cycle_momentum=False)
    gen = torch.Generator().manual_seed(args.seed)
    params = sum(p.numel() for p in model.parameters())
    print(f"ResNet widths {arch['widths']}, {arch['blocks']} blocks per stage, {params} parameters; "
          f"{n} training images, batch {args.batch}, {args.epochs} epochs, max lr {args.lr}")

    log = None
    if args.log:
        log_file = open(args.log, "w", newline="", encoding="utf-8")
        log = csv.writer(log_file)
        log.writerow(["epoch", "seconds", "train_loss", "train_accuracy", "test_accuracy", "lr"])
    times, test_acc, loss_mean = [], 0.0, 0.0
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(n, generator=gen)
        loss_sum, correct = 0.0, 0
        start = time.perf_counter()
        for i in range(0, n, args.batch):
            idx = order[i:i + args.batch]
            xb, yb = augment(idx, gen), y_train[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad()
            loss.backward()
            lr = opt.param_groups[0]["lr"]
            opt.step()
            schedule.step()
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
        seconds = time.perf_counter() - start
        times.append(seconds)
        loss_mean, train_acc = loss_sum / n, correct / n
        test_acc = accuracy(model, x_test, y_test)
        print(f"epoch {epoch}/{args.epochs}: {n} images in {seconds:.1f} s ({n / seconds:.0f} images/s), "
              f"loss {loss_mean:.4f}, accuracy {train_acc:.4f}, test accuracy {test_acc:.4f}, lr {lr:.3g}",
              flush=True)
        if log is not None:
            log.writerow([epoch, f"{seconds:.3f}", f"{loss_mean:.6f}", f"{train_acc:.6f}", f"{test_acc:.6f}",
                          f"{lr:.8g}"])
            log_file.flush()
    if log is not None:
        log_file.close()
    mean = sum(times) / len(times)
    print(f"time per epoch: {mean:.1f} s ({n / mean:.0f} images/s)")
    if args.save:
        save_model(model, arch, args.save, {
            "data": f"Fashion-MNIST from {args.data}", "images": n, "epochs": args.epochs, "batch": args.batch,
            "optimizer": f"sgd nesterov momentum {MOMENTUM} weight decay {WEIGHT_DECAY}",
            "schedule": f"one-cycle max lr {args.lr} pct_start {PCT_START} cos div {DIV_FACTOR:g} "
                        f"final div {FINAL_DIV_FACTOR:g}",
            "augmentation": f"pad {PAD}, random crop {arch['height']}x{arch['width']}, horizontal flip 0.5",
            "seed": args.seed, "framework": f"torch {torch.__version__}", "threads": torch.get_num_threads(),
            "seconds_per_epoch": round(mean, 3), "train_loss": loss_mean, "test_accuracy": test_acc})
        print(f"model saved to {args.save}")
    print(f"test accuracy: {test_acc:.4f} ({len(x_test)} images)")


def evaluate(args):
    model, doc, mean, std = load_model(args.evaluate)
    images, y_test = load_raw(args.data, "t10k")
    x_test = normalize(images, mean, std)
    print(f"model: {args.evaluate} ({doc['architecture']})")
    accuracy(model, x_test[:1024], y_test[:1024])  # warm-up, as conv4j's predict does
    start = time.perf_counter()
    acc = accuracy(model, x_test, y_test)
    print(f"speed: {len(x_test) / (time.perf_counter() - start):.0f} images/s (batch 256)")
    print(f"test accuracy: {acc:.4f} ({len(x_test)} images)")


def export(args):
    import onnx  # only this mode needs it

    folder = args.export
    model, doc, _, _ = load_model(folder)
    arch = doc["architecture"]
    shape = (int(arch["channels"]), int(arch["height"]), int(arch["width"]))
    example = torch.randn(2, *shape, generator=torch.Generator().manual_seed(0))
    onnx_path, pt_path = os.path.join(folder, "model.onnx"), os.path.join(folder, "model.pt")
    with torch.no_grad():
        torch.onnx.export(model, example, onnx_path, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                          opset_version=13, do_constant_folding=True)
        # freezing inlines the weights as constants, so libtorch needs no Python-side module state
        traced = torch.jit.freeze(torch.jit.trace(model, example))
        torch.jit.save(traced, pt_path)
    onnx.checker.check_model(onnx.load(onnx_path))

    # another batch size than the traced one shows the batch axis stayed dynamic
    probe = torch.randn(5, *shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = model(probe)
        reloaded = torch.jit.load(pt_path)(probe)
    diff = (reloaded - expected).abs().max().item()
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes; opset 13, input \"input\" "
          f"[batch, {', '.join(map(str, shape))}], output \"logits\" [batch, {arch['classes']}]); onnx.checker: ok")
    print(f"wrote {pt_path} ({os.path.getsize(pt_path)} bytes; frozen TorchScript trace, torch {torch.__version__}); "
          f"reloaded at batch 5: max |difference| {diff:.3g}")


def check(args):
    model, doc, mean, std = load_model(args.check)
    if not os.path.isfile(args.logits):
        fail(f"{args.logits}: no such file")
    try:
        theirs = np.load(args.logits, allow_pickle=False)
    except (OSError, ValueError) as e:
        fail(f"{args.logits}: {e}")
    classes = int(doc["architecture"]["classes"])
    if theirs.ndim != 2 or theirs.shape[1] != classes:
        fail(f"{args.logits}: shape {list(theirs.shape)}, expected [N, {classes}]")
    count = len(theirs) if args.count is None else args.count
    if not 0 < count <= len(theirs):
        fail(f"--count {count}: {args.logits} has {len(theirs)} rows")
    images, _ = load_raw(args.data, "t10k")
    if count > len(images):
        fail(f"--count {count}: the test set has {len(images)} images")
    theirs = theirs[:count].astype(np.float64)
    ours = logits_of(model, normalize(images[:count], mean, std)).numpy().astype(np.float64)

    if not np.all(np.isfinite(theirs)):
        bad = np.flatnonzero(~np.all(np.isfinite(theirs), axis=1))
        print(f"{len(bad)} of {count} rows of {args.logits} hold NaN or infinite logits (first: image {bad[0]})")
        print("check: FAILED")
        sys.exit(1)
    diff = np.abs(theirs - ours)
    max_abs = diff.max()
    scale = np.abs(ours).max()
    worst = np.unravel_index(diff.argmax(), diff.shape)
    mine, other = ours.argmax(1), theirs.argmax(1)
    # a conv4j argmax whose PyTorch logit is within tolerance of PyTorch's best is a tie, not a disagreement
    rows = np.arange(count)
    gap = ours[rows, mine] - ours[rows, other]
    differ = np.flatnonzero(mine != other)
    ties = differ[gap[differ] <= args.tolerance]
    disagree = differ[gap[differ] > args.tolerance]

    print(f"model: {args.check}; {count} test images, {classes} classes")
    print(f"max |difference|: {max_abs:.3g} (image {worst[0]}, class {worst[1]}); tolerance {args.tolerance:g}")
    print(f"max |difference| / max |logit|: {max_abs / scale if scale > 0 else float('inf'):.3g} "
          f"(max |logit| {scale:.4g})")
    if len(disagree) == 0:
        note = f" ({len(ties)} ties within tolerance)" if len(ties) else ""
        print(f"argmax: the same on all {count} images{note}")
    else:
        print(f"argmax: differs on {len(disagree)} of {count} images (first: image {disagree[0]}, "
              f"PyTorch {mine[disagree[0]]}, conv4j {other[disagree[0]]})")
    ok = max_abs <= args.tolerance and len(disagree) == 0
    print("check: " + ("passed" if ok else "FAILED"))
    sys.exit(0 if ok else 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=DEBIAN_DIR, help="folder of the IDX files (default: %(default)s)")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.2, help="the one-cycle schedule's peak (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    ap.add_argument("--limit", type=int, metavar="N", help="train on the first N training images only")
    ap.add_argument("--widths", default="16,32,64", help="channels of each stage (default: %(default)s)")
    ap.add_argument("--blocks", type=int, default=3, help="basic blocks per stage (default: %(default)s)")
    ap.add_argument("--log", metavar="FILE.csv", help="write one CSV row per epoch")
    ap.add_argument("--save", metavar="MODEL_DIR", help="save the trained model as conv4j does")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--evaluate", metavar="MODEL_DIR", help="test a saved model instead of training")
    mode.add_argument("--export", metavar="MODEL_DIR", help="write MODEL_DIR/model.onnx and model.pt")
    mode.add_argument("--check", metavar="MODEL_DIR", help="compare conv4j's logits (--logits) with PyTorch's")
    ap.add_argument("--logits", metavar="FILE.npy", help="with --check: conv4j's logits, N x classes float32")
    ap.add_argument("--count", type=int, metavar="N", help="with --check: the first N test images "
                                                             "(default: the rows of --logits)")
    ap.add_argument("--tolerance", type=float, default=1e-3, help="with --check (default: %(default)s)")
    args = ap.parse_args()
    if args.check and not args.logits:
        ap.error("--check needs --logits FILE.npy")
    if args.logits and not args.check:
        ap.error("--logits goes with --check")
    if args.limit is not None and args.limit <= 0:
        ap.error("--limit must be positive")

    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; data: {args.data}")
    if args.evaluate:
        evaluate(args)
    elif args.export:
        export(args)
    elif args.check:
        check(args)
    else:
        train(args)


if __name__ == "__main__":
    main()
