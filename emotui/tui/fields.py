"""Text fields and labels that keep the part that matters visible in a narrow screen."""

from __future__ import annotations

from textual import events
from textual.widgets import Input


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
