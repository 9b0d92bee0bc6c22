"""The bodies of the docker-app requests, checked as cloud_controller_ng's messages check them: every problem a
message finds is one full message, and they answer together as one 422 UnprocessableEntity (10008) joined by ", "
(V3ErrorsHelper#unprocessable!, ApiError#message).

Sources: app/messages/app_create_message.rb, app_update_message.rb, update_environment_variables_message.rb,
package_create_message.rb with validators/docker_data_validator.rb, build_create_message.rb,
route_update_destinations_message.rb, route_create_message.rb; base_message.rb
(NoAdditionalKeysValidator), validators.rb (RelationshipValidator, ToOneRelationshipValidator, StringValidator,
HashValidator, EnvironmentVariablesStringValuesValidator, LifecycleValidator) and metadata_base_message.rb
(MetadataValidator, first when metadata is given).
"""

from __future__ import annotations

import json
import re
from typing import Any

from register_dr.sandbox.cf.metadata import metadata_errors

LIFECYCLES = ("buildpack", "docker", "cnb")


def _unknown(data: dict, allowed: tuple[str, ...], prefix: str = "") -> list[str]:
    extra = [k for k in data if k not in allowed]
    return [f"{prefix}Unknown field(s): '" + "', '".join(extra) + "'"] if extra else []


def _metadata(data: dict) -> list[str]:
    return metadata_errors(data["metadata"]) if "metadata" in data else []


def _to_one(relationships: Any, *names: str) -> list[str]:
    """RelationshipValidator with a Relationships message of required to-one relationships ``names``."""
    if not isinstance(relationships, dict):
        return ["Relationships 'relationships' is not an object"]
    if not relationships:
        return ["Relationships 'relationships' must include one or more valid relationships"]
    found = _unknown(relationships, names, "Relationships ")
    for name in names:
        relation = relationships.get(name)
        label = name.capitalize()
        if relation is None:
            found.append(f"Relationships {label} can't be blank")
        data = relation.get("data") if isinstance(relation, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("guid"), str) or not data["guid"]:
            found.append(f"Relationships {label} must be structured like this: \"{name}: {{\"data\": {{\"guid\": "
                         f"\"valid-guid\"}}}}\"")
    return found


def _name(data: dict, *, required: bool) -> list[str]:
    if "name" not in data and not required:
        return []
    name = data.get("name")
    if not isinstance(name, str):
        return ["Name must be a string"]
    return ["Name is too long (maximum is 255 characters)"] if len(name) > 255 else []


def _lifecycle(data: dict) -> list[str]:
    """LifecycleValidator and the lifecycle_type / lifecycle_data checks, when a lifecycle is given."""
    if "lifecycle" not in data:
        return []
    lifecycle = data["lifecycle"] if isinstance(data["lifecycle"], dict) else {}
    found = []
    kind = lifecycle.get("type")
    if kind is not None and kind not in LIFECYCLES:
        found.append("Lifecycle type is not included in the list: " + ", ".join(LIFECYCLES))
    if kind is not None and not isinstance(kind, str):
        found.append("Lifecycle type must be a string")
    if not isinstance(lifecycle.get("data"), dict):
        found.append("Lifecycle data must be an object")
    return found


def app_create_errors(data: dict) -> list[str]:
    """AppCreateMessage."""
    found = _metadata(data) + _unknown(data, ("name", "environment_variables", "relationships", "lifecycle",
                                                   "metadata"))
    found += _to_one(data.get("relationships"), "space")
    found += _name(data, required=True)
    environment = data.get("environment_variables")
    if environment is not None and not isinstance(environment, dict):
        found.append("Environment variables must be an object")
    return found + _lifecycle(data)


def app_update_errors(data: dict) -> list[str]:
    """AppUpdateMessage."""
    return (_metadata(data) + _unknown(data, ("name", "lifecycle", "metadata")) + _lifecycle(data)
            + _name(data, required=False))


def environment_errors(data: dict) -> list[str]:
    """UpdateEnvironmentVariablesMessage: var is an object of string (or null) values, none of the platform's own
    names."""
    found = _unknown(data, ("var",))
    values = data.get("var")
    if not isinstance(values, dict):
        return [*found, "Var must be an object"]
    for key, value in values.items():
        if key == "":
            found.append("Var key must be a minimum length of 1")
        elif re.match(r"VCAP_", key, re.IGNORECASE):
            found.append("Var cannot start with VCAP_")
        elif re.match(r"VMC", key, re.IGNORECASE):
            found.append("Var cannot start with VMC_")
        elif re.fullmatch(r"PORT", key, re.IGNORECASE):
            found.append("Var cannot set PORT")
        elif value is not None and not isinstance(value, str):
            found.append(f"Non-string value in environment variable for key '{key}', value "
                         f"'{json.dumps(value, separators=(',', ':'))}'")
    return found


