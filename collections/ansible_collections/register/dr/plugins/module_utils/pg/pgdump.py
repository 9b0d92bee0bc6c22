# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_dump as a stream of its plain output, with a bound on how long it may wait for a lock and run."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import os
import subprocess
import tempfile
import threading
import time

from ansible_collections.register.dr.plugins.module_utils.pg.errors import PgDumpError

MB = 1024 * 1024
REVIEW_DUMP_FLAGS = ("--encoding", "utf8", "--clean", "--no-owner", "--if-exists")
# pg_dump takes a share lock on every table first: behind a session holding an exclusive lock it would wait forever.
DUMP_LOCK_TIMEOUT = 60
DUMP_TIMEOUT = 3600


class PgDumpRunner(object):
    """Runs pg_dump and yields its stdout as it comes. The password goes through the environment only.

    ``lock_timeout`` (seconds) becomes pg_dump's ``--lock-wait-timeout``; ``timeout`` (seconds) ends a pg_dump that
    has not finished by then. 0 or None switches either off.
    """

    def __init__(self, binary, chunk_size=MB, lock_timeout=DUMP_LOCK_TIMEOUT, timeout=DUMP_TIMEOUT):
        self.binary = binary
        self.chunk_size = chunk_size
        self.lock_timeout = lock_timeout
        self.timeout = timeout
        self.stderr = b""
        self.command = None
        self.timed_out = False

    def _environment(self, connect_kwargs):
        env = dict(os.environ)
        mapping = (("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER"), ("password", "PGPASSWORD"),
                   ("dbname", "PGDATABASE"), ("sslmode", "PGSSLMODE"), ("connect_timeout", "PGCONNECT_TIMEOUT"))
        for key, variable in mapping:
            if connect_kwargs.get(key) not in (None, ""):
                env[variable] = str(connect_kwargs[key])
        return env

    def _watch(self, process):
        """Kills ``process`` once ``timeout`` has passed; returns the timer (cancel it when pg_dump ends)."""
        def expire():
            if process.poll() is None:
                self.timed_out = True
                process.kill()

        timer = threading.Timer(float(self.timeout), expire)
        timer.daemon = True
        if self.timeout:
            timer.start()
        return timer

    def stream(self, connect_kwargs, flags=REVIEW_DUMP_FLAGS):
        self.command = [self.binary] + list(flags) + ["--no-password"]
        if self.lock_timeout:
            self.command.append("--lock-wait-timeout=%d" % int(float(self.lock_timeout) * 1000))
        started = time.monotonic()
        with tempfile.TemporaryFile() as errors:
            process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=errors,
                                       env=self._environment(connect_kwargs))
            timer = self._watch(process)
            try:
                while True:
                    chunk = process.stdout.read(self.chunk_size)
                    if not chunk:
                        break
                    yield chunk
            finally:
                process.stdout.close()  # a consumer that stopped early ends pg_dump with SIGPIPE
                code = process.wait()
                timer.cancel()
                errors.seek(0)
                self.stderr = errors.read()[-4000:]
        if self.timed_out:
            raise PgDumpError("pg_dump did not finish within %d s (timeout) and was stopped after %.0f s; nothing was "
                              "kept. Raise timeout for a database this large, or look for what slowed it (a lock, "
                              "the network)." % (self.timeout, time.monotonic() - started), rc=code)
        if code != 0:
            text = self.stderr.decode("utf-8", "replace").strip()
            if connect_kwargs.get("password"):
                text = text.replace(str(connect_kwargs["password"]), "***")
            hint = ""
            # pg_dump's --lock-wait-timeout ends the wait as a statement timeout of its LOCK TABLE
            if "could not obtain lock" in text or ("LOCK TABLE" in text and "statement timeout" in text):
                hint = (" Another session holds a lock on a table (a migration, a long transaction): end it, or "
                        "raise lock_timeout.")
            raise PgDumpError("pg_dump exited with code %d: %s%s" % (code, text[-1000:], hint), rc=code)
