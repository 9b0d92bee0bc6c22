"""Every object kind pg_dump (13 and later) writes in a plain dump restores in both modes: a database holding them
all is backed up the upstream way (pg_dump -E utf8 --clean --if-exists --no-owner --verbose, tar -czf, upload), restored
by nightly_backup_restore into new instances as a key user, and compared with its source object by object."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from register_dr.sandbox.world.nightly import nightly_backup
from tests.backups.conftest import BACKUP_DATE, EXTENSIONS, PROD_PREFIX, Modules, World, key
from tests.backups.shapes import CORPUS, READER, snapshot

CONTAINER = "shapes-db-backup"


def with_reader(world: World, cluster_id: str) -> None:
    with world.clusters.superuser(cluster_id) as admin:
        admin.execute(f"CREATE ROLE {READER} NOLOGIN")


@pytest.fixture(scope="module")
def shapes(world: World) -> Iterator[tuple[dict, dict]]:
    world.clusters.create("shapes", dbname="rdsbroker_shapes", extensions=EXTENSIONS)
    with_reader(world, "shapes")
    source = key(world.clusters, "shapes", "shaper")
    with psycopg.connect(source["uri"], autocommit=True) as conn:
        conn.execute(CORPUS)
    nightly_backup(source, connection_string=world.connection_string, container=CONTAINER, prefix=PROD_PREFIX,
                   date=BACKUP_DATE)
    yield source, snapshot(source["uri"])
    world.clusters.destroy("shapes")


@pytest.mark.parametrize("mode", ["parallel", "single"])
def test_every_object_kind_restores_as_the_source_held_it(world: World, modules: Modules, shapes: tuple,
                                                          mode: str) -> None:
    source, expected = shapes
    cluster = f"shapes-{mode}"
    world.clusters.create(cluster, dbname=f"rdsbroker_shapes_{mode}", extensions=EXTENSIONS)
    with_reader(world, cluster)
    target = key(world.clusters, cluster, f"restorer_{mode}")
    result = modules.run("nightly_backup_restore", {
        "container": CONTAINER, "prefix": PROD_PREFIX, "backup_date": str(BACKUP_DATE), "credentials": target,
        "mode": mode, "jobs": 3})
    assert not result.get("failed"), result.get("msg", result["_output"])
    got = snapshot(target["uri"])
    # the source holds what the corpus says, so the comparison below cannot pass on empty snapshots
    assert expected["sequences"]["app.unused_seq"] == (1, False) and expected["sequences"]["app.used_seq"] == (3, True)
    kinds = {name: kind for name, kind, *_ in expected["relations"]}
    assert kinds["app.events"] == "p" and kinds["app.events_2025"] == "r" and kinds["app.people_by_mood"] == "m"
    assert {name: populated for name, _d, kind, populated in expected["views"] if kind == "m"} == {
        "app.never_filled": False, "app.people_by_mood": True}
    assert len(expected["types"]) == 4 and expected["policies"] and expected["rules"] and expected["triggers"]
    assert any(row[0] == "app.events" and row[3] == "p" for row in expected["constraints"])
    assert expected["data"]["app.vehicles"][0] == 50 and expected["data"]["app.cars"][0] == 200
    for part in expected:
        assert got[part] == expected[part], part
    # the row counts the module compared include a parent with inheritance children, counted ONLY
    rows = {t["table"]: (t["dump_rows"], t["rows"]) for t in result["tables"]}
    assert rows["app.vehicles"] == (50, 50) and rows["app.cars"] == (200, 200)
    assert rows['"Odd Schema"."Table (1); ""x"""'] == (400, 400)
    assert all(t["match"] for t in result["tables"]) and result["skipped_tables"] == {}
    assert set(result["expected_errors"]) <= {"must_be_owner_of_extension", "must_be_owner_of_event_trigger",
                                              "must_be_owner_of_function", "function_already_exists",
                                              "permission_denied_to_create_event_trigger"}
    world.clusters.destroy(cluster)
