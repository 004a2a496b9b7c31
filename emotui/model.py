"""The expression classifier: a small transformer over facial-region tokens, a blendshape token and a class token.

Regions are computed, not typed: k-means over the training set's mean canonical face groups the 478 landmarks
into `n_regions` patches; each patch's points (padded to the largest patch) are embedded by a per-region linear
map. The mean face, its spread, the region table and the mirror map are buffers saved with the weights.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from .features import N_BLENDSHAPES
from .landmarker import N_LANDMARKS

SIZES = {
    "tiny": {"dim": 48, "depth": 2, "heads": 4, "n_regions": 24},
    "small": {"dim": 96, "depth": 3, "heads": 4, "n_regions": 32},
}


@dataclass(frozen=True)
class Architecture:
    dim: int = 96
    depth: int = 3
    heads: int = 4
    ffn_mult: int = 2
    n_regions: int = 32
    n_classes: int = 8
    dropout: float = 0.1
    shape_token: bool = False  # one more token: a linear map of the whole normalised face

    @classmethod
    def of_size(cls, name: str, **over) -> Architecture:  # noqa: ANN003
        return cls(**{**SIZES[name], **over})

    def to_dict(self) -> dict:
        return asdict(self)


def region_table(mean_points: np.ndarray, n_regions: int, seed: int = 0, iters: int = 20) -> np.ndarray:
    """Equal-size k-means of the mean face's points -> (n_regions, ceil(478 / n_regions)) landmark indices.

    Landmark density differs a lot over the face (eyes, lips, irises), so plain k-means gives patches of very
    different sizes; a capacity per region keeps every token the same width. Padding uses index N_LANDMARKS.
    """
    pts = np.asarray(mean_points, dtype=np.float64)
    size = -(-len(pts) // n_regions)
    rng = np.random.default_rng(seed)
    centres = [pts[rng.integers(len(pts))]]
    for _ in range(n_regions - 1):  # farthest-point initialisation: deterministic and spread over the face
        d = np.min(((pts[:, None] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
        centres.append(pts[d.argmax()])
    centres = np.array(centres)
    for _ in range(iters):
        dist = ((pts[:, None] - centres[None]) ** 2).sum(-1)
        assign = np.full(len(pts), -1)
        fill = np.zeros(n_regions, dtype=int)
        for flat in np.argsort(dist, axis=None, kind="stable"):  # closest pairs first, up to each capacity
            i, k = divmod(int(flat), n_regions)
            if assign[i] < 0 and fill[k] < size:
                assign[i], fill[k] = k, fill[k] + 1
        centres = np.array([pts[assign == k].mean(0) if fill[k] else centres[k] for k in range(n_regions)])
    table = np.full((n_regions, size), N_LANDMARKS, dtype=np.int64)
    for k in range(n_regions):
        members = np.flatnonzero(assign == k)
        table[k, : len(members)] = members
    return table


class ExpressionTransformer(nn.Module):
    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        self.arch = arch
        d, r = arch.dim, arch.n_regions
        k = -(-N_LANDMARKS // r)  # points per region token
        self.register_buffer("mean_points", torch.zeros(N_LANDMARKS, 3))
        self.register_buffer("point_scale", torch.ones(N_LANDMARKS, 3))
        self.register_buffer("regions", torch.full((r, k), N_LANDMARKS, dtype=torch.long))
        self.register_buffer("point_mirror", torch.arange(N_LANDMARKS))
        self.register_buffer("blend_mirror", torch.arange(N_BLENDSHAPES))
        self.region_weight = nn.Parameter(torch.randn(r, k * 3, d) * (k * 3) ** -0.5)
        self.region_bias = nn.Parameter(torch.zeros(r, d))
        self.blend_embed = nn.Sequential(nn.Linear(N_BLENDSHAPES, d), nn.GELU(), nn.Linear(d, d))
        self.shape_embed = nn.Linear(N_LANDMARKS * 3, d) if arch.shape_token else None
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.position = nn.Parameter(torch.randn(1, r + 2 + arch.shape_token, d) * 0.02)
        layer = nn.TransformerEncoderLayer(d, arch.heads, d * arch.ffn_mult, arch.dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, arch.depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, arch.n_classes)

    def set_geometry(self, mean_points: np.ndarray, point_scale: np.ndarray, point_mirror: np.ndarray,
                     blend_mirror: np.ndarray) -> None:
        """Fix the training set's mean face, its spread per axis, the regions and the mirror maps."""
        regions = region_table(mean_points, self.arch.n_regions)
        self.mean_points.copy_(torch.as_tensor(mean_points, dtype=torch.float32))
        self.point_scale.copy_(torch.as_tensor(point_scale, dtype=torch.float32))
        self.regions.copy_(torch.as_tensor(regions))
        self.point_mirror.copy_(torch.as_tensor(point_mirror))
        self.blend_mirror.copy_(torch.as_tensor(blend_mirror))

    def forward(self, points: torch.Tensor, blendshapes: torch.Tensor) -> torch.Tensor:
        """(B, 478, 3) canonical points, (B, 52) blendshapes -> (B, n_classes) logits."""
        b = points.shape[0]
        x = (points - self.mean_points) / self.point_scale
        x = torch.cat([x, x.new_zeros(b, 1, 3)], dim=1)  # index N_LANDMARKS pads the regions
        patches = x[:, self.regions].flatten(2)  # (B, R, K*3)
        regions = torch.einsum("brk,rkd->brd", patches, self.region_weight) + self.region_bias
        parts = [self.cls_token.expand(b, -1, -1), self.blend_embed(blendshapes)[:, None], regions]
        if self.shape_embed is not None:
            parts.append(self.shape_embed(x[:, :N_LANDMARKS].flatten(1))[:, None])
        tokens = torch.cat(parts, 1)
        h = self.encoder(tokens + self.position)
        return self.head(self.norm(h[:, 0]))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
