"""The loopback guard: load only targets 127.0.0.0/8, ::1 and localhost unless asked.

Every suite that sends requests to a URL it was given (load, memory, MCP)
checks it here first, before sending anything.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


class RemoteTargetRefused(Exception):
    """A target outside loopback without --allow-remote."""


def check_loopback(url: str, allow_remote: bool = False) -> None:
    """Raise RemoteTargetRefused unless `url` is on 127.0.0.0/8, ::1 or localhost.

    Host names other than localhost count as remote without resolving them:
    a load generator must not reach production by accident.
    """
    if allow_remote:
        return
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise RemoteTargetRefused(
        f"{url}: {host or '(no host)'} is not a loopback address (127.0.0.0/8, ::1); "
        f"a load generator must not hit a real service by accident. Pass --allow-remote "
        f"if you mean it.")
