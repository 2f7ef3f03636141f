"""The test session's real servers (the debug ``papertwap-server`` on sim and a temporary
SQLite file), a TCP proxy that can cut connections, and the one bounded wait helper."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, TypeVar

import pytest

from papertwap import Client

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
USER = "premium"
PASSWORD = "CryptoTWAPpremium"


def eventually(what: str, within: float, check: Callable[[], Optional[T]]) -> T:
    """Poll ``check`` until it returns something other than ``None``/``False`` (bounded)."""
    deadline = time.monotonic() + within
    while True:
        got = check()
        if got is not None and got is not False:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        time.sleep(0.05)


def server_binary() -> Path:
    """The server to test: ``$PAPERTWAP_SERVER_BIN``, else the workspace's debug build
    (built here if it is missing)."""
    given = os.environ.get("PAPERTWAP_SERVER_BIN")
    if given:
        return Path(given)
    path = REPO / "target" / "debug" / "papertwap-server"
    if not path.exists():
        subprocess.run(
            ["cargo", "build", "-q", "--bin", "papertwap-server"],
            cwd=REPO,
            check=True,
            timeout=1800,
        )
    return path


@dataclass
class Server:
    """A running server: its base URL, process and log."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_server(env: dict[str, str]) -> Server:
    """Start a server on a free loopback port with the embedded defaults plus ``env``."""
    work = Path(tempfile.mkdtemp(prefix="papertwap-py-"))
    log = work / "server.log"
    full = {
        **os.environ,
        "PAPERTWAP_SERVER__BIND": "127.0.0.1:0",
        "PAPERTWAP_STORE__URL": f"sqlite://{work}/test.db",
        "PAPERTWAP_EXCHANGES__BINANCE__ENABLED": "false",
        "PAPERTWAP_EXCHANGES__KRAKEN__ENABLED": "false",
        "PAPERTWAP_EXCHANGES__BYBIT__ENABLED": "false",
        "PAPERTWAP_EXCHANGES__OKX__ENABLED": "false",
        "PAPERTWAP_EXCHANGES__COINBASE__ENABLED": "false",
        "PAPERTWAP_EXCHANGES__BITSTAMP__ENABLED": "false",
        "PAPERTWAP_LOG__FORMAT": "json",
        "PAPERTWAP_LOG__LEVEL": "info",
        **env,
    }
    with log.open("wb") as out:
        process = subprocess.Popen([str(server_binary())], env=full, stdout=out, stderr=out)

    def address() -> Optional[str]:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()[-2000:]}")
        found = re.search(r'"address":"([^"]+)"', log.read_text(errors="replace"))
        return found.group(1) if found else None

    addr = eventually("the server's start-up line", 30, address)
    return Server(f"http://{addr}", process, log)


GENEROUS = {
    "PAPERTWAP_LIMITS__ANONYMOUS__PER_MINUTE": "1000000",
    "PAPERTWAP_LIMITS__BASIC__PER_MINUTE": "1000000",
    "PAPERTWAP_LIMITS__PREMIUM__PER_MINUTE": "1000000",
    "PAPERTWAP_LIMITS__TOKEN_PER_IP_PER_MINUTE": "1000000",
    "PAPERTWAP_LIMITS__TOKEN_PER_USERNAME_PER_MINUTE": "1000000",
}


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """The shared server, with rate limits out of the way."""
    s = start_server(GENEROUS)
    yield s
    s.stop()
    shutil.rmtree(s.log.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def tight_server() -> Iterator[Server]:
    """A server with a 60-per-minute anonymous budget and 60 s tokens."""
    s = start_server(
        {
            **GENEROUS,
            "PAPERTWAP_LIMITS__ANONYMOUS__PER_MINUTE": "60",
            "PAPERTWAP_AUTH__TOKEN_TTL_SECS": "60",
        }
    )
    yield s
    s.stop()
    shutil.rmtree(s.log.parent, ignore_errors=True)


@pytest.fixture
def client(server: Server) -> Iterator[Client]:
    """A logged-in synchronous client of the shared server."""
    with Client(server.url) as c:
        c.login(USER, PASSWORD)
        yield c


_counter = iter(range(1_000_000))


def unique(prefix: str) -> str:
    """A token_id no other test uses in this session."""
    return f"{prefix}-{os.getpid()}-{next(_counter)}"


class Proxy:
    """A loopback TCP proxy in front of a server: :meth:`sever` drops every connection
    through it (as a crashed load balancer would); while ``refusing`` it drops new ones."""

    def __init__(self, target: str) -> None:
        host, port = target.removeprefix("http://").rsplit(":", 1)
        self._target = (host, int(port))
        self._server: Optional[asyncio.Server] = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.refusing = False
        self.url = ""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.difference_update((writer, up_writer))

    def sever(self) -> int:
        """Drop every open connection (both directions); returns how many writers were cut."""
        cut = len(self._writers)
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()
        return cut

    async def stop(self) -> None:
        self.sever()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
