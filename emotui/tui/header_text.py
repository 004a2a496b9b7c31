"""The header's line: the monitor's model and each job's state, worded to fit the width there is (80 columns up)."""

from __future__ import annotations

# What the header keeps beside its title: the icon (•, 3 columns) and the clock's space, both narrowed in app.tcss.
HEADER_DECORATION = 5
TITLE_SEPARATOR = " — "  # Textual's, between the title and the sub-title


def room(width: int, title: str) -> int:
    return width - HEADER_DECORATION - len(title) - len(TITLE_SEPARATOR)


def header_text(model: str, jobs: list[tuple[str, str]], width: int) -> str:
    """The first wording that fits `width` columns: every job named; the idle ones left out (idle is what the
    header says by saying nothing); the jobs by their keys' letters. The model's name is never shortened here."""
    busy = [(name, state) for name, state in jobs if state != "idle"]
    forms = (
        f"model: {model}  " + "  ".join(f"{name}: {state}" for name, state in jobs),
        f"model: {model}" + "".join(f"  {name}: {state}" for name, state in busy),
        model + "".join(f"  {name[0]} {state}" for name, state in busy),
    )
    return next((form for form in forms if len(form) <= width), forms[-1])
