"""`sandbox down` waits for stopped processes to exit before it calls them survivors."""

from __future__ import annotations

import subprocess
import sys

from register_dr.sandbox.lifecycle import control


def _sleeper(seconds: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})"])


def test_a_process_exiting_a_moment_after_its_stop_is_not_a_survivor() -> None:
    # A postmaster removes postmaster.pid (what `pg_ctl stop -w` waits for) just before its process exits.
    late = _sleeper(0.5)
    try:
        assert control._outlive({"postgres:late": late.pid}, timeout=20) == []
    finally:
        late.kill()
        late.wait()


def test_a_process_that_stays_is_named_after_the_timeout() -> None:
    stays, late = _sleeper(60), _sleeper(0.2)
    try:
        assert control._outlive({"postgres:stays": stays.pid, "postgres:late": late.pid}, timeout=1) == [
            "postgres:stays"]
    finally:
        for proc in (stays, late):
            proc.kill()
            proc.wait()
