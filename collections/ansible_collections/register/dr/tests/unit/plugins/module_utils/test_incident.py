from __future__ import annotations

import json

import pytest

from ansible_collections.register.dr.plugins.module_utils import incident, slack

T0 = 1795748400.0  # 2026-11-27T03:00:00Z


def test_runs_of_one_environment_share_the_open_incident_until_it_is_closed(tmp_path) -> None:
    store = incident.Incidents(tmp_path, "paas")
    first = store.open("production", now=T0)
    assert first["id"] == "INC-20261127T030000Z-production" and first["status"] == "open"
    assert store.open("production", now=T0 + 600)["id"] == first["id"]
    assert store.open("staging", now=T0 + 600)["id"] != first["id"]
    store.close(first["id"], now=T0 + 900)
    assert store.open("production", now=T0 + 1000)["id"] == "INC-20261127T031640Z-production"
    assert [d["status"] for d in store.list()] == ["open", "open", "closed"]
    assert oct((tmp_path / "paas" / first["id"] / "incident.json").stat().st_mode & 0o777) == "0o600"


def test_rehearsals_and_real_recoveries_never_share_an_incident(tmp_path) -> None:
    real = incident.Incidents(tmp_path, "paas").open("production", now=T0)
    rehearsal = incident.Incidents(tmp_path, "sandbox").open("production", now=T0)
    assert real["platform"] == "paas" and rehearsal["platform"] == "sandbox"
    assert (tmp_path / "paas" / real["id"]).is_dir() and (tmp_path / "sandbox" / rehearsal["id"]).is_dir()


def test_the_start_time_the_operator_gives_opens_the_incident_and_a_different_one_is_refused(tmp_path) -> None:
    store = incident.Incidents(tmp_path, "paas")
    doc = store.open("production", started_at="2026-11-27T02:40:00Z", now=T0)
    assert doc["started_at"] == "2026-11-27T02:40:00Z"
    with pytest.raises(ValueError, match="is open and started at 2026-11-27T02:40:00Z"):
        store.open("production", started_at="2026-11-27T02:50:00Z")
    with pytest.raises(ValueError, match="no zone"):
        incident.Incidents(tmp_path, "x").open("qa", started_at="2026-11-27 02:40:00")
    with pytest.raises(ValueError, match="does not exist"):
        store.open("production", incident_id="INC-20990101T000000Z-production")
    with pytest.raises(ValueError, match="the incident's start 2099-01-01T00:00:00Z is in the future"):
        incident.Incidents(tmp_path, "y").open("qa", started_at="2099-01-01T00:00:00Z", now=T0)


def test_the_rto_counts_from_the_incident_start_to_the_end_of_the_recovery_and_only_for_recoveries(tmp_path) -> None:
    store = incident.Incidents(tmp_path, "paas")
    doc = store.open("production", now=T0)
    doc = incident.begin_run(doc, dict(run_id="a", scenario="maintenance", check=False), now=T0 + 5)
    doc = incident.end_run(doc, "a", "succeeded", now=T0 + 10)
    assert doc["rto_seconds"] is None, "maintenance alone brings nothing back"
    doc = incident.begin_run(doc, dict(run_id="b", scenario="lost_instance", check=True), now=T0 + 20)
    doc = incident.end_run(doc, "b", "succeeded", now=T0 + 30)
    assert doc["rto_seconds"] is None, "a dry run recovers nothing"
    doc = incident.begin_run(doc, dict(run_id="c", scenario="lost_instance", check=False), now=T0 + 40)
    doc = incident.begin_run(doc, dict(run_id="d", scenario="lost_instance", check=False), now=T0 + 100)
    assert [r["outcome"] for r in doc["runs"]] == ["succeeded", "succeeded", "interrupted", "running"]
    doc = incident.end_run(doc, "d", "succeeded", now=T0 + 400)
    assert doc["rto_seconds"] == 400.0
    doc = incident.begin_run(doc, dict(run_id="e", scenario="lost_instance", check=False), now=T0 + 900)
    doc = incident.end_run(doc, "e", "succeeded", now=T0 + 960)
    assert doc["rto_seconds"] == 400.0, "a rerun to confirm does not move the time the service came back"
    store.save(doc)
    text = (tmp_path / "paas" / doc["id"] / "timeline.md").read_text()
    assert "| RTO | 400.0 s |" in text and "interrupted" in text


def test_a_slack_post_is_tried_again_on_503_and_429_and_never_raises() -> None:
    from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError

    answers = [HTTPError("u", 503, "busy", {}, None), HTTPError("u", 429, "slow", {"Retry-After": "2"}, None)]
    waits: list[float] = []

    class Ok:
        def getcode(self):
            return 200

    def opener(url, **kwargs):
        assert json.loads(kwargs["data"]) == {"text": "hello"} and kwargs["timeout"] == 5
        if answers:
            raise answers.pop(0)
        return Ok()

    assert slack.post("https://hooks/x", "hello", opener=opener, sleep=waits.append) == dict(
        posted=True, attempts=3, status=200, error=None)
    assert waits == [1.0, 2.0]

    def dead(url, **kwargs):
        raise URLError("connection refused")

    result = slack.post("https://hooks/secret", "hello", opener=dead, sleep=waits.append)
    assert result["posted"] is False and result["attempts"] == 3 and "connection refused" in result["error"]
    assert "secret" not in json.dumps(result)
    gone = slack.post("https://hooks/x", "hi", opener=lambda u, **k: (never for never in ()).throw(
        HTTPError("u", 404, "no_service", {}, None)), sleep=waits.append)
    assert gone == dict(posted=False, attempts=1, status=404, error="HTTP 404"), "a 404 is not tried again"
