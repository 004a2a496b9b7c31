"""The core functions the dashboard runs in thread workers, behind one small seam.

The panes never import the core directly: they call a `Jobs` object, so tests, snapshots and benchmarks can
hand the app stand-ins (emotui/tui/standins.py) that emit the same event dataclasses. The real jobs import the
core lazily; a part missing from this build becomes a one-line error the app shows as a notification.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

from .. import config
from ..errors import EmotuiError

# How many faces the monitor follows at once (a row each in the tracked-faces table).
MONITOR_MAX_FACES = 4
EXPORT_FORMATS = ("csv", "jsonl", "parquet")


class JobUnavailable(EmotuiError):
    """The part of emotui a key needs is not in this build."""


@dataclass(frozen=True)
class DatasetInfo:
    layout: str
    n_images: int
    counts: dict[str, int]
    n_subjects: int = 0


@dataclass(frozen=True)
class Jobs:
    """The callables behind the keys. Long ones take `on_event` and `stop` (a threading.Event) like the core."""

    discover: Callable[[Path], DatasetInfo]
    features_for: Callable[[Path], Path | None]
    extract: Callable[..., Path]
    train: Callable[..., Path]
    watch: Callable[..., Any]
    export: Callable[[str, str, Path], Path]
    model_sizes: Callable[[], tuple[str, ...]] = lambda: ("small",)
    new_model_dir: Callable[[], Path] = lambda: new_model_dir()
    # The models view: every model found (ModelEntry list, the default first; also those paths), and one model
    # described, its weights loaded to know it can be used. Both read files and torch: call them in a thread.
    models: Callable[[list[Path | None]], list] = lambda also: list_models(also)
    describe_model: Callable[[Path | None], Any] = lambda path: describe_model(path)
    name: str = "core"
    # What the log and the features files hold (the sessions view, a dataset opened again): quick reads.
    features_state: Callable[[Path], Any] = lambda features: None  # -> emotui.data.features_file.FeaturesState | None
    sessions: Callable[[], list] = lambda: []  # -> [emotui.live.logstore.SessionInfo], oldest first
    # A watch's pinned neutral faces (emotui.live.neutral.NeutralPins), which the neutral key sets: given to watch.
    neutral_pins: Callable[[], Any] = lambda: neutral_pins()
    session_overview: Callable[[str], Any] = lambda session: None  # -> emotui.live.logstore.SessionOverview


def _core(module: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            raise JobUnavailable(f"{what} needs {module}, which this build of emotui does not have") from None
        raise


def discover(dataset: Path) -> DatasetInfo:
    frame = _core("emotui.data.datasets", "reading a dataset").discover(Path(dataset))
    counts = {label: int(n) for label, n in frame["label"].value_counts().items()}
    subjects = int(frame["subject"].nunique()) if "subject" in frame else 0
    return DatasetInfo(str(frame.attrs.get("layout", "recognised")), len(frame), counts, subjects)


def features_for(dataset: Path) -> Path | None:
    """The features extracted earlier for this dataset, if any."""
    try:
        path = Path(_core("emotui.data.extraction", "finding features").features_path_for(Path(dataset)))
    except JobUnavailable:
        return None
    return path if path.exists() else None


def features_state(features: Path) -> Any:
    return _core("emotui.data.features_file", "reading features").features_state(Path(features))


def sessions() -> list:
    """The sessions in the prediction log; none when there is no log yet."""
    logstore = _core("emotui.live.logstore", "listing sessions")
    if not Path(config.log_db_path()).is_file():
        return []
    # Read-only, like every reader beside a running session: it never takes the writer's lock.
    with logstore.LogStore(read_only=True) as store:
        return store.sessions()


def session_overview(session: str) -> Any:
    with _core("emotui.live.logstore", "reading a session").LogStore(read_only=True) as store:
        return store.overview(session)


def extract(dataset: Path, *, on_event, stop, landmarker: Path | None = None,  # noqa: ANN001
            engine: str = "local") -> Path:
    extraction = _core("emotui.data.extraction", "extraction")
    out = Path(extraction.features_path_for(Path(dataset)))
    # The dashboard has no --address: Ray's own variable names the cluster, else a local instance.
    address = (os.environ.get("RAY_ADDRESS") or None) if engine == "ray" else None
    extraction.run_extraction(Path(dataset), out, landmarker=landmarker, on_event=on_event, stop=stop,
                              engine=engine, address=address)
    return out


def new_model_dir() -> Path:
    """A folder no model is in yet: two runs in one second must not write into the same one (maybe the one in use)."""
    base = config.data_dir() / "models" / datetime.now(timezone.utc).strftime("tui-%Y%m%d-%H%M%S")
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def train(features: list[Path], out: Path, *, epochs: int, batch_size: int, lr: float, model_size: str,
          val_fraction: float, on_event, stop, on_warning=None) -> Path:  # noqa: ANN001
    training = _core("emotui.learn.training", "training")
    training.run_training(
        [Path(p) for p in features], Path(out), epochs=epochs, batch_size=batch_size, lr=lr,
        model_size=model_size, val_fraction=val_fraction, on_event=on_event, stop=stop, on_warning=on_warning,
    )
    return Path(out)


def watch(source: str, *, model_dir: Path | None, interval: float, on_event, stop,  # noqa: ANN001
          landmarker: Path | None = None, prior: str = "data", neutral: Any = None) -> Any:
    predictor = _core("emotui.learn.predictor", "watching").Predictor.load(model_dir, prior)
    monitor = _core("emotui.live.monitor", "watching")
    with _core("emotui.live.logstore", "watching").LogStore() as store:
        return monitor.run_monitor(source, predictor=predictor, interval=interval, max_faces=MONITOR_MAX_FACES,
                                   store=store, on_event=on_event, stop=stop, landmarker=landmarker,
                                   neutral=neutral)


def neutral_pins() -> Any:
    return _core("emotui.live.neutral", "setting the neutral face").NeutralPins()


def export(session: str, fmt: str, out: Path) -> Path:
    # The core refuses a missing folder (a mistyped --out); the dashboard makes its exports folder, and, as
    # before, the folder typed in its field (tests/tui/test_tui_sessions.py exports into a new one).
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    # Read-only: the export must never take the write lock the running session's writer needs.
    with _core("emotui.live.logstore", "exporting").LogStore(read_only=True) as store:
        store.export(fmt, Path(out), session=session)
    return Path(out)


def list_models(also: list[Path | None]) -> list:
    return _core("emotui.learn.model_catalog", "listing models").list_models(also)


def describe_model(path: Path | None) -> Any:
    """A model directory's entry (None: the shipped default)."""
    catalog = _core("emotui.learn.model_catalog", "reading a model")
    return catalog.describe_model(path or config.default_model_dir(), default=path is None)


