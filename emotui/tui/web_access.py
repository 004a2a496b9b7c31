"""Who may use `emotui serve`: the URL token, the Host header (DNS rebinding) and the Origin header (other pages).

A local web server is reachable from every page the user's browser opens; these checks are what Jupyter does for
the same problem. Plain functions over header strings, so they are tested without a server.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import socket
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})


def token_matches(given: str | None, token: str) -> bool:
    """Constant-time comparison; any missing or non-ASCII value simply does not match."""
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8"))


class TokenMask(logging.Filter):
    """Masks the token in every log line ("GET /?token=..." in the access log, a Referer carrying it): whoever
    reads the log or the terminal's scrollback could otherwise drive the dashboard. Only the announcement, which
    is printed, not logged, hands it out."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_token(message, self.token)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


def mask_token(text: str, token: str) -> str:
    """`token=...` query values (right or wrong: a near miss is still most of a secret) and the token itself."""
    text = re.sub(r"(token=)[^&\s\"']*", r"\1***", text)
    return text.replace(token, "***") if token else text


def split_host(host_header: str) -> tuple[str, int | None] | None:
    """`name[:port]` or `[v6]:port` as (lower-case name, port); None when it is not a host at all."""
    try:
        parts = urlsplit(f"//{host_header.strip()}")
        name, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not name or parts.username is not None or parts.path or parts.query:
        return None
    return name.rstrip("."), port


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_host_names(bound_host: str) -> frozenset[str]:
    """The names a request's Host header may carry besides IP literals: loopback, the bound name, and the
    machine's own names when the server listens on every interface."""
    names = set(LOOPBACK_NAMES) | {bound_host.lower().rstrip(".")}
    if bound_host in WILDCARD_HOSTS or not is_loopback(bound_host):
        for name in (socket.gethostname(), socket.getfqdn()):
            if name:
                names.add(name.lower().rstrip("."))
    return frozenset(names - {""})


def host_allowed(host_header: str | None, names: frozenset[str]) -> bool:
    """DNS rebinding needs a domain name the attacker controls pointing at us; an IP literal cannot be one, so
    IP literals pass and names must be ours."""
    if not host_header:
        return False
    split = split_host(host_header)
    if split is None:
        return False
    name = split[0]
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    return name in names or name.endswith(".localhost")


def origin_allowed(origin: str | None, host_header: str | None) -> bool:
    """A browser names the page that opened a request in Origin; it must be a page of this server (the same
    host and port as the request's Host). No Origin (a non-browser client) passes: the token still guards it."""
    if origin is None:
        return True
    if not host_header:
        return False
    try:
        parts = urlsplit(origin)
        origin_port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = split_host(host_header)
    if host is None:
        return False
    default = 443 if parts.scheme == "https" else 80
    return (parts.hostname.rstrip("."), origin_port or default) == (host[0], host[1] or default)


def public_urls(bound_host: str, port: int, token: str) -> list[str]:
    """The URLs to print: the machine's name and loopback when listening everywhere, else the bound address."""
    if bound_host in WILDCARD_HOSTS:
        hosts = [socket.gethostname() or "localhost", "127.0.0.1"]
    else:
        hosts = [bound_host]
    return [f"http://{_bracket(host)}:{port}/?token={token}" for host in hosts]


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host
