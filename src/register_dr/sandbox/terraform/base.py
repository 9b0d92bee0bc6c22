"""What the provider's resources share: the ``timeouts`` block, Go-style durations, errors turned into diagnostics,
and replacement rules that depend on other attributes (the SDK's ``CustomizeDiff`` with ``ForceNewIf``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tf.blocks import Block
from tf.iface import DataSource, ReadDataContext
from tf.schema import Attribute, NestedBlock, NestMode, Schema
from tf.types import String
from tf.utils import Diagnostics

from register_dr.sandbox.terraform.cf import CFError, Client, JobFailed

if TYPE_CHECKING:  # pragma: no cover
    from register_dr.sandbox.terraform.provider import CloudFoundryProvider

DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|m|s|ms)")
UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def duration(text: str | None, default: float) -> float:
    """Seconds in a Go duration such as ``30m``, ``1h30m`` or ``60s`` (what ``timeouts`` blocks hold)."""
    if not text:
        return default
    parts = DURATION.findall(text)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != text.strip():
        raise ValueError(f"timeout {text!r} is not a duration such as 30m, 1h or 90s")
    return sum(float(n) * UNITS[u] for n, u in parts)


class SingleNestedBlock(NestedBlock):
    """A block written at most once, such as ``timeouts { create = "30m" }`` (the SDK's timeouts block)."""

    def __init__(self, type_name: str, block: Block) -> None:
        super().__init__(type_name, NestMode.Single, block)

    def encode(self, value: Any) -> Any:
        return None if value is None else {a.name: value.get(a.name) for a in self.block.attributes}

    def decode(self, value: Any) -> Any:
        return value

    def semantically_equal(self, a_decoded: Any, b_decoded: Any) -> bool:
        return a_decoded == b_decoded


def timeouts_block(*operations: str) -> SingleNestedBlock:
    return SingleNestedBlock("timeouts", Block(attributes=[
        Attribute(op, String(), optional=True, description=f"How long {op} may take (a duration such as 30m)")
        for op in operations]))


class BaseResource:
    """Holds the provider (its CF client) and turns CF errors into Terraform diagnostics. A subclass names its
    type (``tf_name``, after the provider's ``cloudfoundry_``) and its ``schema``."""

    tf_name: str
    schema: Schema
    #: seconds per operation when the configuration's ``timeouts`` block does not say
    default_timeouts: dict[str, float] = {}

    def __init__(self, provider: CloudFoundryProvider) -> None:
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return cls.tf_name

    @classmethod
    def get_schema(cls) -> Schema:
        return cls.schema

    @property
    def cf(self) -> Client:
        return self.provider.client()

    def timeout(self, state: dict, operation: str) -> float:
        given = (state.get("timeouts") or {}).get(operation)
        return duration(given, self.default_timeouts.get(operation, 900.0))

    def upgrade(self, ctx: object, version: int, old: dict) -> dict:
        """States written by this provider need no upgrade (one schema version per resource so far)."""
        return old

    def replace_paths(self, prior: dict, proposed: dict) -> list[str]:
        """Attributes whose change forces replacement only under a condition (``ForceNewIf``)."""
        return []

    def delete_and_wait(self, path: str, timeout: float, what: str) -> None:
        """DELETE answered with a job, waited for; already gone (404) is done, as a destroy should be."""
        try:
            job = self.cf.start_job("DELETE", path)
        except CFError as exc:
            if exc.status == 404:
                return
            raise
        self.cf.wait_job(job, timeout, what)

    @staticmethod
    def guarded(diags: Diagnostics, what: str, work: Callable[[], Any]) -> Any:
        try:
            return work()
        except (CFError, JobFailed, ValueError) as exc:
            diags.add_error(f"{what} failed", str(exc))
            return None


class BaseDataSource(BaseResource, DataSource):
    """A data source: ``lookup`` finds the object the configuration names; its errors become diagnostics."""

    def lookup(self, config: dict) -> dict:
        raise NotImplementedError

    def read(self, ctx: ReadDataContext, config: dict) -> dict | None:
        return self.guarded(ctx.diagnostics, f"reading cloudfoundry_{self.tf_name}", lambda: self.lookup(config))