def model_sizes() -> tuple[str, ...]:
    """Model sizes training accepts; importing the model module loads torch, so call this in a thread."""
    for module in ("emotui.learn.model", "emotui.learn.training"):
        try:
            found = importlib.import_module(module)
            sizes = getattr(found, "MODEL_SIZES", None) or getattr(found, "SIZES", None)
        except ImportError:
            continue
        if sizes:
            return tuple(sizes)
    return ("small",)


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker while sys.stderr is still the terminal.

    A running Textual app replaces sys.stderr with an object whose fileno() is -1; a process pool started from
    the app (the extraction's workers) would then fail to launch the tracker with "bad value(s) in fds_to_keep".
    """
    from multiprocessing import resource_tracker

    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return
    resource_tracker.ensure_running()


def real_jobs(landmarker: Path | None = None, prior: str = "data") -> Jobs:
    """The core's functions; `landmarker` (the dashboard's --landmarker) for extraction and the monitor, else
    where every emotui command looks ($EMOTUI_LANDMARKER, models/)."""
    _start_resource_tracker()
    return Jobs(discover=discover, features_for=features_for,
                extract=functools.partial(extract, landmarker=landmarker), train=train,
                watch=functools.partial(watch, landmarker=landmarker, prior=prior), export=export, model_sizes=model_sizes,
                new_model_dir=new_model_dir, name="core", features_state=features_state, sessions=sessions,
                session_overview=session_overview)


def export_path(session: str, fmt: str) -> Path:
    return config.data_dir() / "exports" / f"session-{session}.{fmt}"


__all__ = ["DatasetInfo", "Jobs", "JobUnavailable", "export_path", "new_model_dir", "real_jobs"]
