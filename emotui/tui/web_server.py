"""textual-serve's Server with what a local server needs: a URL token, Host and Origin checks, a cap on sessions,
URLs built from the request's Host, and app processes that end with their tab or with the server.

textual-serve checks nothing and waits forever for an app that does not quit; this subclass replaces its three
request handlers and its process start/stop, and keeps its routes, template, static files and download manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shlex
import signal
from typing import Callable

import aiohttp_jinja2
from aiohttp import WSCloseCode, web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from .web_access import TokenMask, allowed_host_names, host_allowed, origin_allowed, token_matches

log = logging.getLogger("textual-serve")

QUIT_GRACE = 2.0  # seconds an app gets to quit when asked, before SIGTERM to its process group
TERM_GRACE = 2.0  # then SIGKILL: an app spinning in its first render ignores SIGTERM


class GroupedAppService(AppService):
    """One tab's app, started in its own process group so that the group (the app and anything it started) can
    be signalled as a whole, and stopped with escalation instead of waiting for it forever."""

    _ending: asyncio.Task | None = None

    async def _open_app_process(self, width: int = 80, height: int = 24):  # noqa: ANN202
        self._process = process = await asyncio.create_subprocess_exec(
            *shlex.split(self.command),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=self._build_environment(width=width, height=height), start_new_session=True)
        self._stdin = process.stdin
        return process

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def stop(self) -> None:
        """Idempotent and shared: the websocket handler and the server shutdown may both ask."""
        if self._process is None:
            return
        if self._ending is None:
            self._ending = asyncio.ensure_future(self._end())
        await asyncio.shield(self._ending)

    async def _end(self) -> None:
        process = self._process
        assert process is not None
        with contextlib.suppress(Exception):
            await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.send_meta({"type": "quit"}), QUIT_GRACE)
        for sig, grace in ((signal.SIGTERM, QUIT_GRACE), (signal.SIGKILL, TERM_GRACE)):
            if await _exited(process, grace):
                break
            log.warning("app process %s did not quit; sending %s", process.pid, sig.name)
            _signal_group(process.pid, sig)
        await process.wait()
        _signal_group(process.pid, signal.SIGKILL)  # whatever the app left behind in its group
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, TERM_GRACE)
            self._task = None

    def kill_now(self) -> None:
        """Last resort when the event loop is gone."""
        if self._process is not None and self._process.returncode is None:
            _signal_group(self._process.pid, signal.SIGKILL)


async def _exited(process: asyncio.subprocess.Process, seconds: float) -> bool:
    try:
        await asyncio.wait_for(asyncio.shield(process.wait()), seconds)
        return True
    except asyncio.TimeoutError:
        return False


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class DashboardServer(Server):
    def __init__(self, command: str, *, host: str, port: int, max_sessions: int = 4, token: str | None = None,
                 title: str = "emotui", announce: Callable[[], None] | None = None) -> None:
        super().__init__(command, host=host, port=port, title=title)
        self.token = token or secrets.token_hex(24)
        self.max_sessions = max_sessions
        self.allowed_names = allowed_host_names(host)
        self.cookie_name = f"emotui-serve-{port}"  # cookies ignore the port: one name per server
        self.sessions: dict[GroupedAppService, web.WebSocketResponse] = {}
        self._announce = announce
        self._interrupted = False

    # ---- checks shared by the page, the websocket and downloads

    def _refuse_foreign(self, request: web.Request) -> None:
        host = request.headers.get("Host")
        if not host_allowed(host, self.allowed_names):
            raise web.HTTPForbidden(text=f"emotui serve: Host {host!r} is not this server; open the URL it printed.")
        if not origin_allowed(request.headers.get("Origin"), host):
            raise web.HTTPForbidden(text="emotui serve: requests from other web pages are refused.")
        given = request.query.get("token") or request.cookies.get(self.cookie_name)
        if not token_matches(given, self.token):
            raise web.HTTPForbidden(text="emotui serve: this needs the token; open the URL with ?token=... "
                                         "that `emotui serve` printed.")

    def _refuse_over_cap(self) -> None:
        if len(self.sessions) >= self.max_sessions:
            raise web.HTTPServiceUnavailable(
                text=f"emotui serve: {len(self.sessions)} dashboard sessions are open, the limit "
                     f"(--max-sessions {self.max_sessions}); close a tab and reload.")

    # ---- handlers

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        self._refuse_foreign(request)
        self._refuse_over_cap()
        # The browser fetches assets and opens the websocket at the address it used, not the bound one
        # (0.0.0.0 is no address a browser can reach); the Host header has passed the check above.
        host = request.headers["Host"]
        secure = request.scheme == "https"
        base = f"{'https' if secure else 'http'}://{host}"
        context = {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"{'wss' if secure else 'ws'}://{host}{request.app.router['websocket'].url_for()}",
            "config": {"static": {"url": f"{base}/static/"}},
            "application": {"name": self.title},
        }
        response = aiohttp_jinja2.render_template("app_index.html", request, context)
        # The websocket URL the page's script builds takes no query of ours: the token reaches it as a cookie.
        response.set_cookie(self.cookie_name, self.token, httponly=True, samesite="Strict", path="/")
        response.headers["Cache-Control"] = "no-store"
        return response

    async def handle_download(self, request: web.Request) -> web.StreamResponse:
        self._refuse_foreign(request)
        return await super().handle_download(request)

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        self._refuse_foreign(request)
        self._refuse_over_cap()
        websocket = web.WebSocketResponse(heartbeat=15)
        service = GroupedAppService(self.command, write_bytes=websocket.send_bytes, write_str=websocket.send_str,
                                    close=websocket.close, download_manager=self.download_manager,
                                    debug=self.debug)
        self.sessions[service] = websocket  # counted from here, before any await, so the cap cannot be raced
        try:
            await websocket.prepare(request)
            await service.start(to_int(request.query.get("width", "80"), 80),
                                to_int(request.query.get("height", "24"), 24))
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            pass
        except Exception as error:  # one bad session must not take the server down
            log.exception(error)
        finally:
            await asyncio.shield(service.stop())
            self.sessions.pop(service, None)
            with contextlib.suppress(Exception):
                await websocket.close()
        return websocket

    async def on_startup(self, app: web.Application) -> None:
        """textual-serve prints its logo and the bound address here; the command prints the token URL once
        the port is bound instead."""

    async def on_shutdown(self, app: web.Application) -> None:
        services = list(self.sessions)
        for websocket in list(self.sessions.values()):
            with contextlib.suppress(Exception):
                await websocket.close(code=WSCloseCode.GOING_AWAY, message=b"emotui serve stopped")
        await asyncio.gather(*(service.stop() for service in services), return_exceptions=True)

    def initialize_logging(self) -> None:
        """textual-serve's logging, with the token masked in every line (the access log's request lines and
        Referers carry it) and tracebacks without their local variables (a request handler's hold the token)."""
        from rich.logging import RichHandler
        from textual_serve.server import LogHighlighter

        handler = RichHandler(show_path=False, show_time=False, rich_tracebacks=True, tracebacks_show_locals=False,
                              highlighter=LogHighlighter(), console=self.console)
        mask = TokenMask(self.token)
        handler.addFilter(mask)
        # basicConfig would keep a handler already there (an embedding program's): masked too, not replaced
        root = logging.getLogger()
        for existing in root.handlers:
            existing.addFilter(mask)
        logging.basicConfig(level="DEBUG" if self.debug else "INFO", format="%(message)s", handlers=[handler])
        for name in ("aiohttp.access", "aiohttp.server", "aiohttp.web", "textual-serve"):
            logging.getLogger(name).addFilter(mask)  # a handler added to one of them later still gets masked text

    def serve(self, debug: bool = False) -> None:
        """textual-serve's serve, with the announcement printed after the port is bound and every app process
        killed if anything is left when the loop ends."""
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.add_signal_handler(signal.SIGINT, self._on_interrupt)
        loop.add_signal_handler(signal.SIGTERM, self.request_exit)
        try:
            web.run_app(self._make_app(), host=self.host, port=self.port, handle_signals=False, loop=loop,
                        shutdown_timeout=QUIT_GRACE + TERM_GRACE + 1,
                        print=(lambda *_: self._announce()) if self._announce else None)
        finally:
            for service in list(self.sessions):
                service.kill_now()
        if self._interrupted:
            raise KeyboardInterrupt  # the CLI's Ctrl-C: "interrupted", exit 130

    def _on_interrupt(self) -> None:
        self._interrupted = True
        self.request_exit()

