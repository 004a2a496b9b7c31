"""Extraction speed as ratios against baselines measured in the same run (the machine is shared and noisy).

  (a) `extract --workers 1` (the default: mirror views derived from the one detection) images/s  /  a bare loop
      (cv2.imread + FaceLandmarker.detect) over the same images                                 target >= 0.90
      (a') `extract --workers 1 --mirror-view detect` / a bare loop that also detects in the mirrored image
      (a'') `extract --workers 1 --mirror-view off` / the bare loop, both on the images where the bare loop finds a
      face: one MediaPipe pass each, as the bare loop makes, so it prices what extraction adds to every image
      (decoding checks, appearance, conversion, Parquet), not the search on images a first pass misses
      target >= 0.95
  (b) `extract --workers 2` images/s  /  `extract --workers 1`                                target >= 1.8
  (g) `--mirror-view detect` / the default derive: the speed a second detection costs
  fixed cost: one run on 8 images, time.perf_counter around each phase (benchmarks/extract_phases.py), 1 and 2
      workers: what a run costs beside its images (imports, model, worker start, parts, merge)
  (c) `emotui --help` wall time (and its ratio to a bare `python -c pass`)                    target < 0.5 s
  (d) peak memory of `extract --workers 1` on an 8000x8000 JPEG / on a 572x562 one
  --rates: detection rate (ok / images) on every shared dataset, writing the features to --features-dir.
  --engine ray: instead of (a)-(d), Ray against the local engine on the same images, in the same rounds:
  (e) `extract --engine ray` (2 actors) images/s  /  `extract --workers 2`                     target >= 0.85
      on a 2-CPU Ray instance already running (as a cluster is: `--address`), and cold (no --address: the run
      starts its own instance, which costs seconds)
  (f) 2 actors / 1 actor on the running instance: how Ray's extraction scales with actors

Each configuration runs in a fresh process. "images/s" is what `emotui extract` reports (from the moment it needs
MediaPipe: importing it, loading the model, starting the workers, to the last image saved) against the bare loop's
images over the same span (import of cv2 + MediaPipe, model load, loop). "end to end" is images over the whole process's wall time, imports and Parquet included;
"per CPU second" divides by the CPU time of the process and its workers instead, which the load other jobs put
on a shared machine barely changes (wall-clock ratios there swing by +-30% from one round to the next).

    python benchmarks/bench_extract.py [--dataset ../shared/datasets/muxspace-fe] [--limit 300] [--repeat 1]
    python benchmarks/bench_extract.py --rates [--features-dir /work/scratch/features]
    python benchmarks/bench_extract.py --engine ray [--limit 1200] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
os.environ.setdefault("EMOTUI_LANDMARKER", str(SHARED / "models" / "face_landmarker.task"))

BARE_LOOP = """
import sys, time
t0 = time.perf_counter()
import cv2, mediapipe as mp
from mediapipe.tasks.python import BaseOptions, vision
t1 = time.perf_counter()
options = vision.FaceLandmarkerOptions(
    base_options=BaseOptions(model_asset_path=sys.argv[1]), running_mode=vision.RunningMode.IMAGE, num_faces=1,
    output_face_blendshapes=True, output_facial_transformation_matrixes=True)
paths = open(sys.argv[2]).read().split("\\n")
with vision.FaceLandmarker.create_from_options(options) as landmarker:
    faces, found_paths = 0, []
    for path in paths:
        bgr = cv2.imread(path)
        if bgr is None:
            continue
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        found = len(landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)).face_landmarks)
        faces += found
        found_paths += [path] if found else []
        if found and len(sys.argv) > 3 and sys.argv[3] == "mirror":  # the mirrored pass emotui makes for each face's mirror view
            landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=cv2.flip(rgb, 1)))
t2 = time.perf_counter()
print(t2 - t1, t2 - t0, faces)  # the loop alone (model load included), and with the imports
if len(sys.argv) > 4:
    open(sys.argv[4], "w").write("\\n".join(found_paths))
"""


def subset(dataset: Path, limit: int, workdir: Path) -> Path:
    """A CSV manifest of `limit` images spread over the classes (the same images for every measurement)."""
    from emotui.data.datasets import discover

    frame = discover(dataset)
    if limit and limit < len(frame):
        frame = frame.sample(limit, random_state=0).sort_values("path")
    manifest = workdir / "subset.csv"
    frame[["path", "label", "subject"]].to_csv(manifest, index=False)
    (workdir / "paths.txt").write_text("\n".join(frame["path"]))
    return manifest


def run_timed(args: list[str]) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run a process; return it with its wall time and its CPU time (with its waited-for children's; forkserver
    workers are grandchildren and are not counted, so CPU figures are only used for --workers 1)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return done, wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def found_subset(manifest: Path, workdir: Path) -> Path:
    """The manifest's images where the bare loop finds a face, as workdir/found/subset.csv (and paths.txt)."""
    import pandas as pd

    found = workdir / "found"
    found.mkdir()
    bare_loop(workdir, found_out=found / "paths.txt")
    paths = set((found / "paths.txt").read_text().split("\n"))
    frame = pd.read_csv(manifest)
    frame[frame["path"].isin(paths)].to_csv(found / "subset.csv", index=False)
    return found / "subset.csv"


