"""The image networks: MLP, LeNet-5, ResNet (CIFAR variant), VGG with BatchNorm. Layer names
and layouts are amalgam's (``crates/core/src/model/params.rs``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import BatchNorm, Network, global_average
from .split import StagePlan

LENET_KERNEL = 5


def image_dims(spec: dict) -> tuple[int, int, int]:
    """``(C, H, W)`` of an image spec."""
    shape = spec["input"]
    return shape["channels"], shape["height"], shape["width"]


class Mlp(Network):
    """Flatten, ``[Linear, ReLU]*``, Linear."""

    def __init__(self, spec: dict):
        super().__init__(spec)
        c, h, w = image_dims(spec)
        widths = [c * h * w] + list(spec["architecture"]["hidden"]) + [spec["classes"]]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))

    def logits(self, x):
        x = x.flatten(1)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x


class Lenet(Network):
    """LeNet-5 without padding: two 5x5 convs with ReLU and 2x2 max-pool (its two stages),
    three linears."""

    def __init__(self, spec: dict):
        super().__init__(spec)
        c, h, w = image_dims(spec)
        c1, c2 = spec["architecture"]["channels"]
        f1, f2 = spec["architecture"]["hidden"]
        self.plan = plan = StagePlan(spec, 2)
        first = plan.point if plan.part == "cloud" else 0

        def side(s):
            for _ in range(first, 2):
                s = (s - LENET_KERNEL + 1) // 2
            return s

        def conv(stage, inputs, outputs):
            if not plan.builds(stage):
                return None
            return nn.Conv2d(plan.input_width(stage, inputs, c), outputs, LENET_KERNEL)

        self.conv1 = conv(0, c, c1)
        self.conv2 = conv(1, c1, c2)
        if plan.builds(2):
            self.fc1 = nn.Linear(plan.input_width(2, c2, c) * side(h) * side(w), f1)
            self.fc2 = nn.Linear(f1, f2)
            self.fc3 = nn.Linear(f2, spec["classes"])

    def stage(self, s, x):
        return F.max_pool2d(F.relu((self.conv1, self.conv2)[s](x)), 2)

    def classify(self, x):
        x = x.flatten(1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)

    def logits(self, x):
        return self.plan.forward(x, self.stage, self.classify)


def conv3x3(inputs: int, outputs: int, stride: int) -> nn.Conv2d:
    return nn.Conv2d(inputs, outputs, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convs with BatchNorm and a residual connection (1x1 conv + BatchNorm shortcut
    where the shape changes)."""

    def __init__(self, inputs: int, outputs: int, stride: int):
        super().__init__()
        self.conv1 = conv3x3(inputs, outputs, stride)
        self.bn1 = BatchNorm(outputs)
        self.conv2 = conv3x3(outputs, outputs, 1)
        self.bn2 = BatchNorm(outputs)
        if stride != 1 or inputs != outputs:
            self.shortcut = nn.Sequential(nn.Conv2d(inputs, outputs, 1, stride=stride, bias=False), BatchNorm(outputs))
        else:
            self.shortcut = nn.Sequential()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class Resnet(Network):
    """ResNet for small images (He et al. 2016, CIFAR variant): 3x3 stem, stages of
    BasicBlocks (stride 2 from the second stage), global average pooling, a linear. Its
    stages: the stem, then each ``layer{k}``."""

    def __init__(self, spec: dict):
        super().__init__(spec)
        c, _, _ = image_dims(spec)
        blocks, widths = spec["architecture"]["blocks"], spec["architecture"]["widths"]
        self.plan = plan = StagePlan(spec, 1 + len(blocks))
        if plan.builds(0):
            self.conv1 = conv3x3(c, widths[0], 1)
            self.bn1 = BatchNorm(widths[0])
        inputs = widths[0]
        for stage in range(4):
            layer = nn.ModuleList()
            if stage < len(blocks):
                inputs = plan.input_width(stage + 1, inputs, c)
                for b in range(blocks[stage]):
                    if plan.builds(stage + 1):
                        layer.append(BasicBlock(inputs, widths[stage], 2 if stage > 0 and b == 0 else 1))
                    inputs = widths[stage]
            setattr(self, f"layer{stage + 1}", layer)
        if plan.builds(1 + len(blocks)):
            self.linear = nn.Linear(plan.input_width(1 + len(blocks), inputs, c), spec["classes"])

    def stage(self, s, x):
        if s == 0:
            return F.relu(self.bn1(self.conv1(x)))
        for block in (self.layer1, self.layer2, self.layer3, self.layer4)[s - 1]:
            x = block(x)
        return x

    def logits(self, x):
        return self.plan.forward(x, self.stage, lambda x: self.linear(global_average(x)))


class Vgg(Network):
    """VGG with BatchNorm: per stage, 3x3 convs (padding 1) with BatchNorm and ReLU, then a
    2x2 max-pool in ceil mode; global average pooling; a linear. ``features`` is indexed as
    PyTorch's ``Sequential`` of the whole network: layers a split part does not build are
    parameter-free placeholders."""

    def __init__(self, spec: dict):
        super().__init__(spec)
        c, _, _ = image_dims(spec)
        stages = spec["architecture"]["stages"]
        self.plan = plan = StagePlan(spec, len(stages))
        layers: list[nn.Module] = []
        self.stage_layers = []
        inputs = c
        for number, stage in enumerate(stages):
            first, built = len(layers), plan.builds(number)
            inputs = plan.input_width(number, inputs, c)
            for width in stage:
                layers += [nn.Conv2d(inputs, width, 3, padding=1), BatchNorm(width), nn.ReLU()] if built else [nn.Identity()] * 3
                inputs = width
            layers.append(nn.MaxPool2d(2, ceil_mode=True) if built else nn.Identity())
            self.stage_layers.append(range(first, len(layers)))
        self.features = nn.Sequential(*layers)
        if plan.builds(len(stages)):
            self.classifier = nn.Linear(plan.input_width(len(stages), inputs, c), spec["classes"])

    def stage(self, s, x):
        for i in self.stage_layers[s]:
            x = self.features[i](x)
        return x

    def logits(self, x):
        return self.plan.forward(x, self.stage, lambda x: self.classifier(global_average(x)))
