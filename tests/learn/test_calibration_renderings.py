"""The calibration is fitted on cameras' own faces, not on `emotui degrade` renderings, where a training has both
(real ckplus48 features, the copy marked as a features file of renderings marks its rows)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from emotui.data.features import load_features
from emotui.learn.training import run_training


def _as_renderings(features, out):  # noqa: ANN001, ANN202
    table = pq.read_table(features)
    pq.write_table(table.append_column("render_face_px", pa.array([48] * len(table), pa.int32())), out)
    return out


def _calibration(model) -> tuple[int, int]:  # noqa: ANN001
    metrics = json.loads((model / "config.json").read_text())["metrics"]
    return metrics["calibration"]["fitted_on"], metrics["validation"]["n"]


def test_renderings_are_marked_and_left_out_of_the_calibration(ck_subset_features, tmp_path):
    renders = _as_renderings(ck_subset_features, tmp_path / "ck-subset-renders.parquet")
    fs = load_features([ck_subset_features, renders])
    n_real = len(load_features([ck_subset_features]))
    assert not fs.rendered[:n_real].any() and fs.rendered[n_real:].all() and len(fs) == 2 * n_real

    run_training([ck_subset_features, renders], tmp_path / "both", epochs=1, model_size="tiny", seed=1)
    fitted, judged = _calibration(tmp_path / "both")
    assert 0 < fitted < judged  # the validation part holds both; only the real faces were fitted on

    run_training([renders], tmp_path / "only", epochs=1, model_size="tiny", seed=1)
    fitted, judged = _calibration(tmp_path / "only")
    assert fitted == judged  # renderings alone: fitted on them rather than on nothing


def test_a_subset_keeps_the_mark(ck_subset_features, tmp_path):
    fs = load_features([ck_subset_features, _as_renderings(ck_subset_features, tmp_path / "r.parquet")])
    part = fs.subset(np.array([0, len(fs) - 1]))
    assert part.rendered.tolist() == [False, True]