def bare_loop(workdir: Path, mirrored: bool = False, found_out: Path | None = None) -> dict:
    from emotui.data.landmarker import resolve_landmarker

    extra = ["mirror" if mirrored else "-", str(found_out)] if found_out else (["mirror"] if mirrored else [])
    done, wall, cpu = run_timed([sys.executable, "-c", BARE_LOOP, str(resolve_landmarker()), str(workdir / "paths.txt"),
                                 *extra])
    loop, with_imports, faces = done.stdout.split()
    n = len((workdir / "paths.txt").read_text().split("\n"))
    return {"images": n, "rate": n / float(with_imports), "loop_rate": n / float(loop), "wall_rate": n / wall,
            "cpu_rate": n / cpu, "faces": int(faces)}


def extract_cli(manifest: Path, workdir: Path, workers: int, *options: str) -> dict:
    """`emotui extract` in a fresh process: its own images/s (model load and worker start-up included, Python
    imports not, like the bare loop) and the end-to-end wall rate."""
    out = workdir / f"w{workers}.parquet"
    done, wall, cpu = run_timed([sys.executable, "-m", "emotui", "extract", str(manifest), "--out", str(out),
                                 "--workers", str(workers), "--json", *options])
    out.unlink()
    summary = json.loads(done.stdout)
    n = summary["detected"]
    return {"rate": summary["rate"], "wall_rate": n / wall, "cpu_rate": n / cpu, "ok": summary["by_status"].get("ok", 0)}


def fixed_cost(manifest: Path, workdir: Path, workers: int, images: int = 8) -> dict[str, float]:
    """Seconds per phase of one run on the manifest's first `images` images (benchmarks/extract_phases.py)."""
    import pandas as pd

    few = workdir / "few.csv"
    pd.read_csv(manifest).head(images).to_csv(few, index=False)
    out = workdir / "phases.parquet"
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "extract_phases.py"), str(few), str(out),
                           str(workers)], capture_output=True, text=True, check=True)
    out.unlink()
    return json.loads(done.stdout)


def print_fixed_cost(fixed: dict[int, dict[str, float]]) -> None:
    phases = list(dict.fromkeys(name for spent in fixed.values() for name in spent if name != "images"))
    print(f"fixed cost, one run on {int(fixed[1]['images'])} images (s)      workers 1   workers 2")
    for name in phases:
        cells = "".join(f"{fixed[w][name]:10.3f}  " if name in fixed[w] else " " * 12 for w in (1, 2))
        print(f"  {name:40s} {cells}")


def peak_memory(workdir: Path) -> tuple[float, float]:
    """Peak RSS (MB) of `emotui extract --workers 1` on one 8000x8000 JPEG and on the same face at 572x562."""
    import cv2

    small = SHARED / "media" / "single_face.jpg"
    sizes = []
    for name, side in (("small", None), ("huge", 8000)):
        root = workdir / f"mem-{name}" / "happy"
        root.mkdir(parents=True)
        if side:
            cv2.imwrite(str(root / "face.jpg"), cv2.resize(cv2.imread(str(small)), (side, side)))
        else:
            (root / "face.jpg").write_bytes(small.read_bytes())
        probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
                 "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
        done = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "emotui", "extract", str(root.parent),
                               "--out", str(workdir / f"mem-{name}.parquet"), "--workers", "1"],
                              capture_output=True, text=True, check=True)
        sizes.append(int(done.stdout) / 1024)
    return sizes[0], sizes[1]


def help_time(repeat: int = 7) -> tuple[float, float]:
    def timed(args: list[str]) -> float:
        runs = []
        for _ in range(repeat):
            started = time.perf_counter()
            subprocess.run(args, capture_output=True, check=True)
            runs.append(time.perf_counter() - started)
        return statistics.median(runs)

    return timed([sys.executable, "-m", "emotui", "--help"]), timed([sys.executable, "-c", "pass"])


