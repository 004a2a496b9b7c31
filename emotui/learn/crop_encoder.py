"""Tokens of the face's own pixels: a small convolutional network over the aligned grey crop
(emotui.data.appearance), pooled to a grid of tokens the transformer attends to beside the landmark regions.

The mesh and its blendshapes miss what the skin does (a crying mouth meshes like a smile; the furrow of a frown
is between points), and the HOG's fixed cells cannot follow it. Three strided convolutions take the 48 px crop to
6 x 6, pooled to `grid` x `grid` cells: ~60k weights, ~4M multiply-adds a face.

While training, each crop is seen as another camera would give it: brought down to a random resolution and back
up (FER+'s 48 px web faces are soft, a webcam's or a studio's are sharp), with random contrast, brightness and
noise, and shifted by a pixel or two (the crop's alignment follows the mesh, which wobbles).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CropEncoder(nn.Module):
    def __init__(self, side: int, dim: int, grid: int = 3, width: int = 64) -> None:
        super().__init__()
        self.side = side

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.GELU()]

        self.net = nn.Sequential(*block(1, width // 2), *block(width // 2, width), *block(width, width),
                                 nn.AdaptiveAvgPool2d(grid))
        self.project = nn.Linear(width, dim)

    def fuse_for_inference(self) -> None:
        """Fold each BatchNorm into the convolution before it: the same outputs (to float rounding) for ~0.1 ms less
        a face (of ~3). For a model that only judges from now on: it can no longer train, and its
        state_dict no longer matches the checkpoint's."""
        from torch.nn.utils.fusion import fuse_conv_bn_eval

        layers, fused = list(self.net), []
        while layers:
            layer = layers.pop(0)
            if isinstance(layer, nn.Conv2d) and layers and isinstance(layers[0], nn.BatchNorm2d):
                layer = fuse_conv_bn_eval(layer, layers.pop(0))
            fused.append(layer)
        self.net = nn.Sequential(*fused)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, side * side) pixels in 0-1 -> (B, grid * grid, dim) tokens."""
        x = pixels.reshape(-1, 1, self.side, self.side)
        if self.training:
            x = as_another_camera(x)
        x = (x - 0.5) / 0.25
        return self.project(self.net(x).flatten(2).transpose(1, 2))


def as_another_camera(x: torch.Tensor, p_soft: float = 0.5, shift: int = 2) -> torch.Tensor:
    """A batch of (B, 1, s, s) crops in 0-1, each re-rendered at random (see the module doc)."""
    b, _, s, _ = x.shape
    soft = torch.rand(b, device=x.device) < p_soft
    if soft.any():  # one resolution per batch: the interpolation is the cost, not the choice
        low = int(torch.randint(s // 4, s - s // 6, (1,)))
        small = F.interpolate(x[soft], size=(low, low), mode="area")
        x = x.clone()
        x[soft] = F.interpolate(small, size=(s, s), mode="bilinear", align_corners=False)
    contrast = torch.empty(b, 1, 1, 1, device=x.device).uniform_(0.7, 1.3)
    bright = torch.empty(b, 1, 1, 1, device=x.device).uniform_(-0.1, 0.1)
    x = (x - 0.5) * contrast + 0.5 + bright + 0.02 * torch.randn_like(x)
    dx, dy = (int(v) for v in torch.randint(-shift, shift + 1, (2,)))
    x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
    return x.clamp(0, 1)
