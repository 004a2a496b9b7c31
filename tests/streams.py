"""A live MJPEG camera over loopback HTTP (multipart/x-mixed-replace, as IP cameras serve): a stream with no
known length, unlike a video file served over HTTP."""

from __future__ import annotations

import contextlib
import http.server
import time
from pathlib import Path

from .conftest import serve_handler


def jpeg_frames(video: Path, count: int) -> list[bytes]:
    import cv2

    cap = cv2.VideoCapture(str(video))
    frames = []
    while len(frames) < count:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.imencode(".jpg", bgr)[1].tobytes())
    cap.release()
    return frames


@contextlib.contextmanager
def serve_mjpeg(frames: list[bytes], *, good_opens: int | None = None, refuse_after: int | None = None,
                pause: float = 0.01):
    """Each connection gets every frame, then the connection closes (the camera "drops").

    After `good_opens` connections, a connection gets a broken part instead (it opens, but no frame decodes);
    after `refuse_after` connections, it is refused with 503. Yields (url, state) with state["opens"].
    """
    state = {"opens": 0}
    part = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"

    class Camera(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):  # noqa: ANN002
            pass

        def do_GET(self):  # noqa: N802
            state["opens"] += 1
            if refuse_after is not None and state["opens"] > refuse_after:
                self.send_error(503)
                return
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace;boundary=frame")
            self.end_headers()
            broken = good_opens is not None and state["opens"] > good_opens
            try:
                for jpeg in frames[:1] if broken else frames:
                    body = bytes(len(jpeg)) if broken else jpeg
                    self.wfile.write(part % len(body) + body + b"\r\n")
                    time.sleep(pause)
            except (BrokenPipeError, ConnectionResetError):
                pass

    with serve_handler(Camera) as (url, _):
        yield f"{url}/camera.mjpg", state
