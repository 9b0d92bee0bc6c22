"""The broker's catalog: the `postgres` offering, its plans and the extensions it supports (the parameters each
operation accepts are in params.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    name: str
    guid: str
    description: str
    ha: bool
    backups: bool


def _plan(name: str, description: str, *, ha: bool, backups: bool) -> Plan:
    return Plan(name, str(uuid.uuid5(uuid.NAMESPACE_URL, f"register-dr/postgres/{name}")), description, ha, backups)


OFFERING = "postgres"
BROKER_GUID = BROKER_NAME = "rds-broker"  # the broker as the cloud controller registers it
OFFERING_GUID = str(uuid.uuid5(uuid.NAMESPACE_URL, "register-dr/postgres"))
PLANS: dict[str, Plan] = {p.name: p for p in (
    _plan("tiny-unencrypted-13", "5GB Storage, NOT BACKED UP, Dedicated Instance. Postgres 13.", ha=False,
          backups=False),
    _plan("small-13", "20GB Storage, Dedicated Instance, Storage Encrypted. Postgres 13.", ha=False, backups=True),
    _plan("small-ha-13", "20GB Storage, Dedicated Instance, Highly Available, Storage Encrypted. Postgres 13.",
          ha=True, backups=True),
)}

SUPPORTED_EXTENSIONS = frozenset({"uuid-ossp", "pgcrypto", "citext", "btree_gist", "btree_gin", "postgis",
                                  "pg_stat_statements", "hstore", "pg_trgm", "unaccent"})
