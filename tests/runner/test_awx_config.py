"""awx/: the surveys and the workflow playbook AWX would load, kept equal to what `register-dr awx export` generates
and validated offline against the awx.awx collection's own modules (their ``argument_spec`` in
plugins/modules/*.py and ``AUTH_ARGSPEC`` in plugins/module_utils/controller_api.py; the workflow nodes against the
``workflow_nodes`` suboptions its DOCUMENTATION describes) and against AWX's survey rules."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.basic import env_fallback
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from register_dr import awx, facts

REPO = Path(__file__).resolve().parents[2]
AWX = REPO / ".tools" / "awx" / "ansible_collections" / "awx" / "awx"


def _awx_collection() -> Path:
    if not (AWX / "meta" / "runtime.yml").exists():
        pytest.fail("the awx.awx collection is not installed in .tools/awx: run `make unit` (or make test) once")
    return AWX


def _spec_in(source: str, marker: str) -> dict:
    """The ``dict(...)`` literal that follows ``marker`` in a module's source, evaluated with nothing but dict."""
    start = source.index(marker) + len(marker) - len("dict(")
    depth, stop = 0, start
    for index, char in enumerate(source[start:], start):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and char == ")":
            stop = index + 1
            break
    node = ast.parse(source[start:stop], mode="eval")
    return eval(compile(node, "<argspec>", "eval"), {"__builtins__": {}, "dict": dict, "env_fallback": env_fallback})  # noqa: S307


def _argspec(module: str) -> dict:
    root = _awx_collection()
    spec = _spec_in((root / "plugins" / "modules" / f"{module}.py").read_text(), "argument_spec = dict(")
    spec.update(_spec_in((root / "plugins" / "module_utils" / "controller_api.py").read_text(),
                         "AUTH_ARGSPEC = dict("))
    return spec


def _doc_options_to_spec(options: dict) -> dict:
    spec = {}
    for name, option in options.items():
        entry = {k: option[k] for k in ("type", "elements", "choices", "required", "aliases") if k in option}
        if "suboptions" in option:
            entry["options"] = _doc_options_to_spec(option["suboptions"])
        spec[name] = entry
    return spec


def _node_spec() -> dict:
    tree = ast.parse((_awx_collection() / "plugins" / "modules" / "workflow_job_template.py").read_text())
    (text,) = [n.value.value for n in tree.body if isinstance(n, ast.Assign)
               and getattr(n.targets[0], "id", "") == "DOCUMENTATION"]
    doc = yaml.safe_load(text)
    return _doc_options_to_spec(doc["options"]["workflow_nodes"]["suboptions"])


def test_the_committed_awx_files_are_what_the_generator_writes(tmp_path: Path) -> None:
    written = awx.export(tmp_path)
    for path in written:
        committed = REPO / "awx" / path.relative_to(tmp_path)
        assert committed.exists() and committed.read_text() == path.read_text(), (
            f"{committed} is stale: run `register-dr awx export`")


def test_every_scenario_has_a_survey_awx_accepts_with_the_inputs_it_needs() -> None:
    for scenario in facts.scenarios():
        doc = awx.survey(scenario)
        assert awx.validate_survey(doc) == [], scenario
        variables = [q["variable"] for q in doc["spec"]]
        assert variables[0] == "confirm_production"
        assert ("confirm_restore" in variables) == (scenario in ("lost_instance", "data_loss")), scenario
        assert ("snapshot_time" in variables) == (scenario == "data_loss")
        assert "auto_approve" not in variables, "the approval node approves, not a survey answer"
    broken = {"name": "x", "description": "", "spec": [
        {"question_name": "A", "variable": "a", "type": "list", "required": "yes"},
        {"question_name": "B", "variable": "a", "type": "multiplechoice", "required": False, "choices": ["x"],
         "default": "y"}]}
    problems = awx.validate_survey(broken)
    assert any("type 'list'" in p for p in problems) and any("repeats" in p for p in problems)
    assert any("required must be" in p for p in problems) and any("not one of its choices" in p for p in problems)


def test_configure_yml_passes_the_awx_awx_modules_own_argument_specs() -> None:
    runtime = yaml.safe_load((_awx_collection() / "meta" / "runtime.yml").read_text())
    plays = yaml.safe_load((REPO / "awx" / "configure.yml").read_text())
    for group in plays[0]["module_defaults"]:
        assert group.removeprefix("group/awx.awx.") in runtime["action_groups"], group
    checked = {"awx.awx.project": 0, "awx.awx.job_template": 0, "awx.awx.workflow_job_template": 0}
    node_validator = ArgumentSpecValidator(_node_spec())
    for task in plays[0]["tasks"]:
        (module,) = [k for k in task if k.startswith("awx.awx.")]
        args = dict(task[module])
        if isinstance(args.get("survey_spec"), str):  # the lookup of the survey file, as Ansible would template it
            scenario = args["survey_spec"].split("surveys/")[1].split(".json")[0]
            args["survey_spec"] = json.loads((REPO / "awx" / "surveys" / f"{scenario}.json").read_text())
        result = ArgumentSpecValidator(_argspec(module.split(".")[-1])).validate(args)
        assert not result.error_messages, f"{task['name']}: {result.error_messages}"
        for node in args.get("workflow_nodes") or []:
            node_result = node_validator.validate(dict(node))
            assert not node_result.error_messages, f"{task['name']}: {node_result.error_messages}"
        checked[module] += 1
    scenarios = len(facts.scenarios())
    assert checked == {"awx.awx.project": 1, "awx.awx.job_template": 2 * scenarios,
                       "awx.awx.workflow_job_template": scenarios}


def test_each_workflow_is_a_dry_run_then_an_approval_then_the_run() -> None:
    plays = yaml.safe_load((REPO / "awx" / "configure.yml").read_text())
    workflows = [t["awx.awx.workflow_job_template"] for t in plays[0]["tasks"] if "awx.awx.workflow_job_template" in t]
    templates = {t["awx.awx.job_template"]["name"]: t["awx.awx.job_template"] for t in plays[0]["tasks"]
                 if "awx.awx.job_template" in t}
    for flow in workflows:
        nodes = {n["identifier"]: n for n in flow["workflow_nodes"]}
        dry, approve, run = nodes["dry-run"], nodes["approve"], nodes["run"]
        assert templates[dry["unified_job_template"]["name"]]["job_type"] == "check"
        assert approve["unified_job_template"]["type"] == "workflow_approval"
        assert templates[run["unified_job_template"]["name"]]["job_type"] == "run"
        assert dry["related"]["success_nodes"] == [{"identifier": "approve"}]
        assert approve["related"]["success_nodes"] == [{"identifier": "run"}]
        assert flow["allow_simultaneous"] is False
