from __future__ import annotations

from ansible_collections.register.dr.plugins.action.incident_record import append_step, close

RECORD = {"schema": "register.dr/incident-timeline/1", "operator": "oncall", "started_at": "2026-11-27T03:00:00Z",
          "started_epoch": 1795748400.0, "outcome": "running", "rto_seconds": 0, "steps": []}


def test_a_step_starts_where_the_last_one_finished_and_the_rto_counts_from_the_start() -> None:
    first = append_step(RECORD, {"name": "preflight", "result": "ok", "summary": "Guards passed"},
                        now=RECORD["started_epoch"] + 12.34)
    second = append_step(first, {"name": "recreate_instance", "result": "changed"},
                         now=RECORD["started_epoch"] + 70)
    assert [s["step"] for s in second["steps"]] == ["preflight", "recreate_instance"]
    assert second["steps"][0]["started_at"] == "2026-11-27T03:00:00Z"
    assert second["steps"][0]["finished_at"] == "2026-11-27T03:00:12Z"
    assert second["steps"][1]["started_at"] == "2026-11-27T03:00:12Z"
    assert second["steps"][1]["finished_at"] == "2026-11-27T03:01:10Z"
    assert second["steps"][0]["rto_seconds"] == 12.3 and second["rto_seconds"] == 70.0
    assert second["steps"][1]["summary"] == "" and second["steps"][1]["operator"] == "oncall"
    assert RECORD["steps"] == [], "the record given is not changed"


def test_details_whose_keys_look_secret_are_never_written() -> None:
    record = append_step(RECORD, {"name": "recreate_keys", "details": {
        "names": ["register-postgres-13-production"], "URI": "postgres://u:p@h/db", "db_password": "x",
        "guid": "0c5f"}}, secret_keys="password|token|uri", now=RECORD["started_epoch"] + 1)
    assert record["steps"][0]["details"] == {"names": ["register-postgres-13-production"], "guid": "0c5f"}


def test_closing_sets_the_outcome_and_the_final_rto() -> None:
    closed = close(RECORD, "failed", now=RECORD["started_epoch"] + 95.06)
    assert closed["outcome"] == "failed"
    assert closed["finished_at"] == "2026-11-27T03:01:35Z"
    assert closed["rto_seconds"] == 95.1


def test_a_new_records_inputs_lose_the_keys_that_look_secret() -> None:
    from ansible_collections.register.dr.plugins.action.incident_record import without_secrets

    assert without_secrets({"backup_date": "2026-11-20", "CF_PASSWORD": "x", "webhook": "y"}, "password|webhook") \
        == {"backup_date": "2026-11-20"}
    assert without_secrets(None, "password") == {}
