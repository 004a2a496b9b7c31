"""Key-to-render latency of the dashboard, idle and while jobs run (target: < 100 ms while they run).

A key that changes what is visible (1/2/3 switch panes, s shows the sessions view) is posted to the app; the
latency is the time until the app hands the repainted screen to its driver (App._display) with the new pane active
(also given per pane: the slowest to switch to is where to look first). Measured with Pilot in a
headless terminal of 120x40, first idle, then with extraction, the monitor (and training when it can run) going,
in the same process and run, so the ratio is what counts on a noisy machine.

Jobs: the real core when it is importable (extraction of --dataset, the monitor on --source with --model or the
default model), otherwise STAND-INS that burn CPU in Python threads (the worst case for the GIL).

    python benchmarks/bench_tui.py [--presses 40] [--dataset DIR] [--source VIDEO] [--model DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def _available(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def make_jobs(args: argparse.Namespace):  # noqa: ANN201
    from emotui import config
    from emotui.tui.jobs import real_jobs
    from emotui.tui.standins import StandIns

    # Stand-ins: each keeps a core busy 30 ms per item, in native code (or in pure Python with --hold-gil).
    stand = StandIns(delay=0.02, burn=0.03, hold_gil=args.hold_gil, frames=None, images=100_000).jobs()
    real = real_jobs()
    chosen = {"extract": stand.extract, "watch": stand.watch, "train": stand.train}
    names = {"extract": "stand-in", "watch": "stand-in", "train": "stand-in"}
    if _available("emotui.data.extraction", "emotui.data.datasets"):
        chosen["extract"], names["extract"] = real.extract, "real"
    model = Path(args.model) if args.model else config.default_model_dir()
    if _available("emotui.live.monitor", "emotui.learn.predictor", "emotui.live.logstore") and (Path(model) / "config.json").is_file():
        chosen["watch"], names["watch"] = real.watch, "real"
    else:
        model = None
    features = None
    if _available("emotui.learn.training") and args.features:
        chosen["train"], names["train"] = real.train, "real"
        features = Path(args.features)
    jobs = type(real)(**{**real.__dict__, "discover": real.discover if names["extract"] == "real" else stand.discover,
                         "features_for": lambda _p: None, **chosen})
    return jobs, names, model, features


KEYS = (("1", "extract"), ("2", "train"), ("3", "monitor"), ("s", "sessions"))


async def measure(app, pilot, presses: int) -> list[tuple[str, float]]:  # noqa: ANN001
    """(the pane shown, ms from the key to its repainted screen) for each of `presses` keys."""
    from textual import events
    from textual.widgets import TabbedContent

    from emotui.tui.models_view import NewModelScreen

    tabs = app.query_one(TabbedContent)
    shown: list[tuple[float, str]] = []
    original = app._display

    def display(screen, renderable) -> None:  # noqa: ANN001
        if renderable is not None:
            shown.append((time.perf_counter(), tabs.active))
        original(screen, renderable)

    app._display = display
    latencies = []
    try:
        for i in range(presses):
            key, target = KEYS[i % len(KEYS)]
            if tabs.active == target:
                continue
            shown.clear()
            start = time.perf_counter()
            app.post_message(events.Key(key, key))
            while not any(t >= start and active == target for t, active in shown):
                if isinstance(app.screen, NewModelScreen):
                    break  # this key went to the question, not to the panes: not counted
                if time.perf_counter() - start > 5:
                    raise RuntimeError(f"key {key} not answered in 5 s (pane {tabs.active}, focus {app.focused})")
                await asyncio.sleep(0.0005)
            else:
                answered = min(t for t, active in shown if t >= start and active == target)
                latencies.append((target, (answered - start) * 1000))
            if isinstance(app.screen, NewModelScreen):  # training stopped early and asks: keep the monitor's model
                await pilot.press("k")
            await pilot.pause(0.08)
    finally:
        app._display = original
    return latencies


def summary(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    return f"{name:<26} median {statistics.median(ms):6.1f} ms   p95 {p95:6.1f} ms   max {ms[-1]:6.1f} ms   n={len(ms)}"


async def run(args: argparse.Namespace) -> None:
    from textual.widgets import Input

    from emotui.tui.app import EmotuiApp, Settings
    from emotui.tui.extract_pane import ExtractPane
    from emotui.tui.monitor_pane import MonitorPane
    from emotui.tui.train_pane import TrainPane

    jobs, names, model, features = make_jobs(args)
    app = EmotuiApp(Settings(data=Path(args.dataset), source=args.source, model=model, interval=0.0), jobs=jobs)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.5)
        idle_keys = await measure(app, pilot, args.presses)

        extract, monitor, train = app.query_one(ExtractPane), app.query_one(MonitorPane), app.query_one(TrainPane)
        extract.toggle()
        monitor.toggle()
        if features is not None or names["train"] == "stand-in":
            train.use_features([features or Path("stand-in.parquet")])
            app.query_one("#epochs", Input).value = "1000"
            train.toggle()
        deadline = time.monotonic() + 120
        while not (monitor.session and extract.headline not in ("idle", "starting")):
            if time.monotonic() > deadline:
                raise RuntimeError(f"jobs did not start: extract {extract.headline}, watch {monitor.headline}")
            await pilot.pause(0.1)
        await pilot.pause(1.0)
        rows_before = monitor.rows
        started = time.perf_counter()
        busy_keys = await measure(app, pilot, args.presses)
        seconds = time.perf_counter() - started
        frames = monitor.rows - rows_before
        running = [p.job_name for p in (extract, monitor, train) if p.running]
        quit_started = time.monotonic()
        await app.action_quit()
        quit_ms = (time.monotonic() - quit_started) * 1000
        released = {}
        for pane in (extract, monitor, train):
            if pane.job_name in running:
                ended = await asyncio.to_thread(pane.job_done.wait, 10)
                released[pane.job_name] = (pane.ended_at - quit_started) * 1000 if ended else None

    idle, busy = [ms for _, ms in idle_keys], [ms for _, ms in busy_keys]
    kind = " (pure Python, holding the GIL)" if args.hold_gil else ""
    print(f"jobs: extract={names['extract']} watch={names['watch']} train={names['train']}{kind}  "
          f"(running during the busy phase: {', '.join(running)}; {frames / seconds:.1f} predictions/s shown)")
    print(summary("idle", idle))
    print(summary("jobs running", busy))
    for _, target in KEYS:
        if any(shown == target for shown, _ in busy_keys):
            print(summary(f"  to {target}, jobs running", [ms for shown, ms in busy_keys if shown == target]))
    print(f"ratio busy/idle: median {statistics.median(busy) / statistics.median(idle):.2f}x   "
          f"max {max(busy) / max(idle):.2f}x")
    p95 = sorted(busy)[int(round(0.95 * (len(busy) - 1)))]
    print(f"target: a key answered within 100 ms while jobs run -> p95 {p95:.1f} ms "
          f"({'met' if p95 < 100 else 'MISSED'}), max {max(busy):.1f} ms (idle max {max(idle):.1f} ms: machine noise)")
    print(f"quit with jobs running: the app let go after {quit_ms:.0f} ms; job threads ended after "
          + ", ".join(f"{name} {ms:.0f} ms" if ms is not None else f"{name} still running after 10 s"
                      for name, ms in released.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=40)
    parser.add_argument("--dataset", default=str(SHARED / "datasets" / "muxspace-fe"))
    parser.add_argument("--source", default=str(SHARED / "media" / "WolfgangLanger_Pexels.mp4"))
    parser.add_argument("--model", default=None, help="model directory for a real monitor (default model otherwise)")
    parser.add_argument("--hold-gil", action="store_true", help="stand-ins burn in pure Python (worst case)")
    parser.add_argument("--features", default=None, help="features file for a real training run alongside")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="emotui-bench-") as data:
        os.environ["EMOTUI_DATA"] = data  # features, log and models of the run go away with it
        if not os.environ.get("EMOTUI_LANDMARKER") and (SHARED / "models" / "face_landmarker.task").is_file():
            os.environ["EMOTUI_LANDMARKER"] = str(SHARED / "models" / "face_landmarker.task")
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
