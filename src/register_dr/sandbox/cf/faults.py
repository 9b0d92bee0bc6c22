"""Fault injection, armed over HTTP (``/_sandbox/faults``) by tests that rehearse failures.

- ``{"kind": "http", "method": "GET", "path": "^/v3/service_instances", "status": 502, "count": 3}``: the next
  matching requests answer that status (a 502 burst);
- ``{"kind": "job_fail", "code": ..., "title": ..., "detail": ...}``: the next job created ends FAILED;
- ``{"kind": "job_stuck"}``: the next job created never finishes;
- ``{"kind": "job_hold", "seconds": 3}``: the next job created stays PROCESSING that long before the broker is
  called, as a platform job waits for a worker;
- ``{"kind": "expire_tokens"}``: every access token issued so far stops working.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class HttpFault:
    method: str
    path: re.Pattern[str]
    status: int
    count: int
    body: dict[str, Any] | None = None


@dataclass
class Faults:
    http: list[HttpFault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def arm_http(self, method: str, path: str, status: int, count: int, body: dict[str, Any] | None = None) -> None:
        with self._lock:
            self.http.append(HttpFault(method.upper(), re.compile(path), status, count, body))

    def take_http(self, method: str, path: str) -> HttpFault | None:
        with self._lock:
            for fault in self.http:
                if fault.method in (method, "*") and fault.path.search(path) and fault.count > 0:
                    fault.count -= 1
                    if fault.count == 0:
                        self.http.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self.http.clear()