def speed(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-extract-") as tmp:
        workdir = Path(tmp)
        manifest = subset(args.dataset, args.limit, workdir)
        found = found_subset(manifest, workdir)
        runs: dict[str, list[dict]] = {"bare": [], "bare2": [], "w1": [], "w1detect": [], "bare_found": [],
                                       "w1one": [], "w2": []}
        for round_ in range(args.repeat):
            # Interleaved, so that a burst of load from other jobs hits every configuration alike.
            runs["bare"].append(bare_loop(workdir))
            runs["bare2"].append(bare_loop(workdir, mirrored=True))
            runs["w1"].append(extract_cli(manifest, workdir, 1))
            runs["w1detect"].append(extract_cli(manifest, workdir, 1, "--mirror-view", "detect"))
            runs["bare_found"].append(bare_loop(found.parent))
            runs["w1one"].append(extract_cli(found, workdir, 1, "--mirror-view", "off"))
            runs["w2"].append(extract_cli(manifest, workdir, 2))
            print(f"round {round_ + 1}: " + json.dumps({k: v[-1] for k, v in runs.items()}, default=_round),
                  file=sys.stderr)
        small_mb, huge_mb = peak_memory(workdir)
        fixed = {workers: fixed_cost(manifest, workdir, workers) for workers in (1, 2)}
    med = {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in runs.items()}
    n = int(med["bare"]["images"])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"dataset {args.dataset} ({n} images), {args.repeat} round(s), median; load average {load:.1f} "
          f"on {os.cpu_count()} cores")
    print(f"  bare loop            {med['bare']['rate']:7.1f} images/s  (end to end {med['bare']['wall_rate']:.1f})")
    print(f"  bare, mirrored too   {med['bare2']['rate']:7.1f} images/s  (end to end {med['bare2']['wall_rate']:.1f})")
    print(f"  extract --workers 1  {med['w1']['rate']:7.1f} images/s  (end to end {med['w1']['wall_rate']:.1f})")
    print(f"    --mirror-view detect {med['w1detect']['rate']:5.1f} images/s  "
          f"(end to end {med['w1detect']['wall_rate']:.1f})")
    print(f"  on the {int(med['bare_found']['images'])} images where the bare loop finds a face: bare loop "
          f"{med['bare_found']['rate']:.1f} images/s, extract --workers 1 --mirror-view off {med['w1one']['rate']:.1f}")
    print(f"  extract --workers 2  {med['w2']['rate']:7.1f} images/s  (end to end {med['w2']['wall_rate']:.1f})")
    print(f"(a) workers 1 / bare loop        = {med['w1']['rate'] / med['bare']['rate']:.2f}   target >= 0.90"
          f"   [end to end: {med['w1']['wall_rate'] / med['bare']['wall_rate']:.2f}; images per CPU second, "
          f"which other jobs' load barely moves: {med['w1']['cpu_rate'] / med['bare']['cpu_rate']:.2f}; "
          f"against the bare loop without its imports (emotui skips mediapipe's matplotlib, the bare loop does "
          f"not: emotui.data.mediapipe_import): {med['w1']['rate'] / med['bare']['loop_rate']:.2f}]")
    print(f"(a') detect / bare loop with the mirrored pass = {med['w1detect']['rate'] / med['bare2']['rate']:.2f}"
          f"   [images per CPU second: {med['w1detect']['cpu_rate'] / med['bare2']['cpu_rate']:.2f}]")
    print(f"(a'') off / bare loop, images a pass finds = {med['w1one']['rate'] / med['bare_found']['rate']:.2f}"
          f"   target >= 0.95   [images per CPU second: {med['w1one']['cpu_rate'] / med['bare_found']['cpu_rate']:.2f}]")
    best = {k: max(r["rate"] for r in v) for k, v in runs.items()}
    print(f"(b) workers 2 / workers 1        = {med['w2']['rate'] / med['w1']['rate']:.2f}   target >= 1.8"
          f"   [end to end: {med['w2']['wall_rate'] / med['w1']['wall_rate']:.2f}; best round of each, the least "
          f"disturbed by other jobs: {best['w2'] / best['w1']:.2f}; noisy: 2 workers need both cores, which "
          f"other jobs share]")
    print(f"(g) detect / derive, workers 1   = {med['w1detect']['rate'] / med['w1']['rate']:.2f}   "
          f"[images per CPU second: {med['w1detect']['cpu_rate'] / med['w1']['cpu_rate']:.2f}; accuracy is "
          f"measured in models/default/NOTES.md]")
    print_fixed_cost(fixed)
    help_s, python_s = help_time()
    print(f"(c) emotui --help                = {help_s:.3f} s   target < 0.5 s   "
          f"[{help_s / python_s:.1f}x a bare `python -c pass`, {python_s:.3f} s]")
    print(f"(d) peak memory, one 8000x8000 JPEG / one 572x562 JPEG = {huge_mb:.0f} / {small_mb:.0f} MB = "
          f"{huge_mb / small_mb:.2f}   (a full-size decode alone would add ~400 MB)")


