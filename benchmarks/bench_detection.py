"""Detection rate and cost: the single MediaPipe pass against the small-faces path (emotui.data.small_faces).

For each dataset, a deterministic sample of its manifest (every k-th row) goes through extraction's per-image
function (`detect_image`, one face wanted, as `emotui extract` runs by default) with two Landmarkers: the old
single pass (`search=False, refine_small=False`) and the default one. Blocks of images alternate between the two
so the load of other jobs falls on both alike; time is CPU time of this process. Printed per dataset: detection
rate (status ok / images) before and after, and the time ratio new / old.
Then the predict case (`want` = max_faces = 10, predict's default, so a search runs whenever fewer faces are found)
on ../shared/media. The default path includes the rescue passes (mirror, turns) for images where nothing is found.

    python benchmarks/bench_detection.py [--per-dataset 300] [--datasets ckplus48 muxspace-fe ferplus]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
os.environ.setdefault("EMOTUI_LANDMARKER", str(SHARED / "models" / "face_landmarker.task"))

from emotui.data.detection import DETECT_FACES, detect_image  # noqa: E402
from emotui.data.landmarker import Landmarker, read_image  # noqa: E402


def sample(dataset: Path, n: int) -> list[str]:
    import pandas as pd

    files = pd.read_csv(dataset / "manifest.csv")["file"].sort_values().tolist()
    step = max(1, len(files) // n)
    return [str(dataset / f) for f in files[::step][:n]]


def timed(fn, items) -> tuple[list, float]:  # noqa: ANN001
    t0 = time.process_time()
    out = [fn(item) for item in items]
    return out, time.process_time() - t0


def compare(old: Landmarker, new: Landmarker, paths: list[str], block: int = 25) -> dict:
    ok = {"old": 0, "new": 0}
    cpu = {"old": 0.0, "new": 0.0}
    for start in range(0, len(paths), block):
        chunk = paths[start:start + block]
        for name, lm in (("old", old), ("new", new)) if (start // block) % 2 == 0 else (("new", new), ("old", old)):
            records, seconds = timed(lambda p, lm=lm: detect_image(lm, p, 1), chunk)
            ok[name] += sum(r.status == "ok" for r in records)
            cpu[name] += seconds
    return {"n": len(paths), "ok_old": ok["old"], "ok_new": ok["new"], "ratio": cpu["new"] / max(cpu["old"], 1e-9),
            "ms_old": 1000 * cpu["old"] / len(paths), "ms_new": 1000 * cpu["new"] / len(paths)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-dataset", type=int, default=300)
    parser.add_argument("--datasets", nargs="+", default=["ckplus48", "muxspace-fe", "ferplus"])
    args = parser.parse_args()
    faces = DETECT_FACES  # as extraction's workers create their Landmarker
    # the small-face search alone: the mirror pass (bench_extract.py) is left out of both
    with Landmarker(max_faces=faces, search=False, refine_small=False, mirror_view=False) as old, \
            Landmarker(max_faces=faces, mirror_view=False) as new:
        print("| dataset | images | found before | found after | ms/image before | after | time new/old |")
        print("|---|---|---|---|---|---|---|")
        for name in args.datasets:
            r = compare(old, new, sample(SHARED / "datasets" / name, args.per_dataset))
            print(f"| {name} | {r['n']} | {r['ok_old']} ({r['ok_old'] / r['n']:.1%}) | {r['ok_new']} "
                  f"({r['ok_new'] / r['n']:.1%}) | {r['ms_old']:.1f} | {r['ms_new']:.1f} | {r['ratio']:.2f} |")
    with Landmarker(max_faces=10, search=False, refine_small=False, mirror_view=False) as old, \
            Landmarker(max_faces=10, mirror_view=False) as new:
        print()
        print("| predict (want 10) | faces before | after | ms before | after | time new/old |")
        print("|---|---|---|---|---|---|")
        for image in ("single_face.jpg", "multi_face.jpg"):
            rgb = read_image(SHARED / "media" / image)
            res, ms = {}, {}
            for name, lm in (("old", old), ("new", new)) * 3:
                found, seconds = timed(lambda _, lm=lm: lm.detect(rgb), range(5))
                res[name], ms[name] = len(found[0]), min(ms.get(name, 1e9), 1000 * seconds / 5)
            print(f"| {image} | {res['old']} | {res['new']} | {ms['old']:.0f} | {ms['new']:.0f} | "
                  f"{ms['new'] / ms['old']:.1f} |")


if __name__ == "__main__":
    main()
