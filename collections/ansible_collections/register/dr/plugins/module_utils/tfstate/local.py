# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A local state file, locked as Terraform's local backend locks it, written atomically.

Terraform's local backend holds a POSIX write lock (fcntl) on the state file itself and writes its lock info to
``.<name>.lock.info`` beside it (hashicorp/terraform internal/states/statemgr/filesystem.go and
filesystem_lock_unix.go). Terraform writes the file in place; here a write goes to a temporary file in the same
folder, is flushed to disk and renamed over the state, so a crash leaves either the old or the new state, never a
truncated one. The new file is locked before the rename, so the lock covers whichever file the path names.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import errno
import fcntl
import json
import os
import stat
import tempfile
import time

from ansible_collections.register.dr.plugins.module_utils.tfstate.errors import StateError, StateLocked
from ansible_collections.register.dr.plugins.module_utils.tfstate.lock import describe_lock, new_lock_info


def write_atomically(path, data, mode=0o644, keep_open=False):
    """Write ``data`` to ``path`` through a temporary file and a rename; the folder entry is flushed too.

    With ``keep_open``, the new file's descriptor is returned, write-locked, before the rename makes it visible."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, stat.S_IMODE(mode))
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        if keep_open:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.replace(tmp, path)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    _fsync_directory(directory)
    if keep_open:
        return fd
    os.close(fd)
    return None


def _fsync_directory(directory):
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


class LocalBackend(object):
    """A local state file, locked as Terraform's local backend locks it."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.backup_path = self.path + ".backup"
        directory, name = os.path.split(self.path)
        self.lock_info_path = os.path.join(directory, ".%s.lock.info" % name)
        self.location = self.path
        self._fds = []
        self.lock_info = None
        self.lease_lost = False

    def exists(self):
        return os.path.exists(self.path)

    def _missing(self):
        return StateError("There is no Terraform state at %s. Check the path; nothing was changed." % self.path)

    def lock(self, operation, force_unlock=None, timeout=0, sleep=time.sleep):
        if force_unlock:
            raise StateError(
                "A local state cannot be force-unlocked: its lock goes when the process holding it ends. "
                "Find that process (%s) and let it finish or stop it." % describe_lock(self.read_lock_info()))
        if not self.exists():
            raise self._missing()
        fd = os.open(self.path, os.O_RDWR)
        deadline = time.time() + max(0, timeout)
        while True:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except (IOError, OSError) as exc:
                if exc.errno not in (errno.EACCES, errno.EAGAIN) or time.time() >= deadline:
                    os.close(fd)
                    if exc.errno not in (errno.EACCES, errno.EAGAIN):
                        raise
                    holder = self.read_lock_info()
                    raise StateLocked(
                        "The state %s is locked: %s. Nothing was changed. Wait for that run to finish and try again."
                        % (self.path, describe_lock(holder)), lock=holder)
                sleep(1)
        self._fds.append(fd)
        self.lock_info = new_lock_info(operation, self.path)
        write_atomically(self.lock_info_path, json.dumps(self.lock_info).encode("utf-8"))
        return self.lock_info["ID"]

    def read_lock_info(self):
        try:
            with open(self.lock_info_path) as handle:
                return json.load(handle)
        except (IOError, OSError, ValueError):
            return None

    def holder(self):
        """The lock info of whoever holds the state's lock now, or None; nothing is written to find out."""
        if not self.exists():
            raise self._missing()
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (IOError, OSError) as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN):
                raise
            return self.read_lock_info() or {"ID": None, "Info": "locked without lock info"}
        finally:
            os.close(fd)
        return None

    def read(self):
        """The state file's bytes (and no ETag: the lock alone guards a local state)."""
        if not self.exists():
            raise self._missing()
        with open(self.path, "rb") as handle:
            return handle.read(), None

    def write(self, data, etag=None, backup=True):
        previous = self.read()[0]
        mode = os.stat(self.path).st_mode
        backup_location = None
        if backup:
            write_atomically(self.backup_path, previous, mode)
            backup_location = self.backup_path
        # The new file is locked before it replaces the old one; both locks go at unlock.
        self._fds.append(write_atomically(self.path, data, mode, keep_open=True))
        return backup_location

    def unlock(self):
        if not self._fds:
            return
        with contextlib.suppress(OSError):
            os.remove(self.lock_info_path)
        fds, self._fds = self._fds, []
        for fd in fds:
            with contextlib.suppress(OSError):
                fcntl.lockf(fd, fcntl.LOCK_UN)
            os.close(fd)
