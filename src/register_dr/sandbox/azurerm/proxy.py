"""An HTTP CONNECT proxy on 127.0.0.1 that sends tunnels to ``*.blob.core.windows.net`` to the TLS Azurite.

Terraform's azurerm backend always dials ``<account>.blob.core.windows.net:443`` (it has no endpoint setting);
Go's HTTP client honours ``HTTPS_PROXY`` and opens a CONNECT tunnel for that name, which this proxy connects to
the sandbox's TLS Azurite instead. Azurite reads the account from the Host header (its production-style URLs), so
every account it serves is reachable under its real name. Tunnels to any other host go to that host, so a shell
that sourced env.sh (HTTPS_PROXY is exported there) still reaches package registries.

Run as ``python -m register_dr.sandbox.azurerm.proxy --port P --azurite-port A``; it prints nothing and serves
until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from register_dr.sandbox.azurerm.tls import BLOB_SUFFIX

MAX_HEADER = 16 * 1024
CONNECT_TIMEOUT = 10.0


def tunnel_target(authority: str, azurite_port: int) -> tuple[str, int]:
    """Where a CONNECT to ``host:port`` goes: blob hosts on 443 to Azurite, anything else to itself."""
    host, _, port = authority.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"CONNECT needs host:port, got {authority!r}")
    host = host.strip("[]").lower()
    if host.endswith("." + BLOB_SUFFIX) and port == "443":
        return "127.0.0.1", azurite_port
    return host, int(port)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(256 * 1024):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()


async def _answer(writer: asyncio.StreamWriter, status: str, reason: str = "") -> None:
    body = (reason + "\n").encode() if reason else b""
    writer.write(f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    writer.close()


async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter, azurite_port: int) -> None:
    try:
        head = await client_reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        client_writer.close()
        return
    method, _, rest = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
    if method != "CONNECT":
        await _answer(client_writer, "405 Method Not Allowed", "this proxy only opens CONNECT tunnels")
        return
    try:
        host, port = tunnel_target(rest.split(" ", 1)[0], azurite_port)
        upstream_reader, upstream_writer = await asyncio.wait_for(asyncio.open_connection(host, port),
                                                                  CONNECT_TIMEOUT)
    except (TimeoutError, ValueError, OSError) as exc:
        await _answer(client_writer, "502 Bad Gateway", f"cannot reach {rest.split(' ', 1)[0]}: {exc}")
        return
    client_writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    await client_writer.drain()
    await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))
    for writer in (upstream_writer, client_writer):
        writer.close()


async def serve(port: int, azurite_port: int, host: str = "127.0.0.1") -> None:
    server = await asyncio.start_server(lambda r, w: handle(r, w, azurite_port), host, port, limit=MAX_HEADER)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, required=True, help="port to listen on (127.0.0.1)")
    parser.add_argument("--azurite-port", type=int, required=True, help="port of the TLS Azurite")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port, args.azurite_port))


if __name__ == "__main__":
    main()
