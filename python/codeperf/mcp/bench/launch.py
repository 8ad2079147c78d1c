"""Starting, connecting to and stopping the servers under test.

A `ServerSpec` names a server: a stdio command, a URL, or a bundled server on
either transport. `ServerHandle` owns whatever process the benchmark started for
it (a bundled HTTP server) and opens SDK sessions (`mcp.client.Client`); over
stdio each session is its own server process, started and stopped by the SDK's
stdio transport. The benchmark needs each server's pid (to sample its CPU and
memory), which the SDK does not expose, so the spawn is bracketed by a snapshot
of this process's children under a lock. Every pid seen is remembered and
`reap_leftovers()` kills any that outlived their session: no orphans, even when
a server ignores stdin closing or a run is interrupted.

Each server runs in its own session, so its process group is its pid (the SDK's
stdio transport uses start_new_session; so does `_start_http`). A server that
forks leaves children behind once it exits, reparented away from it where no
tree walk finds them; they stay in its group, so `reap_leftovers()` also kills
every group it saw and reports the members it found still running.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import socket
import sys
import time
import weakref
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Literal
from urllib.parse import urlsplit

import anyio
import psutil
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from codeperf.harness.parent_death import die_with_parent
from codeperf.mcp import BUNDLED_SERVERS
from codeperf.mcp.serve import HTTP_PATH

STDERR_TAIL_BYTES = 2000
HTTP_READY_TIMEOUT_S = 20.0
# Environment a bundled server needs from ours: the SDK's stdio transport passes
# only HOME, PATH and a few more, and the package may not be installed yet.
PASS_ENV = ("PYTHONPATH", "VIRTUAL_ENV", "CODEPERF_BACKEND", "CODEPERF_EXPERTS_FILE")


@dataclass
class ServerSpec:
    """One server under test. `command` may contain `{port}` (bundled HTTP servers)."""

    label: str
    transport: Literal["stdio", "http"]
    command: list[str] | None = None
    url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    bundled: bool = False
    # From config files (codeperf.mcp.bench.serverconfig): the stdio server's working
    # directory, HTTP headers (secrets: never described), and the command or URL as
    # written (variables unresolved), which is what describe() shows.
    cwd: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    shown: str | None = None
    secrets: tuple[str, ...] = ()  # env/header values: scrubbed from anything we write

    def scrub(self, text: str) -> str:
        # Values under 6 characters (DEBUG=1, LOG=info) are not credentials; replacing
        # them everywhere would only garble the text.
        for secret in sorted({s for s in self.secrets if len(s) >= 6}, key=len, reverse=True):
            text = text.replace(secret, "[REDACTED]")
        return text

    def describe(self) -> str:
        what = self.shown or self.url or shlex.join(self.command or [])
        return f"{self.label} ({self.transport}: {what})"


def bundled_spec(name: str, transport: str, *, files_root: Path | None = None,
                 experts_file: str | None = None) -> ServerSpec:
    module = BUNDLED_SERVERS[name]
    command = [sys.executable, "-m", module, "--transport", transport]
    if transport == "http":
        command += ["--port", "{port}"]
    if name == "files":
        command += ["--root", str(files_root or Path.cwd())]
    if name == "experts" and experts_file:
        command += ["--experts", experts_file]
    env = {k: os.environ[k] for k in PASS_ENV + _key_variables(name, experts_file)
           if k in os.environ}
    return ServerSpec(label=f"{name}.{transport}", transport=transport, command=command,  # type: ignore[arg-type]
                      env=env, bundled=True)


def _key_variables(name: str, experts_file: str | None) -> tuple[str, ...]:
    """The variables the experts file names with `api_key_env`: the experts server sends
    those keys, so it needs them; the SDK's stdio transport would drop them. Only the
    environment carries them (ServerSpec.describe() and the results show the command)."""
    if name != "experts" or not experts_file:
        return ()
    from codeperf.experts.config import load

    return tuple(dict.fromkeys(e.api_key_env for e in load(experts_file).experts if e.api_key_env))


def stdio_spec(label: str, command_line: str) -> ServerSpec:
    command = shlex.split(command_line)
    if not command:
        raise ValueError("empty server command")
    return ServerSpec(label=label, transport="stdio", command=command,
                      env={k: os.environ[k] for k in PASS_ENV if k in os.environ})


def url_spec(label: str, url: str) -> ServerSpec:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL")
    return ServerSpec(label=label, transport="http", url=url)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- every process we start or see started, so none outlives the run ----------
_seen: dict[int, float] = {}  # pid -> create_time (guards against pid reuse)
_groups: set[int] = set()  # process groups of the servers we started (pgid == the server's pid)
_spawn_locks: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]" = \
    weakref.WeakKeyDictionary()


def _remember(pid: int) -> None:
    try:
        _seen[pid] = psutil.Process(pid).create_time()
    except psutil.Error:
        return
    try:
        if os.getpgid(pid) == pid and pid != os.getpgrp():  # a group leader: its own session
            _groups.add(pid)
    except OSError:
        pass


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes in process group `pgid`; zombies need no killing."""
    members = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
        except (OSError, psutil.Error):
            continue
    return members


