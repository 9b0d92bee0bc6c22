# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL plumbing for the register.dr modules: connections, pg_dump's plain output, and restoring it.

- ``connection``: a target given by a service key's credentials, a DSN or libpq-style options; sessions with a
  lock_timeout and a statement_timeout.
- ``catalog``: what the target holds (application tables, what ``clean`` drops), row counts.
- ``dump``: pg_dump's plain SQL as typed items (``items``), in linear time and bounded memory, checked complete.
- ``expected``: the runbook's expected restore errors as an allow-list that an environment can extend.
- ``engine``: the single-stream restore, like ``psql`` without ON_ERROR_STOP but failing on any error not allowed.
- ``parallel`` (with ``feeds`` and ``rewrite``): the parallel restore.
- ``verify``: row counts after the restore, and tables skipped because of an allowed error.
- ``pgdump``: pg_dump as a stream, with timeouts.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from ansible_collections.register.dr.plugins.module_utils.pg.catalog import (  # noqa: F401
    application_tables,
    clean_database,
    count_rows,
    droppable_objects,
)
from ansible_collections.register.dr.plugins.module_utils.pg.connection import (  # noqa: F401
    LOCK_TIMEOUT,
    STATEMENT_TIMEOUT,
    Connector,
    postgres_argument_spec,
    target_from_params,
    timeout_settings,
)
from ansible_collections.register.dr.plugins.module_utils.pg.dump import (  # noqa: F401
    MAX_SQL_BYTES,
    DumpParser,
    parse_dump,
)
from ansible_collections.register.dr.plugins.module_utils.pg.engine import (  # noqa: F401
    RestoreResult,
    SingleStreamRestore,
)
from ansible_collections.register.dr.plugins.module_utils.pg.errors import (  # noqa: F401
    DumpFormatError,
    DumpIncomplete,
    PgDumpError,
    PostgresConnectError,
    PostgresError,
    TargetNotEmpty,
    UnexpectedSQLError,
    VerificationError,
)
from ansible_collections.register.dr.plugins.module_utils.pg.expected import (  # noqa: F401
    EXPECTED_ERRORS,
    ErrorClassifier,
)
from ansible_collections.register.dr.plugins.module_utils.pg.items import (  # noqa: F401
    CopyData,
    CopyEnd,
    CopyStart,
    Header,
    MetaCommand,
    Statement,
    section_of,
)
from ansible_collections.register.dr.plugins.module_utils.pg.parallel import ParallelRestore
from ansible_collections.register.dr.plugins.module_utils.pg.pgdump import PgDumpRunner  # noqa: F401


def restore(items, connect, classifier, jobs=2, single=False, **options):
    """Runs the chosen engine over the parsed dump ``items``; returns its RestoreResult."""
    if single:
        return SingleStreamRestore(connect, classifier).run(items)
    return ParallelRestore(connect, classifier, jobs=jobs, **options).run(items)
