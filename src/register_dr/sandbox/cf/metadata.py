"""A resource's ``metadata`` (labels and annotations) in a create or update body: its checks and how it changes what
is stored.

cloud_controller_ng: app/messages/validators/metadata_validator.rb (MetadataValidator, the texts, each added to
``metadata`` so the full message starts "Metadata ") with app/messages/metadata_validator_helper.rb (the key and
value rules, shared with the label selector), and app/actions/labels_update.rb / annotations_update.rb (a null value
removes the key, any other value sets it).
"""

from __future__ import annotations

import copy
from typing import Any

from register_dr.sandbox.cf.label_selector import key_error, value_error

MAX_ANNOTATION_VALUE = 5000


def metadata_errors(metadata: Any) -> list[str]:
    """MetadataValidator#validate, as full messages."""
    if not isinstance(metadata, dict):
        return ["Metadata must be an object"]
    found = []
    unexpected = [k for k in metadata if k not in ("labels", "annotations")]
    if unexpected:
        found.append("Metadata has unexpected field(s): " + " ".join(f"'{k}'" for k in unexpected))
    labels, annotations = metadata.get("labels"), metadata.get("annotations")
    if labels is not None:
        if not isinstance(labels, dict):
            found.append("Metadata 'labels' is not an object")
        else:
            for key, value in labels.items():
                problem = key_error(key)
                if problem:
                    found.append(f"Metadata label key error: {problem}")
                problem = value_error("" if value is None else str(value))
                if problem:
                    found.append(f"Metadata label value error: {problem}")
    if annotations is not None:
        if not isinstance(annotations, dict):
            found.append("Metadata 'annotations' is not an object")
        else:
            for key, value in annotations.items():
                problem = key_error(key)
                if value and problem:
                    found.append(f"Metadata annotation key error: {problem}")
                if value is not None and len(str(value)) > MAX_ANNOTATION_VALUE:
                    found.append(f"Metadata annotation value error: '{str(value)[:8]}...' is greater than "
                                 f"{MAX_ANNOTATION_VALUE} characters")
    return found


def merge_metadata(current: dict | None, given: dict | None) -> dict:
    """The stored metadata after a change: null removes a key, any other value sets it."""
    merged = copy.deepcopy(current) if current else {"labels": {}, "annotations": {}}
    for part in ("labels", "annotations"):
        for key, value in ((given or {}).get(part) or {}).items():
            if value is None:
                merged[part].pop(key, None)
            else:
                merged[part][key] = value if part == "annotations" else str(value)
    return merged
