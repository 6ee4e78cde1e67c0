"""PyTorch CPU training throughput for the models of BENCHMARKS.md table 3.

Same shapes (1x28x28 inputs, 10 classes), batch sizes, optimizer (Adam, lr 0.002) and
thread count as amalgam's measurement; synthetic data; median images/s over repetitions of
a fixed number of steps after a warm-up. Writes JSON for `amalgam-bench report`.

Usage: python bench/pytorch_baseline.py --out results/pytorch.json [--threads 2] [--quick]
"""

import argparse
import json
import statistics
import time

import torch
from torch import nn


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


def mlp():
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(28 * 28, 256), nn.ReLU(),
        nn.Linear(256, 128), nn.ReLU(),
        nn.Linear(128, 10),
    )


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet20(nn.Module):
    """The CIFAR ResNet-20 (He et al. 2016) as amalgam builds it, for 1-channel input."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, cin = [], 16
        for stage, width in enumerate([16, 32, 64]):
            for block in range(3):
                stride = 2 if stage > 0 and block == 0 else 1
                layers.append(BasicBlock(cin, width, stride))
                cin = width
        self.layers = nn.Sequential(*layers)
        self.linear = nn.Linear(64, 10)

    def forward(self, x):
        x = self.layers(torch.relu(self.bn1(self.conv1(x))))
        return self.linear(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


MODELS = {"lenet": lenet, "mlp": mlp, "resnet20": ResNet20}


def images_per_second(name, batch, steps, reps):
    torch.manual_seed(0)
    model = MODELS[name]()
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    images = torch.rand(steps, batch, 1, 28, 28)
    labels = torch.randint(0, 10, (steps, batch))

    def epoch():
        start = time.perf_counter()
        for i in range(steps):
            optimizer.zero_grad()
            loss_fn(model(images[i]), labels[i]).backward()
            optimizer.step()
        return time.perf_counter() - start

    epoch()  # warm-up
    return steps * batch / statistics.median(epoch() for _ in range(reps))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    reps = 1 if args.quick else 3
    settings = [("lenet", 64), ("lenet", 128), ("resnet20", 64), ("resnet20", 128), ("mlp", 64)]
    results = []
    for name, batch in settings:
        steps = (2 if args.quick else 6) if name == "resnet20" else (10 if args.quick else 40)
        ips = images_per_second(name, batch, steps, reps)
        print(f"{name} batch {batch}: {ips:.0f} images/s", flush=True)
        results.append({"model": name, "batch": batch, "images_per_second": ips})
    with open(args.out, "w") as f:
        json.dump(
            {"torch_version": torch.__version__, "threads": torch.get_num_threads(), "results": results},
            f,
            indent=2,
        )


if __name__ == "__main__":
    main()
