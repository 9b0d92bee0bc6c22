# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT), compatible with the
# GNU General Public License v3.0+ that ansible-core is released under.
"""A blob's bytes as ranged GETs that resume where a broken connection stopped."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

try:
    from azure.core import MatchConditions
    from azure.core.exceptions import ResourceModifiedError
except ImportError:  # pragma: no cover - reported through missing_required_lib by credentials
    MatchConditions = None
    ResourceModifiedError = Exception

from ansible_collections.register.dr.plugins.module_utils.blob.errors import (
    AzureBlobChanged,
    AzureRequestError,
    is_transient,
    redact,
)

# Bytes per ranged GET. With 4 MB, Azurite spent three times the CPU serving a download; a broken GET resumes at the
# start of its range.
CHUNK_SIZE = 8 * 1024 * 1024


class ResumableDownload(object):
    """The bytes of one blob as an iterator; a broken connection re-requests the range from the byte it reached.

    The blob's ETag is pinned on the first request, so a blob replaced during the download is an error rather than a
    silent mix of two versions.
    """

    def __init__(self, blob_client, max_resumes=5, backoff=1.0, sleep=time.sleep, describe=None):
        self.blob = blob_client
        self.max_resumes = max_resumes
        self.backoff = backoff
        self.sleep = sleep
        self.describe = describe or "%s/%s" % (getattr(blob_client, "container_name", "?"),
                                               getattr(blob_client, "blob_name", "?"))
        self.position = 0
        self.resumes = 0
        self.size = None
        self.etag = None
        self.resumed_at = []

    def open(self):
        if self.size is None:
            props = self.blob.get_blob_properties()
            self.size = int(props.size)
            self.etag = props.etag
        return self

    def __iter__(self):
        self.open()
        failures = 0
        while self.position < self.size:
            try:
                stream = self.blob.download_blob(offset=self.position, length=self.size - self.position,
                                                 etag=self.etag, match_condition=MatchConditions.IfNotModified)
                for chunk in stream.chunks():
                    if chunk:
                        self.position += len(chunk)
                        failures = 0
                        yield chunk
            except Exception as exc:  # the SDK raises several transport types; transient ones resume
                failures += 1
                self._resume_or_raise(exc, failures)

    def _resume_or_raise(self, exc, failures):
        if isinstance(exc, ResourceModifiedError):
            raise AzureBlobChanged(
                "Blob %s changed while it was downloaded (at byte %d of %d); run the task again to read the new "
                "version." % (self.describe, self.position, self.size))
        if not is_transient(exc):
            raise exc
        if failures > self.max_resumes:
            raise AzureRequestError(
                "Download of %s broke at byte %d of %d and did not resume after %d attempts: %s. Check the network "
                "and the storage service, then run the task again." % (
                    self.describe, self.position, self.size, self.max_resumes, redact(exc).splitlines()[0]),
                position=self.position, size=self.size)
        self.resumes += 1
        self.resumed_at.append(self.position)
        self.sleep(self.backoff * failures)
