"""A real `emotui serve` (or its server class) in a subprocess on loopback, and a raw websocket to drop abruptly."""

from __future__ import annotations

import base64
import contextlib
import os
import re
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

STUCK_APP = Path(__file__).with_name("stuck_web_app.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(server: subprocess.Popen, port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise AssertionError(f"nothing listening on {port}; server exit code {server.poll()}")


def start_server_class(port: int, token: str, max_sessions: int = 4, grace: float = 0.7) -> subprocess.Popen:
    """DashboardServer serving the stuck stand-in app, with shorter quit and SIGTERM graces than the CLI's."""
    command = f"{sys.executable} {STUCK_APP}"
    code = (f"import emotui.tui.web_server as web; web.QUIT_GRACE = web.TERM_GRACE = {grace}; "
            "from emotui.tui.web_server import DashboardServer; "
            f"DashboardServer({command!r}, host='127.0.0.1', port={port}, max_sessions={max_sessions}, "
            f"token={token!r}).serve()")
    server = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(server, port)
    return server


def start_cli(*args: str, port: int) -> tuple[subprocess.Popen, str, list[str]]:
    """`emotui ... serve --port PORT ...`; returns the process, the token URL it printed on stderr and the
    lines it printed before."""
    server = subprocess.Popen([sys.executable, "-m", "emotui", *args, "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = server.stderr.readline()
        if not line:
            break
        lines.append(line)
        if found := re.search(r"http://\S+\?token=\w+", line):
            return server, found.group(0), lines[:-2]
    stop(server)
    raise AssertionError(f"no token URL printed: {''.join(lines)!r}")


def stop(server: subprocess.Popen, sig: int = 15, timeout: float = 15) -> int:
    with contextlib.suppress(ProcessLookupError):
        server.send_signal(sig)
    try:
        return server.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)
        raise


def fetch(url: str, headers: dict | None = None) -> tuple[int, str, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def raw_websocket(port: int, query: str, headers: dict | None = None) -> tuple[socket.socket, int, str]:
    """A websocket handshake by hand, so that the test can later drop the TCP connection without a close frame
    (a browser tab killed, a laptop lid shut). Returns the socket, the HTTP status and the response head."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    lines = [f"GET /ws?{query} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}", "Sec-WebSocket-Version: 13"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    text = head.decode("latin-1")
    return sock, int(text.split()[1]), text


def drop(sock: socket.socket) -> None:
    """Close with a TCP reset: no websocket close frame, no FIN handshake."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def children(pid: int) -> list[psutil.Process]:
    with contextlib.suppress(psutil.NoSuchProcess):
        return psutil.Process(pid).children(recursive=True)
    return []


def wait_children(pid: int, count: int, timeout: float = 30) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(found := children(pid)) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"expected {count} app processes under {pid}, found {children(pid)}")


def gone_within(processes: list[psutil.Process], seconds: float) -> list[psutil.Process]:
    """The processes still alive after `seconds` (an empty list is the good answer); a zombie counts as gone."""
    deadline = time.monotonic() + seconds
    while True:
        alive = [process for process in processes if _alive(process)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
