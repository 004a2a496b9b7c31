"""`emotui watch`: the live monitor without the dashboard. Predictions on stdout, source state and summary on stderr."""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import threading
from typing import Any

import click

from ..live.camera import BACKENDS
from ..errors import UsageError
from ..inputs import FILE, MODEL_DIR, OUT_FILE, OUT_FOLDER, POSITIVE_SECONDS, SECONDS, SOURCE, TEXT, Count, Number
from . import prior_option


def load_predictor(model: str | None, prior: str = "data") -> Any:
    """The classifier for --model DIR (None: the default model) with its --prior."""
    from ..learn.predictor import Predictor

    return Predictor.load(model, prior)


def prediction_json(p) -> dict[str, Any]:  # noqa: ANN001
    from ..live.logstore import prediction_record

    return prediction_record(p)


OUTPUT_CLOSED = "output closed"  # the end reason when stdout's reader went away
# What each end reason (kept as such in the log and `emotui sessions`) means, for the line told at the end.
END_MESSAGES = {
    "source ended": "the source has no more frames",
    "frames": "--frames {frames} reached",
    "duration": "--duration {duration:g} s reached",
    "stopped": "stopped (Ctrl-C or a signal)",
    "source lost": "the source was lost and did not come back in time (--reconnect-timeout)",
    "interrupted": "interrupted",
    "output closed": "the reader of the output went away (`| head`): stopped cleanly",
}


def end_message(reason: str, frames: int | None = None, duration: float | None = None) -> str:
    return END_MESSAGES.get(reason, reason).format(frames=frames, duration=duration or 0)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def prediction_line(p) -> str:  # noqa: ANN001
    clock = p.time[11:23]
    if p.label is None:
        return f"{clock}  frame {p.frame:>6}  no face  {p.latency_ms['total']:.0f} ms"
    flag = "  (uncertain)" if p.uncertain else ""
    top = sorted(p.smoothed.items(), key=lambda kv: -kv[1])[1]
    return (f"{clock}  frame {p.frame:>6}  face {p.track:<3} {p.label:<9} {p.confidence:5.1%}  "
            f"(next: {top[0]} {top[1]:.1%}){flag}  {p.latency_ms['total']:.0f} ms")


@click.command("watch")
@click.option("--source", "source", type=SOURCE, required=True,
              help="Camera index (0), device (/dev/video0), video file, folder of images, or http/rtsp URL.")
@click.option("--interval", type=SECONDS, default=5.0, show_default=True,
              help="Seconds between analysed frames; 0 analyses every frame.")
@click.option("--duration", type=POSITIVE_SECONDS, help="Stop after this many seconds.")
@click.option("--frames", type=Count(1), help="Stop after this many analysed frames.")
@click.option("--model", type=MODEL_DIR, help="Classifier checkpoint directory (default: the shipped one).")
@click.option("--max-faces", type=Count(1, 16), default=1, show_default=True)
@click.option("--smooth", type=Number(0, 1, high_open=True), default=0.5, show_default=True,
              help="EMA weight of the past per face (0 disables smoothing).")
@click.option("--uncertain-below", type=Number(0, 1), default=0.4, show_default=True,
              help="Flag predictions whose confidence is below this.")
@click.option("--fast", is_flag=True, help="Read video files and folders as fast as possible, not at their real rate.")
@click.option("--save-frames", type=OUT_FOLDER, help="Save each analysed frame as JPEG here (off by default).")
@click.option("--camera-backend", type=click.Choice(BACKENDS), default="auto", show_default=True)
@click.option("--resolution", type=TEXT, help="Requested camera resolution, e.g. 1280x720.")
@click.option("--reconnect-timeout", type=SECONDS, default=30.0, show_default=True,
              help="Seconds to keep retrying a camera or stream that disappears.")
@click.option("--db", type=OUT_FILE, help="Prediction log database (default: $EMOTUI_DB or <data>/emotui.db).")
@click.option("--landmarker", type=FILE, help="face_landmarker.task to use.")
@click.option("--neutral", type=FILE, help="An image of the watched person's neutral (rest) face, alone: their reference "
                                           "from the first frame (with several faces, the largest face's).")
@prior_option
@click.option("--headless", is_flag=True,
              help="Print predictions instead of opening the dashboard on its monitor pane.")
