"""The ``label_selector`` query parameter: its parser, its validation and its meaning over ``metadata.labels``.

cloud_controller_ng: app/messages/list_message.rb (ListMessage.parse_label_selector, parse_requirement),
app/models/helpers/metadata_helpers.rb (REQUIREMENT_SPLITTER and the six requirement patterns, tried in order),
app/models/helpers/label_selector_requirement.rb (values split on commas), app/messages/validators/
label_selector_requirement_validator.rb (the error texts), app/messages/metadata_validator_helper.rb (key and value
rules) and app/fetchers/label_selector_query_generator.rb (what each operator selects).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_REQUIREMENTS = 50
MISSING = "Missing label_selector value"
TOO_MANY = f"Too many label_selector requirements (maximum is {MAX_REQUIREMENTS})"
INVALID = "Invalid label_selector value"

_SPLITTER = re.compile(r"(?:\(.*?\)|[^,])+")
_KEY = r"[\w\-._/]+"
_PATTERNS = (
    (re.compile(r"\A(?P<key>.*?) in \((?P<values>.*)\)\Z"), "in"),
    (re.compile(r"\A(?P<key>.*?) notin \((?P<values>.*)\)\Z"), "notin"),
    (re.compile(rf"\A(?P<key>{_KEY})(==?)(?P<values>.*)\Z", re.ASCII), "equal"),
    (re.compile(rf"\A(?P<key>{_KEY})(!=)(?P<values>.*)\Z", re.ASCII), "not_equal"),
    (re.compile(rf"\A(?P<key>{_KEY})(?P<values>)\Z", re.ASCII), "exists"),
    (re.compile(rf"\A!(?P<key>{_KEY})(?P<values>)\Z", re.ASCII), "not_exists"),
)
_INVALID_CHAR = re.compile(r"[^\w\-.]", re.ASCII)
_ALNUM_START_END = re.compile(r"\A(?=[a-zA-Z\d]).*[a-zA-Z\d]\Z")
_LABEL = r"([a-z0-9]|[a-z0-9][a-z0-9-]{0,61}[a-z0-9])"
_DOMAIN = re.compile(rf"\A({_LABEL}\.)+{_LABEL}\n?\Z", re.IGNORECASE)  # DomainDecorator::DOMAIN_REGEX
MAX_NAME = 63
MAX_PREFIX = 253


def ruby_split(text: str, separator: str) -> list[str]:
    """Ruby's String#split: trailing empty fields are dropped ("" gives [])."""
    parts = text.split(separator)
    while parts and parts[-1] == "":
        parts.pop()
    return parts


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str
    values: tuple[str, ...]

    def selects(self, labels: dict[str, Any]) -> bool:
        """LabelSelectorQueryGenerator.add_selector_queries: in/equal keep the resources with the key at one of
        the values, notin/not_equal drop exactly those, exists/not_exists test the key alone."""
        if self.operator in ("exists", "not_exists"):
            return (self.key in labels) == (self.operator == "exists")
        hit = self.key in labels and labels[self.key] in self.values
        return hit if self.operator in ("in", "equal") else not hit


def parse(selector: str) -> list[Requirement | None]:
    """The requirements of a selector; None for one no pattern matches."""
    found: list[Requirement | None] = []
    for text in _SPLITTER.findall(selector):
        for pattern, operator in _PATTERNS:
            match = pattern.match(text)
            if match:
                found.append(Requirement(match["key"], operator, tuple(ruby_split(match["values"], ","))))
                break
        else:
            found.append(None)
    return found


def _prefix_and_name(key: str) -> tuple[str | None, str]:
    """MetadataHelpers.extract_prefix."""
    if "/" not in key:
        return None, key
    parts = ruby_split(key, "/")
    return (parts[0] if parts else None), (parts[1] if len(parts) > 1 else "")


def _text_error(text: str) -> str | None:
    if _INVALID_CHAR.search(text):
        return f"'{text}' contains invalid characters"
    if not _ALNUM_START_END.match(text):
        return f"'{text}' starts or ends with invalid characters"
    if len(text) > MAX_NAME:
        return f"'{text[:8]}...' is greater than {MAX_NAME} characters"
    return None


def key_error(key: str) -> str | None:
    """MetadataValidatorHelper#key_error."""
    prefix, name = _prefix_and_name(key)
    if not key.strip():
        return "key cannot be empty string"
    if key.count("/") > 1:
        return "key has more than one '/'"
    if prefix is not None and not _DOMAIN.match(prefix):
        return f"prefix '{prefix}' must be in valid dns format"
    if prefix is not None and len(prefix) > MAX_PREFIX:
        return f"prefix '{prefix[:8]}...' is greater than {MAX_PREFIX} characters"
    if prefix is not None and prefix.lower() == "cloudfoundry.org":
        return "prefix 'cloudfoundry.org' is reserved"
    if not name.strip():
        return "key cannot be empty string"
    return _text_error(name)


def value_error(value: str) -> str | None:
    """MetadataValidatorHelper#value_error: an empty value is fine."""
    return None if value == "" else _text_error(value)


def errors(requirements: list[Requirement | None]) -> list[str]:
    """LabelSelectorRequirementValidator#validate: one message per invalid requirement."""
    if not requirements:
        return [MISSING]
    if len(requirements) > MAX_REQUIREMENTS:
        return [TOO_MANY]
    found = []
    for requirement in requirements:
        if requirement is None:
            found.append(INVALID)
            continue
        problem = key_error(requirement.key) or next(
            (e for e in map(value_error, requirement.values) if e), None)
        if problem:
            found.append(problem)
    return found
