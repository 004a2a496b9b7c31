"""Property tests (Hypothesis) of the option parsers (emotui.inputs) and of the commands' options: any text in,
a value within the bounds or one line naming the option out, never a traceback, never a hang; and random
manifests through the manifest reader: rows or a one-line DatasetError.

Bounded for CI (50 examples a property); EMOTUI_HYPOTHESIS_EXAMPLES=2000 searches longer."""

from __future__ import annotations

import math
import os

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from emotui.cli import cli
from emotui.inputs import InputError, output_file, parse_float, parse_int, source

EXAMPLES = int(os.environ.get("EMOTUI_HYPOTHESIS_EXAMPLES", "50"))
SEARCH = settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
# Text a user could type: numbers of every form, their neighbours, and anything else.
TYPED = st.one_of(
    st.text(max_size=12),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-10**30, max_value=10**30).map(str),
    st.sampled_from(["", " ", "nan", "NaN", "-inf", "inf", "1e309", "0", "-0", "0.0", "1_000", "0x10", "١٢"]),
)


@SEARCH
@given(TYPED, st.one_of(st.none(), st.floats(-10, 10)), st.one_of(st.none(), st.floats(-10, 10)), st.booleans())
def test_parse_float_returns_a_finite_value_in_its_bounds_or_one_line(text, low, high, low_open):
    try:
        value = parse_float(text, low=low, high=high, low_open=low_open)
    except InputError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("must")
        return
    assert math.isfinite(value)
    assert low is None or value > low or (value == low and not low_open)
    assert high is None or value <= high


@SEARCH
@given(TYPED, st.one_of(st.none(), st.integers(-5, 5)), st.one_of(st.none(), st.integers(-5, 50)))
def test_parse_int_returns_a_whole_number_in_its_bounds_or_one_line(text, low, high):
    try:
        value = parse_int(text, low=low, high=high)
    except InputError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("must")
        return
    assert isinstance(value, int) and (low is None or value >= low) and (high is None or value <= high)


@SEARCH
@example("~\x00")  # a NUL in a user's name: ValueError from expanduser
@given(st.text(max_size=40))
def test_paths_and_sources_are_checked_in_one_line_never_raising_anything_else(text):
    for check in (source, output_file):
        try:
            check(text)
        except InputError as exc:
            assert "\n" not in str(exc)


# Options whose value is parsed before anything heavy loads: the command then fails on its missing input
# (exit 1 or 2) or on the option (exit 2), in one line either way.
OPTIONS = [
    (["watch", "--source", "/nonexistent/v.mp4", "--headless"], "--interval"),
    (["watch", "--source", "/nonexistent/v.mp4", "--headless"], "--smooth"),
    (["watch", "--source", "/nonexistent/v.mp4", "--headless"], "--frames"),
    (["watch", "--source", "/nonexistent/v.mp4", "--headless"], "--reconnect-timeout"),
    (["train", "/nonexistent/f.parquet", "--out", "/nonexistent/m"], "--lr"),
    (["train", "/nonexistent/f.parquet", "--out", "/nonexistent/m"], "--epochs"),
    (["extract", "/nonexistent/ds"], "--workers"),
    (["predict", "/nonexistent/x.jpg"], "--max-faces"),
]


@pytest.mark.parametrize(("words", "option"), OPTIONS, ids=[f"{w[0]}{o}" for w, o in OPTIONS])
def test_any_option_value_gives_one_line_never_a_traceback(words, option):
    @SEARCH
    @given(TYPED)
    def check(value: str) -> None:
        if value.startswith("-") and not value.lstrip("-").replace(".", "").replace("e", "").isdigit():
            value = " " + value  # click would read "-x" as an option: a different mistake
        result = CliRunner().invoke(cli, [*words, option, value])
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert result.exit_code in (1, 2), result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("emotui: error: "), result.stderr

    check()


CELLS = st.one_of(st.text(max_size=10), st.sampled_from(["a.jpg", "../a.jpg", "/dev/null", "happy", "sad", "", "x"]))


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.tuples(CELLS, CELLS), max_size=8), st.binary(max_size=64), st.booleans())
def test_the_manifest_reader_gives_rows_or_one_line(tmp_path, rows, noise, drop):
    from emotui.data.datasets import discover
    from emotui.errors import DatasetError

    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8 not really")
    manifest = tmp_path / "m.csv"
    body = "path,label\n" + "".join(f'"{p.replace(chr(34), "")}","{lab.replace(chr(34), "")}"\n' for p, lab in rows)
    manifest.write_bytes(body.encode("utf-8", "replace") + noise)
    try:
        frame = discover(manifest, drop_conflicts=drop)
    except DatasetError as exc:
        assert "\n" not in str(exc)
        return
    assert frame["path"].is_unique and set(frame.attrs["manifest"]) >= {"rows", "merged", "refused", "left_out"}
    assert all(os.path.isabs(p) for p in frame["path"])