@click.option("--json", "as_json", is_flag=True, help="With --headless: one JSON object per face per analysed frame.")
def watch(source: str, interval: float, duration: float | None, frames: int | None, model: str | None,
          max_faces: int, smooth: float, uncertain_below: float, fast: bool, save_frames: str | None,
          camera_backend: str, resolution: str | None, reconnect_timeout: float, db: str | None,
          landmarker: str | None, neutral: str | None, prior: str, headless: bool, as_json: bool) -> None:
    """Watch a camera, video, image folder or stream; log every prediction to the SQLite log.

    Opens the dashboard on its monitor pane, already watching; --headless prints the predictions instead."""
    from ..live.camera import open_source, parse_resolution
    from ..events import ItemFailed, Prediction, SourceState
    from ..live.logstore import LogStore
    from ..live.monitor import run_monitor

    if duration is not None and frames is not None:
        raise UsageError("give --duration or --frames, not both")
    if not headless:
        headless_only = dict(duration=duration is not None, frames=frames is not None, max_faces=max_faces != 1,
                             smooth=smooth != 0.5, uncertain_below=uncertain_below != 0.4, fast=fast,
                             save_frames=save_frames is not None, camera_backend=camera_backend != "auto",
                             resolution=resolution is not None, reconnect_timeout=reconnect_timeout != 30.0,
                             json=as_json, neutral=neutral is not None)
        given = [f"--{name.replace('_', '-')}" for name, set_ in headless_only.items() if set_]
        if given:
            raise UsageError(f"{', '.join(given)} only with --headless (the dashboard watches with its own settings)")
        _open_dashboard(source, interval, model, db, landmarker, prior)
        return
    os.environ.setdefault("GLOG_minloglevel", "2")  # keep MediaPipe's start-up chatter off the terminal
    stop = threading.Event()
    output = _Output(stop)
    told: set[int] = set()  # tracks whose neutral was announced

    def on_event(event: Any) -> None:
        if isinstance(event, Prediction):
            if event.neutral and event.track not in told:
                told.add(event.track)
                click.echo(f"emotui: neutral face ({neutral}) set for face {event.track} from frame {event.frame}",
                           err=True)
            output.line(json.dumps(prediction_json(event)) if as_json else prediction_line(event))
        elif isinstance(event, SourceState) and event.state == "ended":
            if output.closed:
                return  # said below, with the session's end
            click.echo(f"emotui: watching ended: {end_message(event.message, frames, duration)}", err=True)
        elif isinstance(event, SourceState):
            click.echo(f"emotui: source {event.state}: {event.message}", err=True)
        elif isinstance(event, ItemFailed):
            click.echo(f"emotui: skipped an unreadable frame: {event.error}", err=True)

    previous = _stop_on_signals(stop)
    try:
        # Cheap mistakes (a wrong source, a bad --db) are reported before the model and landmarker load.
        with open_source(source, backend=camera_backend, resolution=parse_resolution(resolution)) as src, \
                LogStore(db) as store:
            pins = _neutral_pins(neutral, landmarker, max_faces)
            predictor = load_predictor(model, prior)
            if pins is not None and not predictor.uses_reference:
                from ..live.neutral import reference_note

                click.echo(f"emotui: note: {reference_note(False, predictor.model_id)}", err=True)
            summary = run_monitor(
                src, predictor=predictor, interval=interval, max_faces=max_faces, smooth=smooth,
                duration=duration, frames=frames, fast=fast, store=store, on_event=on_event, stop=stop,
                uncertain_below=uncertain_below, save_frames=save_frames, landmarker=landmarker,
                backend=camera_backend, resolution=parse_resolution(resolution), reconnect_timeout=reconnect_timeout,
                neutral=pins,
            )
            if output.closed:
                # The loop saw a stop; the log should say why. Every frame analysed is already logged.
                summary.reason = OUTPUT_CLOSED
                store.end_session(summary.session, clean=True, reason=OUTPUT_CLOSED)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    gaps = f", {len(summary.gaps)} gaps" if summary.gaps else ""
    unreadable = f", {summary.unreadable} unreadable frames skipped" if summary.unreadable else ""
    click.echo(
        f"emotui: session {summary.session} ended ({summary.reason}): {_count(summary.frames_analysed, 'frame')} "
        f"analysed, {_count(summary.faces, 'face')}, {summary.no_face_frames} without a face{unreadable}{gaps}; "
        f"log {summary.db}",
        err=True,
    )
    output.flush()


def _neutral_pins(neutral: str | None, landmarker: str | None, max_faces: int) -> Any:
    """--neutral's face, read before the session starts: an image without exactly one face ends here, nothing
    logged."""
    if neutral is None:
        return None
    from ..live.neutral import NeutralPins, read_neutral

    pins = NeutralPins(read_neutral(neutral, landmarker))
    if max_faces > 1:
        click.echo(f"emotui: note: --neutral is the reference of the largest face in view (--max-faces {max_faces}); "
                   "the other faces keep their own running reference", err=True)
    return pins


class _Output:
    """Prediction lines on stdout. When the reader goes away (`| head -n 1`: EPIPE), that is a normal way to stop:
    the session ends cleanly at the next check, and stdout is pointed at /dev/null so that nothing (the flush at
    exit included) writes to the closed pipe again."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop, self.closed = stop, False

    def line(self, text: str) -> None:
        if self.closed:
            return
        try:
            click.echo(text)
            sys.stdout.flush()  # a line as it is made, and EPIPE here rather than at exit
        except BrokenPipeError:
            self._close()
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise
            self._close()

    def flush(self) -> None:
        if self.closed:
            return
        try:
            sys.stdout.flush()
        except (BrokenPipeError, OSError):
            self._close()

    def _close(self) -> None:
        self.closed = True
        self.stop.set()
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # no real descriptor (a test runner's stdout): nothing will flush to it
            pass


def _open_dashboard(source: str, interval: float, model: str | None, db: str | None, landmarker: str | None,
                    prior: str) -> None:
    """The dashboard on its monitor pane, watching `source`. A source that cannot be opened is a one-line error
    here, before the screen opens."""
    from pathlib import Path

    from ..live.camera import open_source

    with open_source(source):
        pass
    # The dashboard's jobs find the log where every emotui command looks.
    if db:
        os.environ["EMOTUI_DB"] = str(Path(db).expanduser().resolve())
    from ..tui.app import Settings, run_app  # Textual loads only when the dashboard opens

    run_app(Settings(source=source, interval=interval, model=Path(model) if model else None, watch=True,
                     landmarker=Path(landmarker).expanduser().resolve() if landmarker else None, prior=prior))


def _stop_on_signals(stop: threading.Event) -> dict:
    """Ctrl-C (and SIGTERM) end the session cleanly; a second Ctrl-C interrupts at once."""
    previous = {}
    if threading.current_thread() is not threading.main_thread():
        return previous

    def handler(signum, frame):  # noqa: ANN001
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    return previous
