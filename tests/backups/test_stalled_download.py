"""A blob download that stalls: the storage service stops sending in the middle of a ranged GET and keeps the
connection open, as a half-dead load balancer or link does. Each read waits at most ``storage_timeout`` seconds (the
Azure SDK's read timeout), a stalled range is resumed from the byte it reached, and after the resumes are spent the
task fails naming the blob, the byte and the timeout, instead of waiting for ever."""

from __future__ import annotations

import socket
import time

from .conftest import (
    BACKUP_DATE,
    PROD_CONTAINER,
    PROD_PREFIX,
    PRODUCTION,
    BreakingProxy,
    Modules,
    World,
    empty_database,
)


class StallingProxy(BreakingProxy):
    """Forwards to Azurite until ``after`` bytes went to the client, then forwards nothing more on any connection,
    holding each one open."""

    def _pump(self, source: socket.socket, target: socket.socket, to_server: bool) -> None:
        try:
            while self.running:
                data = source.recv(65536)
                if not data:
                    break
                if not to_server:
                    with self.lock:
                        allowed = max(0, self.after - self.sent)
                        self.sent += len(data)
                    if allowed < len(data):
                        target.sendall(data[:allowed])
                        self.cuts += 1
                        while self.running:  # stall: the connection stays open and silent
                            time.sleep(0.2)
                        break
                target.sendall(data)
        except OSError:
            pass


def test_a_stalled_download_ends_in_a_clear_error_within_its_timeout(world: World, modules: Modules) -> None:
    target = world.targets["b"]
    empty_database(target)
    # the world's nightly backup by its name: other tests of the session upload smaller blobs under the same prefix
    name = f"{PROD_PREFIX}{BACKUP_DATE}.tar.gz"
    proxy = StallingProxy(world.azurite.port, after=64 * 1024, outage=0)
    started = time.monotonic()
    try:
        through_proxy = world.connection_string.replace(f":{world.azurite.port}/", f":{proxy.port}/")
        result = modules.run("nightly_backup_restore", {
            **PRODUCTION, "blob": name, "credentials": target, "connection_string": through_proxy,
            "storage_retries": 0, "storage_timeout": 3})
    finally:
        proxy.close()
    elapsed = time.monotonic() - started
    assert result.get("failed"), result.get("_output")
    assert proxy.cuts >= 1
    assert f"Download of {PROD_CONTAINER}/{name}" in result["msg"] and "did not resume" in result["msg"], result["msg"]
    assert "timed out" in result["msg"].lower() or "timeout" in result["msg"].lower(), result["msg"]
    # six reads of at most 3 s, 1+2+3+4+5 s between them, and ansible-playbook's own start
    assert elapsed < 6 * 3 + 15 + 30, elapsed
    assert not result.get("tables")
