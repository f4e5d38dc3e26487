"""Built-in model definitions (`model: small-cnn`, `model: tiny-mlp`).

Small on purpose: they exist so the whole pipeline (data -> batch -> step -> card ->
measurement) runs in seconds on a laptop CPU, with real convolutions and real data.
"""

from __future__ import annotations

import torch
from torch import nn


class SmallCNN(nn.Module):
    """Three conv blocks (conv-BN-ReLU, 2x2 pool) and a linear classifier; any image size >= 8."""

    def __init__(self, num_classes: int = 4, in_channels: int = 3, width: int = 16):
        super().__init__()
        chans = [in_channels, width, 2 * width, 4 * width]
        blocks = []
        for cin, cout in zip(chans[:-1], chans[1:]):
            blocks += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(chans[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class TinyMLP(nn.Module):
    """A two-hidden-layer MLP for tables: `in_features` must match the feature columns."""

    def __init__(self, in_features: int, out_features: int = 1, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                 nn.ReLU(), nn.Linear(hidden, out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


# name -> (class, kind); model_args from the spec become the constructor's kwargs.
BUILTINS = {
    "small-cnn": (SmallCNN, "vision"),
    "tiny-mlp": (TinyMLP, "tabular"),
}
