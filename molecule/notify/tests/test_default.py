"""Without a webhook the freeze notice goes to the timeline only, and says how to post it."""

import json
import os


def test_freeze_notice_is_on_the_timeline(host):
    timeline = json.loads(host.file(os.path.join(os.environ["MOLECULE_ARTIFACTS"], "timeline.json")).content_string)
    step = timeline["steps"][0]
    assert step["step"] == "notify_freeze" and step["result"] == "ok"
    assert "Freeze the pipeline" in step["summary"] and "set SLACK_WEBHOOK_URL" in step["summary"]
