"""`emotui serve` against other web pages: the token, Host and Origin checks, the session cap, URLs from the Host
header, and app processes that end with their tab and with the server. A real server on loopback, a real aiohttp
client and raw sockets; the app is a stand-in that ignores everything but SIGKILL (the real dashboard is in
test_tui_cli.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket

import aiohttp
import pytest

from emotui.tui.web_access import allowed_host_names, host_allowed, origin_allowed, split_host, token_matches

from ..serve_helpers import (children, drop, fetch, free_port, gone_within, raw_websocket, start_server_class,
                            stop, wait_children)

TOKEN = "0123456789abcdef" * 3


def test_host_and_origin_rules():
    names = allowed_host_names("127.0.0.1")
    assert host_allowed("127.0.0.1:8000", names) and host_allowed("localhost:8000", names)
    assert host_allowed("[::1]:8000", names) and host_allowed("192.168.1.7:8000", names)  # IP literals
    for bad in ("evil.example:8000", "evil.example", "", None, "a@127.0.0.1", "127.0.0.1:99999", "x/y"):
        assert not host_allowed(bad, names), bad
    assert host_allowed(f"{socket.gethostname()}:8000", allowed_host_names("0.0.0.0"))
    assert split_host("LocalHost.:80") == ("localhost", 80)

    assert origin_allowed(None, "127.0.0.1:8000")  # not a browser: the token guards it
    assert origin_allowed("http://127.0.0.1:8000", "127.0.0.1:8000")
    assert origin_allowed("http://localhost", "localhost:80")
    for bad in ("http://evil.example", "http://127.0.0.1:9000", "null", "file://", "http://localhost:x"):
        assert not origin_allowed(bad, "127.0.0.1:8000"), bad

    assert token_matches(TOKEN, TOKEN)
    assert not any(token_matches(given, TOKEN) for given in (None, "", TOKEN[:-1], TOKEN + "0", "é" * 48))


@pytest.fixture
def stuck_server():
    port = free_port()
    server = start_server_class(port, TOKEN, max_sessions=2)
    yield server, port
    if server.poll() is None:
        stop(server)
    for process in children(server.pid):
        process.kill()


def test_page_needs_the_token_and_a_host_of_ours(stuck_server):
    _, port = stuck_server
    base = f"http://127.0.0.1:{port}/"
    status, body, _ = fetch(base)
    assert status == 403 and "token" in body
    assert fetch(f"{base}?token={TOKEN[:-1]}x")[0] == 403
    assert fetch(f"{base}?token={TOKEN}", {"Host": f"evil.example:{port}"})[0] == 403  # DNS rebinding
    assert fetch(f"{base}?token={TOKEN}", {"Origin": "http://evil.example"})[0] == 403

    status, body, headers = fetch(f"{base}?token={TOKEN}")
    assert status == 200 and f'data-session-websocket-url="ws://127.0.0.1:{port}/ws"' in body
    assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
    # The page names the address the browser used, not the bound one.
    status, body, _ = fetch(f"{base}?token={TOKEN}", {"Host": f"localhost:{port}"})
    assert status == 200 and f"ws://localhost:{port}/ws" in body and f"http://localhost:{port}/static/" in body
    assert "127.0.0.1" not in body
    cookie = {"Cookie": f"emotui-serve-{port}={TOKEN}"}
    assert fetch(base, cookie)[0] == 200  # after the first load, the cookie stands in for the token
    assert fetch(f"http://127.0.0.1:{port}/download/nope", cookie)[0] == 404
    assert fetch(f"http://127.0.0.1:{port}/download/nope")[0] == 403


def test_websocket_refuses_other_pages_and_tokenless_clients_and_caps_sessions(stuck_server):
    server, port = stuck_server
    url = f"http://127.0.0.1:{port}/ws"

    async def scenario():
        async with aiohttp.ClientSession() as client:
            for params, headers in (({"token": TOKEN}, {"Origin": "http://evil.example"}),
                                    ({}, {"Origin": f"http://127.0.0.1:{port}"}),
                                    ({"token": "wrong"}, {}),
                                    ({"token": TOKEN}, {"Host": "evil.example"})):
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await client.ws_connect(url, params=params, headers=headers)
                assert refused.value.status == 403, (params, headers)
            assert children(server.pid) == []  # nothing was started for them

            good = {"Origin": f"http://127.0.0.1:{port}"}
            first = await client.ws_connect(url, params={"token": TOKEN}, headers=good)
            second = await client.ws_connect(url, headers={**good, "Cookie": f"emotui-serve-{port}={TOKEN}"})
            await first.send_json(["ping", "hello"])
            assert await first.receive_json(timeout=10) == ["pong", "hello"]
            with pytest.raises(aiohttp.WSServerHandshakeError) as over:
                await client.ws_connect(url, params={"token": TOKEN}, headers=good)
            assert over.value.status == 503
            page = await client.get(f"http://127.0.0.1:{port}/", params={"token": TOKEN})
            assert page.status == 503 and "--max-sessions 2" in await page.text()
            assert len(wait_children(server.pid, 2)) == 2
            await first.close()
            await second.close()

    asyncio.run(scenario())
    assert gone_within(children(server.pid), 10) == []


def test_an_app_that_ignores_sigterm_ends_with_its_dropped_tab_and_with_the_server(stuck_server):
    server, port = stuck_server
    sock, status, _ = raw_websocket(port, f"token={TOKEN}&width=80&height=24")
    assert status == 101
    (app,) = wait_children(server.pid, 1)
    assert os.getpgid(app.pid) == app.pid != os.getpgid(server.pid)  # its own group, out of reach of Ctrl-C
    drop(sock)
    assert gone_within([app], 10) == [], "the app outlived its dropped websocket"

    sock, status, _ = raw_websocket(port, f"token={TOKEN}")
    assert status == 101
    apps = wait_children(server.pid, 1)
    assert stop(server, signal.SIGINT) == -signal.SIGINT  # an interrupt stays one (the CLI makes it exit 130)
    assert gone_within(apps, 5) == [], "the app outlived the server"
    sock.close()
