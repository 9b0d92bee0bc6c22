"""The broker's failures: ``BrokerError`` carries the text brokerapi answers in ``description``."""

from __future__ import annotations


class BrokerError(Exception):
    """The broker refused a request; ``description`` is the broker's own text, ``status`` its HTTP status."""

    def __init__(self, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.description = description
        self.status = status


class InstanceGone(BrokerError):
    """The broker does not know the instance (HTTP 410 on last_operation)."""

    def __init__(self, instance_id: str) -> None:
        super().__init__(f"Cannot find instance {db_instance_id(instance_id)}", status=410)


def db_instance_id(instance_id: str) -> str:
    return f"rdsbroker-{instance_id}"


def db_name(instance_id: str) -> str:
    return "rdsbroker_" + instance_id.replace("-", "_")
