"""The preflight passed its guards against the sandbox and changed nothing."""

import json
import os


def test_preflight_recorded_the_plan(host):
    timeline = json.loads(host.file(os.path.join(os.environ["MOLECULE_ARTIFACTS"], "timeline.json")).content_string)
    step = timeline["steps"][0]
    assert step["step"] == "preflight" and step["result"] == "ok"
    assert step["details"]["plan"][0] == "Scenario: reboot register-postgres-13-qa on molecule (space bat-qa)"


def test_the_instance_is_untouched(host):
    info = host.ansible("register.dr.cf_service_instance_info", "name=register-postgres-13-qa space=bat-qa")
    assert info["exists"] and info["instance"]["last_operation"]["state"] == "succeeded"