def seen_groups() -> list[int]:
    return sorted(_groups)


def _kill_group(pgid: int, sig: int) -> None:
    if pgid == os.getpgrp():  # never our own group
        return
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def seen_pids() -> list[int]:
    return list(_seen)


def alive(pid: int) -> bool:
    created = _seen.get(pid)
    try:
        proc = psutil.Process(pid)
        if created is not None and proc.create_time() != created:
            return False
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def reap_leftovers(grace_s: float = 2.0) -> list[int]:
    """Kill (TERM, then KILL) every remembered process still alive and every member of
    the servers' process groups; returns the pids that were still running."""
    groups = {pgid: group_members(pgid) for pgid in _groups}
    survivors = sorted({pid for pid in _seen if alive(pid)}
                       | {pid for members in groups.values() for pid in members})
    for pid in survivors:
        _signal_tree(pid, signal.SIGTERM)
    for pgid, members in groups.items():
        if members:
            _kill_group(pgid, signal.SIGTERM)

    def running() -> bool:
        return any(alive(p) for p in _seen) or any(group_members(g) for g in groups)

    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and survivors and running():
        time.sleep(0.05)
    for pid in survivors:
        if alive(pid):
            _signal_tree(pid, signal.SIGKILL)
    for pgid in groups:
        if group_members(pgid):
            _kill_group(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 1.0  # SIGKILL is not instant: let the check see them gone
    while time.monotonic() < deadline and survivors and running():
        time.sleep(0.02)
    # An empty group is gone for good; its number, if reused later, is someone else's.
    _groups.difference_update(g for g in groups if not group_members(g))
    return survivors


def _signal_tree(pid: int, sig: int) -> None:
    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return
    for proc in procs:
        try:
            proc.send_signal(sig)
        except psutil.Error:
            pass


def _lock() -> asyncio.Lock:
    """One spawn at a time per event loop, so the children diff names the right pid."""
    loop = asyncio.get_running_loop()
    if loop not in _spawn_locks:
        _spawn_locks[loop] = asyncio.Lock()
    return _spawn_locks[loop]


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=False)}


def tail(path: Path | None, limit: int = STDERR_TAIL_BYTES) -> str:
    if path is None or not path.exists():
        return ""
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - limit))
        return handle.read().decode("utf-8", errors="replace")


class _TimedTransport:
    """Wraps an SDK transport: records when it was open, and (stdio) the pid it spawned."""

    def __init__(self, inner: Any, find_pid: bool) -> None:
        self._inner = inner
        self._find_pid = find_pid
        self.opened_at: float | None = None
        self.pid: int | None = None

    async def __aenter__(self) -> Any:
        if not self._find_pid:
            streams = await self._inner.__aenter__()
        else:
            async with _lock():
                before = _children()
                streams = await self._inner.__aenter__()
                new = _children() - before
            if len(new) == 1:
                self.pid = new.pop()
                _remember(self.pid)
        self.opened_at = time.perf_counter()
        return streams

    async def __aexit__(self, *exc: Any) -> Any:
        return await self._inner.__aexit__(*exc)


@dataclass
class Session:
    client: Client
    pid: int | None
    transport_open_s: float
    handshake_s: float
    protocol_version: str
    server_name: str | None


