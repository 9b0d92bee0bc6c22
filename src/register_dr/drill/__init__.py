"""Rehearse a scenario in the sandbox, end to end, and write what happened as DR evidence.

A drill: the data (the sandbox's register dataset, seeded if the database is empty) -> marker rows that must
survive -> a nightly backup or a recorded moment to recover to -> marker rows that must be lost -> the disaster
(the instance deleted through the Cloud Foundry API; or data deleted and corrupted) -> the real scenario playbook
through ``run_scenario`` against the sandbox -> verification from outside (table checksums against the moment
recovered to, marker rows, instance guids, keys, point-in-time parameters) -> ``drill.json`` and ``drill.md``
(steps with durations, RTO, RPO, verification) next to the scenario run's artifacts.

RTO counts from the disaster to the end of the recovery (the timeline's, started at the disaster with
``incident_started_at``); RPO is the span of writes the recovery cannot bring back: from the nightly backup (lost
instance) or from the time recovered to (data loss) to the disaster. Reboot and failover lose nothing when their
tables are unchanged.

The package: ``common`` (error, clock, markers), ``record`` (the report and its Markdown), ``platform`` (the sandbox
through its APIs), ``context`` (steps, the scenario run, shared checks), one module per scenario drilled
(``lost_instance``, ``data_loss``, ``restart``), and ``runs`` (the drills by name, ``run_drill``, ``run_drills``).
"""

from register_dr.drill.common import DrillError
from register_dr.drill.platform import SandboxPlatform
from register_dr.drill.record import Check, DrillReport, DrillStep, drill_markdown, drills_markdown
from register_dr.drill.runs import DRILLS, RECIPES, TERRAFORM_STATE_RM, run_drill, run_drills

__all__ = ["DRILLS", "RECIPES", "TERRAFORM_STATE_RM", "Check", "DrillError", "DrillReport", "DrillStep",
           "SandboxPlatform", "drill_markdown", "drills_markdown", "run_drill", "run_drills"]
