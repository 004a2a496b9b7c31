"""The app's choice of the monitor's model: the models view (m), and the question a finished training asks."""

from __future__ import annotations

from pathlib import Path

from textual import work

from .job_pane import describe_error
from .messages import ModelReady
from .models_view import ModelsScreen, NewModelScreen
from .monitor_pane import MonitorPane


class ChoosesModels:
    """Mixin for EmotuiApp (its jobs, settings, notify, post_call and _show_state)."""

    def action_models(self) -> None:
        if isinstance(self.screen, ModelsScreen):
            self.screen.dismiss()
        else:
            self.push_screen(ModelsScreen(self.jobs, self.query_one(MonitorPane).model, self.use_model,
                                          also=[self.settings.model]))

    def use_model(self, entry) -> None:  # a model_catalog.ModelEntry
        self.query_one(MonitorPane).use_model(None if entry.default else entry.path)
        self._show_state()
        self.notify(f"{entry.name}: {entry.figures()}", title="the monitor's model", timeout=8)

    def on_model_ready(self, message: ModelReady) -> None:
        self._offer_model(message.path, self.query_one(MonitorPane).model)

    @work(thread=True, exit_on_error=False, group="models")
    def _offer_model(self, new: Path, current: Path | None) -> None:
        """The new model beside the one in use, for the user to choose: never switched to without asking."""
        try:
            entries = self.jobs.describe_model(new), self.jobs.describe_model(current)
        except Exception as exc:  # noqa: BLE001 - the run's model stays on disk; m lists it
            self.notify(describe_error(exc), title="cannot read the new model", severity="error", timeout=10)
            return
        self.post_call(self._ask_model, *entries)

    def _ask_model(self, new, current) -> None:  # model_catalog.ModelEntry
        def answer(use: bool | None) -> None:
            if use:
                self.use_model(new)
            else:
                self.notify(f"the monitor keeps {current.name}; {new.name} is kept on disk (m lists the models)",
                            title="new model not used", timeout=8)

        self.push_screen(NewModelScreen(new, current), answer)
