"""Text fields and labels that keep the part that matters visible in a narrow screen, and the checks of what is
typed in them: the same functions (emotui.inputs) as the command line's options, so a value the CLI refuses is
refused here too, in the same words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import events
from textual.validation import ValidationResult, Validator
from textual.widgets import Input

from ..inputs import InputError, existing_path, output_file, parse_float, parse_int, source

# Each field of the dashboard -> (what it is called in messages, its check). The ranges are the CLI's
# (`emotui train --epochs`, `watch --interval`...); the TUI's upper bounds keep a typo from starting a week's run.
FIELD_CHECKS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "epochs": ("epochs", lambda v: parse_int(v, low=1, high=10_000)),
    "batch": ("batch size", lambda v: parse_int(v, low=8, high=65_536)),
    "lr": ("learning rate", lambda v: parse_float(v, low=0, high=1.0, low_open=True)),
    "val": ("validation split", lambda v: parse_float(v, low=0.01, high=0.5)),
    "interval": ("interval", lambda v: parse_float(v, low=0)),
    "source": ("source", source),
    "dataset": ("dataset", existing_path),
    "export-path": ("export file", output_file),
}


class FieldError(ValueError):
    """A field's value refused, in one line naming the field."""


def read_field(field_id: str, value: Any) -> Any:
    """The checked value of a field (by its id in FIELD_CHECKS), or FieldError naming the field."""
    what, check = FIELD_CHECKS[field_id]
    try:
        return check(value)
    except InputError as exc:
        text = str(exc)
        raise FieldError(f"{what} {text}" if text.startswith("must") else f"{what}: {text}") from None


class FieldCheck(Validator):
    """Textual's validator for a field of FIELD_CHECKS: Input(validators=[FieldCheck("lr")])."""

    def __init__(self, field_id: str) -> None:
        super().__init__()
        self.field_id = field_id

    def validate(self, value: str) -> ValidationResult:
        try:
            read_field(self.field_id, value)
        except FieldError as exc:
            return self.failure(str(exc))
        return self.success()


class PathInput(Input):
    """A field for a path or URL that, when not being edited, shows its end: the file name, not the start of a
    long path (`../shared/media/Wolfg`). Input only scrolls to the cursor once it has been edited."""

    def on_resize(self, event: events.Resize) -> None:
        if not self.has_focus:
            self.call_after_refresh(self.show_end)

    def on_blur(self, event: events.Blur) -> None:
        self.call_after_refresh(self.show_end)

    def show_end(self) -> None:
        if not self.has_focus:
            self.cursor_position = len(self.value)
            self.scroll_to(x=self.max_scroll_x, animate=False, force=True)


def shorten_middle(text: str, width: int) -> str:
    """`text` in `width` cells, its start and end kept: model ids differ at the end (a date, a version)."""
    if len(text) <= width:
        return text
    head = (width - 1) // 3
    return f"{text[:head]}…{text[len(text) - (width - 1 - head):]}"