# A Ray instance that outlives the runs measured on it, as a cluster does; it ends with this process's stdin.
RAY_HEAD = """
import logging, sys
import ray
ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
         object_store_memory=256 * 1024 * 1024)
print(ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()
ray.shutdown()
"""


def engines(args: argparse.Namespace) -> None:
    # Ray turns on token authentication for the instance it starts; the runs that join it need the mode too
    # (the token itself is in ~/.ray/auth_token).
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    head = subprocess.Popen([sys.executable, "-c", RAY_HEAD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        address = head.stdout.readline().strip()
        if not address:
            raise SystemExit("the Ray instance for the benchmark did not start")
        with tempfile.TemporaryDirectory(prefix="bench-engines-") as tmp:
            workdir = Path(tmp)
            manifest = subset(args.dataset, args.limit, workdir)
            n = len(manifest.read_text().splitlines()) - 1
            ray = ("--engine", "ray", "--address", address)
            configs = {"local w2": (2, ()), "ray 2 actors": (2, ray), "ray 1 actor": (1, ray),
                       "ray 2 actors, cold": (2, ("--engine", "ray"))}
            runs: dict[str, list[dict]] = {name: [] for name in configs}
            for round_ in range(args.repeat):
                for name, (workers, options) in configs.items():  # interleaved, as in speed()
                    runs[name].append(extract_cli(manifest, workdir, workers, *options))
                print(f"round {round_ + 1}: " + json.dumps({k: v[-1] for k, v in runs.items()}, default=_round),
                      file=sys.stderr)
    finally:
        head.stdin.close()
        head.wait(timeout=120)
    med = {k: {m: statistics.median(r[m] for r in v) for m in ("rate", "wall_rate")} for k, v in runs.items()}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"dataset {args.dataset} ({n} images), {args.repeat} round(s), "
          f"median; load average {load:.1f} on {os.cpu_count()} cores")
    for name in configs:
        print(f"  {name:20s} {med[name]['rate']:7.1f} images/s  (end to end {med[name]['wall_rate']:.1f})")
    local = med["local w2"]
    for name, label in (("ray 2 actors", "(e) ray, running instance / local w2"),
                        ("ray 2 actors, cold", "    ray, cold / local w2")):
        print(f"{label:38s} = {med[name]['rate'] / local['rate']:.2f}   target >= 0.85"
              f"   [end to end: {med[name]['wall_rate'] / local['wall_rate']:.2f}]")
    print(f"(f) ray 2 actors / 1 actor              = {med['ray 2 actors']['rate'] / med['ray 1 actor']['rate']:.2f}"
          f"   [end to end: {med['ray 2 actors']['wall_rate'] / med['ray 1 actor']['wall_rate']:.2f}]")


def detection_rates(args: argparse.Namespace) -> None:
    from emotui.data.extraction import run_extraction

    args.features_dir.mkdir(parents=True, exist_ok=True)
    for name in ("kaggle-layout-sample", "ckplus48", "muxspace-fe"):
        out = args.features_dir / f"extract-{name}.parquet"
        summary = run_extraction(SHARED / "datasets" / name, out, workers=args.workers)
        ok = summary.by_status.get("ok", 0)
        print(f"{name:22s} {ok:5d} / {summary.total:5d} = {ok / summary.total:6.1%} faces found   "
              f"{summary.by_status}   -> {out} ({summary.detected} detected now at {summary.rate:.0f} images/s)")


def _round(value: object) -> object:
    return round(value, 2) if isinstance(value, float) else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=SHARED / "datasets" / "muxspace-fe")
    parser.add_argument("--limit", type=int, default=300, help="images to use (0 = all)")
    parser.add_argument("--repeat", type=int, default=1, help="interleaved rounds; medians are printed")
    parser.add_argument("--rates", action="store_true", help="detection rate on every shared dataset instead")
    parser.add_argument("--features-dir", type=Path, default=Path("/work/scratch/features"))
    parser.add_argument("--workers", type=int, default=None, help="workers for --rates (default: all cores)")
    parser.add_argument("--engine", choices=["ray"], help="compare this engine with the local one instead")
    args = parser.parse_args()
    if args.rates:
        detection_rates(args)
    elif args.engine:
        engines(args)
    else:
        speed(args)


if __name__ == "__main__":  # worker processes re-import this file
    main()