def package_errors(data: dict) -> list[str]:
    """PackageCreateMessage: NoAdditionalKeys, DockerDataValidator (on ``data``), RelationshipValidator, type."""
    found = _metadata(data) + _unknown(data, ("relationships", "type", "data", "metadata"))
    if data.get("type") == "docker":
        docker = data.get("data") if isinstance(data.get("data"), dict) else {}
        image = docker.get("image")
        if not isinstance(image, str):
            found.append("Data Image must be a string")
        if not image:
            found.append("Data Image required")
        found += _unknown(docker, ("image", "username", "password"), "Data ")
    found += _to_one(data.get("relationships"), "app")
    if data.get("type") not in ("bits", "docker"):
        found.append("Type must be one of 'bits, docker'")
    return found


def build_errors(data: dict) -> list[str]:
    """BuildCreateMessage: NoAdditionalKeys, then a package guid (presence, then GuidValidator's two checks)."""
    found = _metadata(data) + _unknown(data, (
        "staging_memory_in_mb", "staging_disk_in_mb", "staging_log_rate_limit_bytes_per_second",
        "environment_variables", "lifecycle", "package", "metadata"))
    package = data.get("package")
    guid = package.get("guid") if isinstance(package, dict) else None
    if not guid:
        found.append("Package guid can't be blank")
    if not isinstance(guid, str):
        found.append("Package guid must be a string")
    if not isinstance(guid, str) or not 1 <= len(guid) <= 200:
        found.append("Package guid must be between 1 and 200 characters")
    return found


def _destination_errors(index: int, given: Any) -> list[str]:
    """RouteUpdateDestinationsMessage#validate_destination_contents for one destination of an insert."""
    label = f"Destinations[{index}]:"
    if not isinstance(given, dict):
        return [f"{label} must be an object."]
    if "app" not in given:
        return [f'{label} must have an "app".']
    if set(given) - {"app", "weight", "port", "protocol"}:
        return [f'{label} must have only "app" and optionally "weight", "port" or "protocol".']
    found = []
    app = given["app"]
    guid = app.get("guid") if isinstance(app, dict) else None
    if not isinstance(guid, str) or not 1 <= len(guid) < 200:
        found.append(f'{label} app must have the structure {{"guid": "app_guid"}}')
    else:
        process = app.get("process")
        if process is not None and not (isinstance(process, dict) and list(process) == ["type"]
                                        and isinstance(process["type"], str) and process["type"]):
            found.append(f'{label} process must have the structure {{"type": "process_type"}}')
    if given.get("weight"):
        found.append(f"{label} weighted destinations can only be used when replacing all destinations.")
    port = given.get("port")
    if port and not (isinstance(port, int) and 1024 <= port <= 65535):
        found.append(f"{label} port must be a positive integer between 1024 and 65535 inclusive.")
    protocol = given.get("protocol")
    if protocol and protocol not in ("http1", "http2", "tcp"):
        found.append(f"{label} protocol must be 'http1', 'http2' or 'tcp'.")
    return found


def destinations_errors(data: dict) -> list[str]:
    """RouteUpdateDestinationsMessage (an insert: 1 to 100 destinations, no weights)."""
    found = _unknown(data, ("destinations",))
    given = data.get("destinations")
    if not isinstance(given, list) or not 1 <= len(given) <= 100:
        return [*found, "Destinations must be an array containing between 1 and 100 destination objects."]
    for index, destination in enumerate(given):
        found += _destination_errors(index, destination)
    return found


def _text(data: dict, key: str, maximum: int, formats: tuple[tuple[str, bool, str], ...]) -> list[str]:
    """StringValidator, length and format validations of one optional text field."""
    value = data.get(key)
    label = key.capitalize()
    if value is None:
        return []
    if not isinstance(value, str):
        return [f"{label} must be a string"]
    found = [f"{label} is too long (maximum is {maximum} characters)"] if len(value) > maximum else []
    for pattern, matches, text in formats:
        if bool(re.search(pattern, value, re.ASCII)) != matches:
            found.append(f"{label} {text}")
    return found


def route_errors(data: dict) -> list[str]:
    """RouteCreateMessage: host and path formats, relationships space and domain, no other field."""
    found = _metadata(data) + _text(data, "host", 63, (
        (r"\A([\w-]+|\*)?\Z", True, 'must be either "*" or contain only alphanumeric characters, "_", or "-"'),))
    found += _text(data, "path", 128, ((r"\A(/.*|)\Z", True, "must begin with /"), (r"\?", False, "cannot contain ?"),
                                      (r"\A/\Z", False, "cannot be exactly /")))
    if not data.get("relationships"):
        found.append("Relationships can't be blank")
    found += _unknown(data, ("host", "path", "port", "relationships", "options", "metadata"))
    return found + _to_one(data.get("relationships"), "space", "domain")
