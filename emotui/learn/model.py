"""The expression classifier: a small transformer over facial-region tokens, a blendshape token and a class token,
and/or a two-layer MLP over the whole face. "transformer" attends over the whole face (that MLP ending in a
token), the blendshapes, 5 appearance cells and 16 regions; the default, "transformer-crop", adds 9 tokens of a
small CNN over the aligned crop (emotui.learn.crop_encoder); "mlp" is the MLP alone.

Regions are computed, not typed: k-means over the training set's mean canonical face groups the 478 landmarks
into `n_regions` patches; each patch's points (padded to the largest patch) are embedded by a per-region linear
map. The mean face, its spread, the region table and the mirror map are buffers saved with the weights.

With `reference` (the default), every point carries two coordinate triples: its offset from the training set's
mean face and its offset from the person's own reference face (emotui.data.features.person_references); the
blendshape token likewise sees the blendshapes, their offset from the reference and a flag. Where no reference
is known (a single photo, the first frames of a track) the offsets are zero and the flag is off, and the model,
trained with references dropped at random, falls back on the face alone.

With `appearance` (set by training where the features files hold it), the blendshape input carries the face's
appearance (emotui.data.appearance, a HOG of its aligned crop) after the 52 blendshapes; the mirror map covers both.
With `crop_side` the appearance ends in the crop's pixels, which only the crop tokens (emotui.learn.crop_encoder)
read: the whole-face MLP and the appearance cells take the HOG.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ..data.features import N_BLENDSHAPES
from ..data.landmarker import N_LANDMARKS
from .crop_encoder import CropEncoder

SIZES = {
    # No transformer: the whole-face MLP alone, on inputs standardised one by one (see the model notes)
    # (the person reference doubles its inputs and did not pay on unseen faces; 480 wide, ~1.4M parameters with the appearance)
    "mlp": {"depth": 0, "wide": 480, "standardise": True, "input_noise": 0.1, "reference": False},
    "tiny": {"dim": 48, "depth": 2, "heads": 4, "n_regions": 24},
    "small": {"dim": 96, "depth": 3, "heads": 4, "n_regions": 32},
    # The default: attention over the whole face as one token (the MLP above, ending in a token), 16 region
    # tokens, the blendshapes and 5 appearance strips (5 HOG blocks each); the class token reads them all.
    "transformer": {"dim": 64, "depth": 2, "heads": 4, "n_regions": 16, "wide": 384, "standardise": True,
                    "input_noise": 0.1, "reference": False, "face_token": True, "appearance_tokens": 5},
    # The same, with 9 tokens of the aligned crop's pixels read by a small convolutional network.
    "transformer-crop": {"dim": 64, "depth": 2, "heads": 4, "n_regions": 16, "wide": 384, "standardise": True,
                         "input_noise": 0.1, "reference": False, "face_token": True, "appearance_tokens": 5,
                         "crop_grid": 3},
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
    reference: bool = True  # inputs relative to the person's reference face as well (see the module doc)
    wide: int = 0  # hidden width of a two-layer MLP over the whole face beside the transformer (0: none)
    standardise: bool = False  # that MLP's inputs each standardised (buffers wide_mean, wide_scale)
    input_noise: float = 0.0  # gaussian noise on those standardised inputs while training
    # appearance values (emotui.data.appearance) after the blendshapes in the descriptor input (0: blendshapes alone)
    appearance: int = 0
    # the whole-face MLP ends in a token the encoder attends to, not in logits of its own
    face_token: bool = False
    # the appearance split into this many cell tokens (HOG blocks), not carried in the blendshape token
    appearance_tokens: int = 0
    # the side of the crop whose pixels end the appearance (set by training where the features hold them; 0: none)
    crop_side: int = 0
    # the crop's pixels read by a convolutional network into crop_grid x crop_grid tokens (0: pixels not read)
    crop_grid: int = 0

    @property
    def hog(self) -> int:
        """How many of the appearance values are its HOG (the rest are the crop's pixels)."""
        return self.appearance - self.crop_side ** 2

    def __post_init__(self) -> None:
        if self.depth == 0 and self.wide == 0:
            raise ValueError("an architecture needs a transformer (depth > 0) or a whole-face MLP (wide > 0)")
        if self.face_token and not (self.depth and self.wide):
            raise ValueError("a face token needs both the transformer and the whole-face MLP")
        if self.appearance_tokens and self.hog % self.appearance_tokens:
            raise ValueError("appearance cells need the appearance in equal parts")
        if self.crop_side and self.reference:
            raise ValueError("the crop's pixels are read without a person reference")

    @classmethod
    def of_size(cls, name: str, **over) -> Architecture:  # noqa: ANN003
        merged = {**SIZES[name], **over}
        if not merged.get("appearance"):  # features without the appearance: no cells to make tokens of
            merged["appearance_tokens"] = 0
        if not merged.get("crop_side"):  # nor pixels to read
            merged["crop_grid"] = 0
        return cls(**merged)

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


class _MirrorAveraging:
    """Judging each face together with its mirror image, as prediction does. A part of ExpressionTransformer: it
    uses the mirror maps (point_mirror, blend_mirror), the calibration buffers and the forward pass."""

    def mirror(self, points: torch.Tensor, blendshapes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The same faces seen in a mirror: points swapped with their twins and x negated, Left/Right swapped."""
        return points[:, self.point_mirror] * points.new_tensor([-1.0, 1.0, 1.0]), blendshapes[:, self.blend_mirror]

    def _mirrored_references(self, ref_points: torch.Tensor,
                             ref_blend: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The references seen in the mirror; as they are for a model without reference inputs, which ignores them
        (mirroring them cost ~10 % of the MLP's time per face)."""
        return self.mirror(ref_points, ref_blend) if self.arch.reference else (ref_points, ref_blend)

    def mirrored_logits(self, points: torch.Tensor, blendshapes: torch.Tensor, ref_points: torch.Tensor,
                        ref_blend: torch.Tensor, has_ref: torch.Tensor) -> torch.Tensor:
        """Raw logits averaged over each face and its mirror image (before temperature and bias)."""
        p2, b2 = self.mirror(points, blendshapes)
        r2, rb2 = self._mirrored_references(ref_points, ref_blend)
        return (self(points, blendshapes, ref_points, ref_blend, has_ref) + self(p2, b2, r2, rb2, has_ref)) / 2

    def probabilities(self, points: torch.Tensor, blendshapes: torch.Tensor, ref_points: torch.Tensor | None = None,
                      ref_blend: torch.Tensor | None = None, has_ref: torch.Tensor | None = None) -> torch.Tensor:
        """Class probabilities averaged over each face and its mirror image (the model was trained with mirror
        augmentation, so this halves left/right noise for the price of a batch of two)."""
        n = points.shape[0]
        p2, b2 = self.mirror(points, blendshapes)
        args = [torch.cat([points, p2]), torch.cat([blendshapes, b2])]
        if ref_points is not None:
            r2, rb2 = self._mirrored_references(ref_points, ref_blend)
            args += [torch.cat([ref_points, r2]), torch.cat([ref_blend, rb2]), torch.cat([has_ref, has_ref])]
        probs = torch.softmax((self(*args) + self.logit_bias) / self.temperature, dim=1)
        return (probs[:n] + probs[n:]) / 2


class _Standardising:
    """The whole-face MLP's inputs, each standardised on the training faces. A part of ExpressionTransformer: it
    uses its buffers (wide_mean, wide_scale) and its _inputs."""

    def _standardised(self, whole: torch.Tensor) -> torch.Tensor:
        return (whole - self.wide_mean) / self.wide_scale if self.arch.standardise else whole

    @torch.no_grad()
    def fit_standardisation(self, points: torch.Tensor, blendshapes: torch.Tensor, ref_points: torch.Tensor,
                            ref_blend: torch.Tensor, has_ref: torch.Tensor, chunk: int = 4096) -> None:
        """Each whole-face input's mean and spread over the training faces (the geometry must be set first)."""
        if not (self.wide is not None and self.arch.standardise):
            return
        total = total_sq = 0.0
        for s in range(0, len(points), chunk):
            flat = self._without_pixels(blendshapes[s:s + chunk])[0]
            x, b = self._inputs(points[s:s + chunk], flat, ref_points[s:s + chunk], ref_blend[s:s + chunk],
                                has_ref[s:s + chunk])
            whole = torch.cat([x.flatten(1), b], 1).double()
            total, total_sq = total + whole.sum(0), total_sq + (whole ** 2).sum(0)
        mean = total / len(points)
        spread = (total_sq / len(points) - mean ** 2).clamp_min(0).sqrt()
        self.wide_mean.copy_(mean.float())
        self.wide_scale.copy_((spread + 1e-3).float())  # the flag and nearly constant inputs stay near their size


class ExpressionTransformer(_MirrorAveraging, _Standardising, nn.Module):
    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        self.arch = arch
        d, r = arch.dim, arch.n_regions
        k = -(-N_LANDMARKS // r)  # points per region token
        c = 6 if arch.reference else 3  # coordinates per point
        self.register_buffer("mean_points", torch.zeros(N_LANDMARKS, 3))
        self.register_buffer("point_scale", torch.ones(N_LANDMARKS, 3))
        if arch.reference:
            self.register_buffer("reference_scale", torch.ones(N_LANDMARKS, 3))
        self.register_buffer("regions", torch.full((r, k), N_LANDMARKS, dtype=torch.long))
        self.register_buffer("point_mirror", torch.arange(N_LANDMARKS))
        self.register_buffer("blend_mirror", torch.arange(N_BLENDSHAPES + arch.appearance))
        n_desc = N_BLENDSHAPES + arch.hog  # the descriptors but for the crop's pixels
        blend_in = 2 * n_desc + 1 if arch.reference else n_desc
        if arch.depth:
            self.region_weight = nn.Parameter(torch.randn(r, k * c, d) * (k * c) ** -0.5)
            self.region_bias = nn.Parameter(torch.zeros(r, d))
            cells = arch.appearance_tokens
            # with cells the blendshape token takes the blendshapes [, their offsets from the reference, the flag]
            blend_token_in = (2 * N_BLENDSHAPES + 1 if arch.reference else N_BLENDSHAPES) if cells else blend_in
            self.blend_embed = nn.Sequential(nn.Linear(blend_token_in, d), nn.GELU(),
                                             nn.Linear(d, d))
            self.cell_embed = nn.Linear(arch.hog // cells, d) if cells else None
            grid = arch.crop_grid if arch.crop_side else 0
            self.crop = CropEncoder(arch.crop_side, d, grid) if grid else None
            self.shape_embed = nn.Linear(N_LANDMARKS * c, d) if arch.shape_token else None
            self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
            n_tokens = r + 2 + arch.shape_token + arch.face_token + cells + grid ** 2
            self.position = nn.Parameter(torch.randn(1, n_tokens, d) * 0.02)
            layer = nn.TransformerEncoderLayer(d, arch.heads, d * arch.ffn_mult, arch.dropout, activation="gelu",
                                               batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, arch.depth, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(d)
            self.head = nn.Linear(d, arch.n_classes)
        # The whole face at once, its logits added to the class token's: on low-resolution web faces such a
        # network alone beats the region tokens (see the model notes).
        self.wide = None
        if arch.wide:
            h, n_in = arch.wide, N_LANDMARKS * c + blend_in
            self.wide = nn.Sequential(nn.Dropout(0.1), nn.Linear(n_in, h), nn.GELU(),
                                      nn.Dropout(0.3), nn.Linear(h, h), nn.GELU(), nn.Dropout(0.3),
                                      nn.Linear(h, d if arch.face_token else arch.n_classes))
            if arch.standardise:
                self.register_buffer("wide_mean", torch.zeros(n_in))
                self.register_buffer("wide_scale", torch.ones(n_in))
            if arch.reference:  # the inputs that are offsets from a reference, zero for a face without one
                columns = torch.zeros(N_LANDMARKS, c, dtype=torch.bool)
                columns[:, 3:] = True
                blend = torch.zeros(blend_in, dtype=torch.bool)
                blend[n_desc:2 * n_desc] = True
                self.register_buffer("ref_columns", torch.cat([columns.flatten(), blend]), persistent=False)
        # Fitted after training on the validation part (emotui.learn.calibration): probabilities are
        # softmax((logits + logit_bias) / temperature). Zero and one leave the network's own output.
        self.register_buffer("logit_bias", torch.zeros(arch.n_classes))
        self.register_buffer("temperature", torch.ones(1))

    def set_geometry(self, mean_points: np.ndarray, point_scale: np.ndarray, point_mirror: np.ndarray,
                     blend_mirror: np.ndarray, reference_scale: np.ndarray | None = None) -> None:
        """Fix the training set's mean face, its spread per axis (and that of faces around their person's
        reference), the regions and the mirror maps."""
        self.mean_points.copy_(torch.as_tensor(mean_points, dtype=torch.float32))
        self.point_scale.copy_(torch.as_tensor(point_scale, dtype=torch.float32))
        if self.arch.reference:
            scale = point_scale if reference_scale is None else reference_scale
            self.reference_scale.copy_(torch.as_tensor(scale, dtype=torch.float32))
        if self.arch.depth:  # k-means over the mean face: only the transformer's tokens use the regions
            self.regions.copy_(torch.as_tensor(region_table(mean_points, self.arch.n_regions)))
        self.point_mirror.copy_(torch.as_tensor(point_mirror))
        self.blend_mirror.copy_(torch.as_tensor(blend_mirror))

    def forward(self, points: torch.Tensor, blendshapes: torch.Tensor, ref_points: torch.Tensor | None = None,
                ref_blend: torch.Tensor | None = None, has_ref: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 478, 3) canonical points, (B, 52 + appearance) descriptors [, their person references (B, 478, 3),
        (B, 52 + appearance) and (B,) bool marking the rows that have one] -> (B, n_classes) logits."""
        blendshapes, pixels = self._without_pixels(blendshapes)
        x, blendshapes = self._inputs(points, blendshapes, ref_points, ref_blend, has_ref)
        whole = self._whole(x, blendshapes, has_ref) if self.wide is not None else None
        if self.arch.face_token:
            return self._token_logits(x, blendshapes, whole, pixels)
        logits = self._token_logits(x, blendshapes, pixels=pixels) if self.arch.depth else 0
        return logits + self.wide(whole) if whole is not None else logits

    def _without_pixels(self, blendshapes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The descriptors up to the crop's pixels, and the pixels (None without them)."""
        cut = N_BLENDSHAPES + self.arch.hog
        return blendshapes[:, :cut], (blendshapes[:, cut:] if self.arch.crop_side else None)

    def _whole(self, x: torch.Tensor, blendshapes: torch.Tensor, has_ref: torch.Tensor | None) -> torch.Tensor:
        """The whole-face input, standardised, with gaussian noise while training."""
        whole = self._standardised(torch.cat([x.flatten(1), blendshapes], 1))
        if self.training and self.arch.input_noise:
            noise = self.arch.input_noise * torch.randn_like(whole)
            if self.arch.reference:  # offsets that are not there stay zero: noise there only teaches noise
                known = x.new_zeros(len(x)) if has_ref is None else has_ref.to(x.dtype)
                noise = noise * torch.where(self.ref_columns, known[:, None], 1.0)
            whole = whole + noise
        return whole

    def _inputs(self, points, blendshapes, ref_points, ref_blend, has_ref):  # noqa: ANN001, ANN202
        """Points relative to the mean face [and to the person's reference], blendshapes [with their offsets from
        the reference and the flag]: (B, 478, C), (B, blend_in)."""
        b = points.shape[0]
        x = (points - self.mean_points) / self.point_scale
        if self.arch.reference:
            known = points.new_zeros(b) if has_ref is None else has_ref.to(points.dtype)
            if has_ref is None:
                ref_points, ref_blend = points, blendshapes
            delta = (points - ref_points) / self.reference_scale * known[:, None, None]
            x = torch.cat([x, delta], dim=2)
            blendshapes = torch.cat([blendshapes, (blendshapes - ref_blend) * known[:, None], known[:, None]], dim=1)
        return x, blendshapes

    def _token_logits(self, x: torch.Tensor, blendshapes: torch.Tensor, whole: torch.Tensor | None = None,
                      pixels: torch.Tensor | None = None) -> torch.Tensor:
        b = x.shape[0]
        padded = torch.cat([x, x.new_zeros(b, 1, x.shape[2])], dim=1)  # index N_LANDMARKS pads the regions
        patches = padded[:, self.regions].flatten(2)  # (B, R, K*C)
        regions = torch.einsum("brk,rkd->brd", patches, self.region_weight) + self.region_bias
        if whole is not None:  # the descriptors as the whole-face MLP sees them: standardised, noisy in training
            blendshapes = whole[:, x.shape[1] * x.shape[2]:]
        parts = [self.cls_token.expand(b, -1, -1)]
        if self.cell_embed is not None:
            n_desc = N_BLENDSHAPES + self.arch.hog
            cells = blendshapes[:, N_BLENDSHAPES:n_desc].reshape(b, self.arch.appearance_tokens, -1)
            blend = blendshapes[:, :N_BLENDSHAPES]
            if self.arch.reference:
                blend = torch.cat([blend, blendshapes[:, n_desc:n_desc + N_BLENDSHAPES], blendshapes[:, -1:]], 1)
            parts += [self.blend_embed(blend)[:, None], self.cell_embed(cells)]
        else:
            parts.append(self.blend_embed(blendshapes)[:, None])
        parts.append(regions)
        if self.shape_embed is not None:
            parts.append(self.shape_embed(x.flatten(1))[:, None])
        if whole is not None:
            parts.append(self.wide(whole)[:, None])
        if self.crop is not None:
            parts.append(self.crop(pixels))
        h = self.encoder(torch.cat(parts, 1) + self.position)
        return self.head(self.norm(h[:, 0]))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
