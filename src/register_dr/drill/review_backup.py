"""Review backup: review_backup.yml streams pg_dump of a review app's database into its backup container; the blob
is read back from Azurite and its rows counted against the database's."""

from __future__ import annotations

import io
import re
import tarfile

from azure.storage.blob import BlobServiceClient

from register_dr.drill.common import stamp, utc_now
from register_dr.drill.context import DrillContext, data_step
from register_dr.sandbox.lifecycle.control import Endpoints, connection_string
from register_dr.sandbox.lifecycle.secrets import SandboxSecrets

COPY = re.compile(rb"^COPY public\.(\w+) \(")


def dumped_rows(sql: bytes) -> dict[str, int]:
    """Rows per table of a plain dump: the data lines between each ``COPY public.<table> (...) FROM stdin;`` and
    its ``\\.``."""
    counts: dict[str, int] = {}
    table: str | None = None
    for line in sql.split(b"\n"):
        if table is None:
            match = COPY.match(line)
            if match:
                table = match.group(1).decode()
                counts[table] = 0
        elif line == b"\\.":
            table = None
        else:
            counts[table] += 1
    return counts


def drill(ctx: DrillContext) -> None:
    env = ctx.platform.env
    expected = {table: count for table, (count, _digest) in data_step(ctx, markers=True).items()}
    started = utc_now()
    ctx.report.disaster_at = stamp(started)
    date = started.date().isoformat()
    ctx.recover("review_backup", backup_date=date, overwrite=True, incident_started_at=stamp(started))
    with ctx.step("verification: the blob in Azurite") as step:
        storage = BlobServiceClient.from_connection_string(
            connection_string(Endpoints.load(ctx.settings), SandboxSecrets.load(ctx.settings)))
        name = f"{env.backup_prefix}{date}.tar.gz"
        blob = storage.get_blob_client(str(env.backup_container), name)
        written = blob.get_blob_properties().last_modified
        with tarfile.open(fileobj=io.BytesIO(blob.download_blob().readall()), mode="r:gz") as tar:
            members = tar.getnames()
            sql = tar.extractfile(members[0]).read() if members else b""  # type: ignore[union-attr]
        step.detail = f"{env.backup_container}/{name}: {members}, {len(sql):,} bytes of SQL"
        ctx.verify("the backup blob was written by this run", written >= started.replace(microsecond=0),
                   f"{env.backup_container}/{name} last modified {written:%Y-%m-%d %H:%M:%S} UTC, run started "
                   f"{started:%H:%M:%S}")
        ctx.verify("one SQL member named after the blob", members == [name.removesuffix(".tar.gz") + ".sql"],
                   ", ".join(members) or "empty archive")
        found = dumped_rows(sql)
        ctx.verify("every table's rows are in the dump", found == expected,
                   f"{sum(found.values()):,} rows in {len(found)} tables"
                   + ("" if found == expected else f"; database has {expected}, dump has {found}"))
        flags = b"DROP TABLE IF EXISTS public.trainees;" in sql and b"OWNER TO" not in sql
        ctx.verify("dumped with --clean --if-exists --no-owner", flags,
                   "DROP ... IF EXISTS present, no OWNER TO" if flags else "the dump's flags differ")
    ctx.report.rpo_seconds = 0.0
