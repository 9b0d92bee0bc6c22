"""The AWX way of running the scenarios, as code: a survey per scenario generated from the preflight role's
argument specs, and a workflow per scenario (a check job, an approval node, the real job) described as a playbook of
``awx.awx`` modules that configures an AWX or Ansible Automation Platform controller.

``register-dr awx export`` writes them under ``awx/``; a test keeps the committed files equal to what this module
generates and validates them against the ``awx.awx`` modules' own argument specs and AWX's survey rules.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from register_dr import facts

# AWX's survey question types (awx/main/models/mixins.py, SurveyJobTemplateMixin; awx/api/views JobTemplateSurveySpec)
SURVEY_TYPES = ("text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect")
# What a scenario asks, from what it needs (roles/preflight/vars/main.yml preflight_needs)
_INPUTS_BY_NEED = {
    "restore": ("confirm_restore",),
    "backups": ("backup_date",),
    "pitr": ("snapshot_time", "snapshot_timezone"),
    "maintenance": ("maintenance",),
}
_ALWAYS = ("confirm_production",)
_BY_SCENARIO = {"lost_instance": ("instance_broken",), "review_backup": ("overwrite",)}
_VARIABLE = re.compile(r"\{\{\s*([a-z_]+)\s*\|")


def _preflight(repo: Path) -> tuple[dict, dict]:
    role = repo / "roles" / "preflight"
    options = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    return options, defaults


def _question(variable: str, option: dict[str, Any], default_text: str) -> dict[str, Any]:
    description = " ".join(option.get("description") if isinstance(option.get("description"), list)
                           else [option.get("description", "")])
    description = re.sub(r"[CO]\(([^)]*)\)", r"\1", description)
    question: dict[str, Any] = {
        "question_name": variable.replace("_", " ").capitalize(), "question_description": description,
        "variable": variable, "required": False, "min": None, "max": None,
    }
    if option.get("type") == "bool":
        question.update(type="multiplechoice", choices=["false", "true"], default="false")
    elif variable.startswith("confirm_"):
        question.update(type="multiplechoice", choices=["NO", "YES"], default="NO")
    elif option.get("choices") or variable == "maintenance":
        question.update(type="multiplechoice", choices=list(option.get("choices") or ["on", "off"]), default="")
    else:
        match = re.search(r"default\('([^']*)'\)", default_text)
        question.update(type="text", default=match.group(1) if match else "", min=0, max=64)
    return question


def survey(scenario: str, repo: Path = facts.PROJECT_ROOT) -> dict[str, Any]:
    """The AWX survey of a scenario: the inputs its playbook takes, described as the preflight role describes them."""
    options, defaults = _preflight(repo)
    needs = facts.scenarios(repo)[scenario]
    wanted = list(_ALWAYS) + [v for need, on in needs.items() if on for v in _INPUTS_BY_NEED.get(need, ())]
    wanted += list(_BY_SCENARIO.get(scenario, ()))
    by_variable = {}
    for name, option in options.items():
        match = _VARIABLE.search(str(defaults.get(name, "")))
        if match:
            by_variable[match.group(1)] = (option, str(defaults[name]))
    spec = []
    for variable in dict.fromkeys(wanted):
        if variable in by_variable:
            spec.append(_question(variable, *by_variable[variable]))
        elif variable == "overwrite":
            spec.append({"question_name": "Overwrite", "question_description": "Replace a backup of the same name.",
                         "variable": "overwrite", "required": False, "type": "multiplechoice",
                         "choices": ["false", "true"], "default": "false", "min": None, "max": None})
    if any(q["variable"] == "confirm_restore" for q in spec):
        next(q for q in spec if q["variable"] == "confirm_restore")["required"] = True
    return {"name": f"register.dr {scenario}", "description": f"Inputs of playbooks/{scenario}.yml", "spec": spec}


def validate_survey(doc: dict[str, Any]) -> list[str]:
    """What AWX would refuse in a survey spec (the checks of awx/api/views/__init__.py JobTemplateSurveySpec
    ._validate_spec_data): a name and a description, a list of dict questions with a known type, a unique variable,
    a boolean required, choices for the choice types, a default that is one of them and text within min/max."""
    problems = []
    if not isinstance(doc.get("name"), str) or not isinstance(doc.get("description"), str):
        problems.append("'name' and 'description' must be strings")
    spec = doc.get("spec")
    if not isinstance(spec, list):
        return problems + ["'spec' must be a list of questions"]
    seen: set[str] = set()
    for i, q in enumerate(spec):
        where = f"question {i} ({q.get('variable') if isinstance(q, dict) else q!r})"
        if not isinstance(q, dict):
            problems.append(f"{where} must be a dict")
            continue
        for key in ("question_name", "variable", "type"):
            if not q.get(key):
                problems.append(f"{where} has no {key}")
        if q.get("type") not in SURVEY_TYPES:
            problems.append(f"{where}: type {q.get('type')!r} is not one of {', '.join(SURVEY_TYPES)}")
        if q.get("variable") in seen:
            problems.append(f"{where}: variable repeats")
        seen.add(q.get("variable"))
        if not isinstance(q.get("required"), bool):
            problems.append(f"{where}: required must be true or false")
        if q.get("type") in ("multiplechoice", "multiselect"):
            choices = q.get("choices")
            if not isinstance(choices, list) or not choices:
                problems.append(f"{where}: a choice question needs a list of choices")
            elif q.get("default") not in (None, "", *choices):
                problems.append(f"{where}: default {q.get('default')!r} is not one of its choices")
        if q.get("type") == "text" and isinstance(q.get("default"), str) and isinstance(q.get("max"), int) \
                and len(q["default"]) > q["max"]:
            problems.append(f"{where}: default is longer than max")
    return problems


def configuration(repo: Path = facts.PROJECT_ROOT) -> list[dict[str, Any]]:
    """A playbook of awx.awx tasks: the project, per scenario a check job template and a run job template with its
    survey, and a workflow check -> approval -> run, so the approval node is where an engineer says go."""
    tasks: list[dict[str, Any]] = [{
        "name": "The project that holds the playbooks",
        "awx.awx.project": {"name": "{{ awx_project }}", "organization": "{{ awx_organization }}",
                            "scm_type": "git", "scm_url": "{{ awx_scm_url }}", "scm_branch": "main",
                            "state": "present"},
    }]
    for scenario in facts.scenarios(repo):
        title = scenario.replace("_", " ")
        common = {"organization": "{{ awx_organization }}", "project": "{{ awx_project }}",
                  "playbook": f"playbooks/{scenario}.yml", "ask_inventory_on_launch": True,
                  "execution_environment": "{{ awx_execution_environment }}",
                  "credentials": "{{ awx_credentials }}", "survey_enabled": True,
                  "survey_spec": f"{{{{ lookup('ansible.builtin.file', 'surveys/{scenario}.json') | from_json }}}}",
                  "state": "present"}
        tasks.append({"name": f"Job template: {title}, dry run",
                      "awx.awx.job_template": {"name": f"register.dr {scenario} (check)", "job_type": "check",
                                               **common}})
        tasks.append({"name": f"Job template: {title}",
                      "awx.awx.job_template": {"name": f"register.dr {scenario}", "job_type": "run",
                                               "extra_vars": {"auto_approve": True}, **common}})
        nodes = [
            {"identifier": "dry-run", "unified_job_template": {
                "name": f"register.dr {scenario} (check)", "type": "job_template",
                "organization": {"name": "{{ awx_organization }}"}},
             "related": {"success_nodes": [{"identifier": "approve"}]}},
            {"identifier": "approve", "unified_job_template": {
                "name": f"Approve {title} on the plan the dry run showed", "type": "workflow_approval",
                "description": "Read the dry run's plan (its output and timeline), then approve to run it for real.",
                "timeout": 3600},
             "related": {"success_nodes": [{"identifier": "run"}]}},
            {"identifier": "run", "unified_job_template": {
                "name": f"register.dr {scenario}", "type": "job_template",
                "organization": {"name": "{{ awx_organization }}"}}},
        ]
        tasks.append({"name": f"Workflow: {title} (dry run, approval, run)",
                      "awx.awx.workflow_job_template": {
                          "name": f"register.dr {scenario}", "organization": "{{ awx_organization }}",
                          "ask_inventory_on_launch": True, "survey_enabled": True,
                          "survey_spec": f"{{{{ lookup('ansible.builtin.file', 'surveys/{scenario}.json') "
                                         "| from_json }}",
                          "allow_simultaneous": False, "destroy_current_nodes": True,
                          "workflow_nodes": nodes, "state": "present"}})
    return [{
        "name": "Configure the register.dr job templates and workflows on an AWX controller",
        "hosts": "localhost", "gather_facts": False,
        "module_defaults": {"group/awx.awx.controller": {
            "controller_host": "{{ lookup('ansible.builtin.env', 'CONTROLLER_HOST') }}"}},
        "vars": {"awx_organization": "DfE", "awx_project": "register.dr",
                 "awx_scm_url": "https://github.com/DFE-Digital/register-dr.git",
                 "awx_execution_environment": "register-dr", "awx_credentials": ["register-dr node credentials"]},
        "tasks": tasks,
    }]


class _Dumper(yaml.SafeDumper):
    """Sequences indented under their key, as yamllint (and so ansible-lint) expects."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def export(out: Path, repo: Path = facts.PROJECT_ROOT) -> list[Path]:
    """Write ``surveys/<scenario>.json`` and ``configure.yml`` under ``out``."""
    written = []
    (out / "surveys").mkdir(parents=True, exist_ok=True)
    for scenario in facts.scenarios(repo):
        path = out / "surveys" / f"{scenario}.json"
        path.write_text(json.dumps(survey(scenario, repo), indent=2) + "\n")
        written.append(path)
    path = out / "configure.yml"
    header = ("# Generated by `register-dr awx export`: the AWX job templates and workflows of every scenario.\n"
              "#   CONTROLLER_HOST=https://awx.example CONTROLLER_OAUTH_TOKEN=... ansible-playbook awx/configure.yml\n")
    path.write_text(header + "---\n" + yaml.dump(configuration(repo), Dumper=_Dumper, sort_keys=False, width=120))
    written.append(path)
    return written
