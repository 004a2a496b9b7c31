"""The app's exports of a logged session (x, the command palette, the sessions view), each in a thread."""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.events import DeliveryFailed

from .job_pane import describe_error
from .jobs import export_path
from .monitor_pane import MonitorPane


class ExportsSessions:
    """Mixin for EmotuiApp (its jobs, notify and post_call)."""

    last_export: Path | None = None

    def action_export(self, fmt: str = "csv") -> None:
        session = self.query_one(MonitorPane).session
        if not session:
            self.notify("nothing to export yet: press w to watch first", severity="warning")
            return
        self.export_session(session, fmt)

    def export_session(self, session: str, fmt: str, out: Path | None = None) -> None:
        """Any session of the log as `fmt` to `out` (default: the exports folder), in a thread."""
        self._export(session, fmt, out or export_path(session, fmt))

    @work(thread=True, exclusive=True, exit_on_error=False, group="export")
    def _export(self, session: str, fmt: str, out: Path) -> None:
        try:
            path = self.jobs.export(session, fmt, out)
        except Exception as exc:  # noqa: BLE001 - an export failure is reported, the app goes on
            self.notify(describe_error(exc), title="export failed", severity="error", timeout=10)
            return
        self.post_call(self._exported, Path(path))

    def _exported(self, path: Path) -> None:
        self.last_export = path
        if self.is_web:
            # A browser under textual-serve downloads it; the server's path would mean nothing to its user.
            self.deliver_binary(path)
            self.notify(f"{path.name}: your browser is downloading it", title="session exported", timeout=10)
            return
        self.notify(str(path), title="session exported", timeout=10)

    def on_delivery_failed(self, event: DeliveryFailed) -> None:
        self.notify(describe_error(event.exception), title="download failed", severity="error", timeout=10)
