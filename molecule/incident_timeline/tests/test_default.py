"""The timeline the role left: both files, the stable schema, the step, no secret."""

import json
import os


def test_timeline_json_follows_the_schema(host):
    record = host.file(os.path.join(os.environ["MOLECULE_ARTIFACTS"], "timeline.json"))
    assert record.exists
    timeline = json.loads(record.content_string)
    assert timeline["schema"] == "register.dr/incident-timeline/1"
    assert timeline["outcome"] == "succeeded" and timeline["operator"] == "molecule"
    assert timeline["inputs"] == {"backup_date": "2026-11-20"}
    step = timeline["steps"][-1]
    assert step["step"] == "restore_nightly_backup" and step["result"] == "changed"
    assert step["finished_at"].endswith("Z") and step["rto_seconds"] >= 0
    assert step["details"] == {"backup": "register_prod_2026-11-20.tar.gz"}


def test_markdown_has_the_steps_and_no_secret(host):
    markdown = host.file(os.path.join(os.environ["MOLECULE_ARTIFACTS"], "timeline.md")).content_string
    assert "| restore_nightly_backup | changed | Restored register_prod_2026-11-20.tar.gz |" in markdown
    assert "not-in-the-record" not in markdown
