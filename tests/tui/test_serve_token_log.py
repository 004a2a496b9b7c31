"""`emotui serve` hands its token out once, in the line that prints the URL: its access log, a Referer carrying
the token, a wrong token tried, never show it (issue 30: anyone reading the log or the scrollback could drive the
dashboard). A real server on loopback, its stdout and stderr captured whole."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import time

from emotui.tui.web_access import TokenMask, mask_token

from ..serve_helpers import fetch, free_port, stop, wait_listening


def _wait_for(path, pattern: str, server: subprocess.Popen, timeout: float = 30) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        if found := re.search(pattern, path.read_text()):
            return found
        time.sleep(0.1)
    raise AssertionError(f"{pattern!r} never printed: {path.read_text()!r}")


def test_the_token_is_printed_once_and_never_logged(tmp_path):
    port = free_port()
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("w") as stdout, err.open("w") as stderr:
        server = subprocess.Popen([sys.executable, "-m", "emotui", "serve", "--port", str(port)],
                                  stdout=stdout, stderr=stderr, text=True)
    try:
        wait_listening(server, port)
        url = _wait_for(err, r"http://\S+\?token=(\w+)", server)
        token = url.group(1)
        base = f"http://127.0.0.1:{port}"
        assert fetch(url.group(0))[0] == 200
        assert fetch(f"{base}/?token={token[:-1]}0")[0] == 403  # a near miss is most of the secret
        fetch(f"{base}/static/css/xterm.css", {"Referer": url.group(0)})  # the page's assets name it as Referer
        _wait_for(out, r"GET /static", server)  # the access log has caught up
    finally:
        stop(server)
    printed = out.read_text() + err.read_text()
    assert printed.count(token) == 1, printed
    announce = next(line for line in printed.splitlines() if token in line)
    assert announce.strip() == url.group(0)
    assert re.search(r'"GET /\?token=\*\*\* HTTP', printed), printed  # logged, and masked
    assert printed.count("token=***") >= 3, printed  # the page, the near miss, the asset's Referer


def test_the_mask_covers_every_form_of_the_token():
    token = "ab12" * 12
    line = f'127.0.0.1 "GET /ws?width=80&token={token}&height=24 HTTP/1.1" 101 "http://h:1/?token={token}" {token}'
    masked = mask_token(line, token)
    assert token not in masked and "width=80" in masked and "height=24" in masked
    assert masked.count("token=***") == 2
    record = logging.LogRecord("aiohttp.access", logging.INFO, __file__, 1, "%s %s", ("GET", f"/?token={token}"),
                               None)
    assert TokenMask(token).filter(record) and record.getMessage() == "GET /?token=***"