class ServerHandle:
    """A server for the length of a benchmark: its process (if we run it) and its sessions."""

    def __init__(self, spec: ServerSpec, log_dir: Path, call_timeout_s: float) -> None:
        self.spec = spec
        self.call_timeout_s = call_timeout_s
        log_dir.mkdir(parents=True, exist_ok=True)
        self.stderr_path: Path | None = log_dir / f"{spec.label}.stderr.log"
        self.url = spec.url
        self.http_pid: int | None = None
        self._http_proc: asyncio.subprocess.Process | None = None
        self.last_pid: int | None = None

    async def __aenter__(self) -> "ServerHandle":
        if self.spec.transport == "http" and self.spec.command:
            await self._start_http()
        elif self.spec.url:
            self.http_pid = listening_pid(self.spec.url)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    @property
    def pid(self) -> int | None:
        return self.http_pid if self.spec.transport == "http" else self.last_pid

    def stderr_tail(self) -> str:
        return self.spec.scrub(tail(self.stderr_path))

    def exit_status(self) -> str | None:
        """How the server's process ended, or None while it runs (or when unknowable)."""
        if self._http_proc is not None and self._http_proc.returncode is not None:
            return f"exited with status {self._http_proc.returncode}"
        pid = self.pid
        if pid is not None and pid in _seen and not alive(pid):
            return "process exited"
        return None

    async def _start_http(self) -> None:
        port = free_port()
        command = [part.replace("{port}", str(port)) for part in self.spec.command or []]
        assert self.stderr_path is not None
        with self.stderr_path.open("ab") as err:
            self._http_proc = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.DEVNULL, stdout=err, stderr=err,
                env={**os.environ, **self.spec.env}, start_new_session=True,
                preexec_fn=die_with_parent)  # a SIGKILLed bench must not leave it listening
        self.http_pid = self._http_proc.pid
        _remember(self.http_pid)
        self.url = f"http://127.0.0.1:{port}{HTTP_PATH}"
        deadline = time.monotonic() + HTTP_READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._http_proc.returncode is not None:
                raise ServerStartError(f"{self.spec.label}: exited with status "
                                       f"{self._http_proc.returncode} before listening",
                                       self.stderr_tail())
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise ServerStartError(f"{self.spec.label}: not listening on port {port} after "
                               f"{HTTP_READY_TIMEOUT_S:g} s", self.stderr_tail())

    async def stop(self) -> None:
        proc = self._http_proc
        if proc is None or proc.returncode is not None:
            return
        with anyio.CancelScope(shield=True):
            _signal_tree(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 5.0)
            except asyncio.TimeoutError:
                _signal_tree(proc.pid, signal.SIGKILL)
                await proc.wait()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        """An initialized SDK session; closing it stops a stdio server's process."""
        http_client = None
        if self.spec.transport == "stdio":
            assert self.spec.command and self.stderr_path is not None
            params = StdioServerParameters(command=self.spec.command[0], args=self.spec.command[1:],
                                           env=self.spec.env or None, cwd=self.spec.cwd)
            errlog = self.stderr_path.open("a", encoding="utf-8")
            transport = _TimedTransport(stdio_client(params, errlog=errlog), find_pid=True)
        else:
            errlog = None
            assert self.url is not None
            # Headers need our own httpx client; it is closed with the session below.
            http_client = create_mcp_http_client(headers=self.spec.headers) if self.spec.headers else None
            transport = _TimedTransport(streamable_http_client(self.url, http_client=http_client),
                                        find_pid=False)
        # cache=None: tools/list must reach the server every time it is timed.
        client = Client(transport, cache=None, read_timeout_seconds=self.call_timeout_s)
        try:
            async with AsyncExitStack() as stack:
                if http_client is not None:
                    await stack.enter_async_context(http_client)
                started = time.perf_counter()
                # No anyio timeout scope around this: the client's task groups live on
                # past it. The handshake requests are bounded by read_timeout_seconds.
                await stack.enter_async_context(client)
                finished = time.perf_counter()
                opened = transport.opened_at or started
                if transport.pid is not None:
                    self.last_pid = transport.pid
                info = client.server_info
                yield Session(client, self.pid, opened - started, finished - opened,
                              client.protocol_version, info.name if info else None)
        finally:
            if errlog is not None:
                errlog.close()


class ServerStartError(RuntimeError):
    def __init__(self, message: str, stderr_tail: str) -> None:
        super().__init__(message)
        self.stderr_tail = stderr_tail


def listening_pid(url: str) -> int | None:
    """The pid of a local process of ours listening on the URL's port, when there is one."""
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                return int(conn.pid)
    except (psutil.AccessDenied, OSError):
        return None
    return None
