"""Backup benchmark: the review backup (database_backup) against the upstream way, on the same database, same run.

Builds the restore benchmark's register-like database of about ``--size-mb`` of SQL, then measures, ``--repeat``
times each:

  u  upstream: ``pg_dump`` (the review flags) to a file, ``tar -czf``, upload to Azurite
  o  register.dr database_backup: pg_dump streamed through gzip and tar into the block blob, no file

Prints medians, the ratio u/o and the peak RSS of ours (run in a child process), then checks that the archive ours
wrote restores both the upstream way (download, ``tar -xzf``, ``psql``) and with nightly_backup_restore, each into
a new database that then holds the source's data. The machine's load moves every figure; the ratio is of medians
measured in the same run.

    .venv/bin/python bench/backup.py --size-mb 1024 --repeat 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from azure.storage.blob import BlobServiceClient
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "collections"))
sys.path.insert(0, str(REPO / "bench"))

from ansible_collections.register.dr.plugins.module_utils import pg  # noqa: E402
from ansible_collections.register.dr.plugins.module_utils.backups.archives import TarGzBlobWriter  # noqa: E402
from ansible_collections.register.dr.plugins.module_utils.blob.credentials import StorageClients  # noqa: E402
from ansible_collections.register.dr.plugins.module_utils.blob.download import ResumableDownload  # noqa: E402
from ansible_collections.register.dr.plugins.module_utils.pg.from_blob import restore_blob  # noqa: E402
from restore import (  # noqa: E402
    EXTENSIONS,
    bench_world,
    build_source,
    checksums,
    libpq_env,
    new_key,
    prune_archives,
    psql,
)

from register_dr.sandbox.postgres.clusters import ClusterManager  # noqa: E402
from register_dr.sandbox.postgres.pgbin import pg_tool  # noqa: E402

CONTAINER = "pr-77-db-backup"
STEM = "register_pr-77_2026-11-20"
console = Console(stderr=True)


def upstream(creds: dict, work: Path, connection_string: str) -> float:
    """pg_dump to a file, tar -czf, upload: the review backup as the upstream make target does it."""
    started = time.monotonic()
    folder = work / "upstream"
    folder.mkdir(exist_ok=True)
    subprocess.run([pg_tool("pg_dump"), *pg.pgdump.REVIEW_DUMP_FLAGS, "--no-password", "-f", f"{STEM}.sql"],
                   cwd=folder, env=libpq_env(creds), check=True)
    subprocess.run(["tar", "-czf", f"{STEM}.tar.gz", f"{STEM}.sql"], cwd=folder, check=True)
    container = BlobServiceClient.from_connection_string(connection_string).get_container_client(CONTAINER)
    if not container.exists():
        container.create_container()
    with open(folder / f"{STEM}.tar.gz", "rb") as handle:
        container.upload_blob(f"upstream-{STEM}.tar.gz", handle, overwrite=True, max_concurrency=2)
    elapsed = time.monotonic() - started
    for leftover in folder.iterdir():
        leftover.unlink()
    return elapsed


def ours(creds: dict, connection_string: str) -> dict:
    """database_backup's path, in this (child) process: pg_dump -> gzip + tar -> block blob."""
    kwargs = pg.target_from_params({"credentials": creds})[0]
    started = time.monotonic()
    clients = StorageClients({"connection_string": connection_string, "storage_retries": 3})
    container = clients.container(CONTAINER)
    if not container.exists():
        container.create_container()
    runner = pg.PgDumpRunner(pg_tool("pg_dump"))
    writer = TarGzBlobWriter(container.get_blob_client(f"{STEM}.tar.gz"), f"{STEM}.sql")
    for chunk in runner.stream(kwargs):
        writer.write(chunk)
    size = writer.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"seconds": time.monotonic() - started, "peak_rss_mb": usage.ru_maxrss / 1024, "blob_bytes": size,
            "sql_bytes": writer.size, "cpu_seconds": usage.ru_utime + usage.ru_stime}


def in_child(creds: dict, connection_string: str) -> dict:
    payload = json.dumps({"creds": creds, "connection_string": connection_string})
    proc = subprocess.run([sys.executable, __file__, "--child"], input=payload, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"database_backup path failed: {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def restore_upstream_way(creds: dict, work: Path, connection_string: str) -> None:
    folder = work / "check"
    folder.mkdir(exist_ok=True)
    blob = BlobServiceClient.from_connection_string(connection_string).get_blob_client(CONTAINER, f"{STEM}.tar.gz")
    with open(folder / "backup.tar.gz", "wb") as handle:
        blob.download_blob(max_concurrency=2).readinto(handle)
    subprocess.run(["tar", "-xzf", "backup.tar.gz"], cwd=folder, check=True)
    psql(creds, folder / f"{STEM}.sql")
    for leftover in folder.iterdir():
        leftover.unlink()


def restore_our_way(creds: dict, connection_string: str) -> None:
    connect = pg.Connector(pg.target_from_params({"credentials": creds})[0], creds["name"])
    clients = StorageClients({"connection_string": connection_string, "storage_retries": 3})
    restore_blob(ResumableDownload(clients.blob(CONTAINER, f"{STEM}.tar.gz")), connect, pg.ErrorClassifier())


def measure(args: argparse.Namespace, work: Path, clusters: ClusterManager, connection_string: str) -> int:
    with console.status("building the source database"):
        source = build_source(clusters, args.size_mb)
    prune_archives(work / "clusters")
    times: dict[str, list[float]] = {"u": [], "o": []}
    details: dict = {}
    for rep in range(args.repeat):
        for method in ("u", "o"):
            os.sync()
            with console.status(f"run {rep + 1}/{args.repeat}: {method}"):
                if method == "u":
                    seconds = upstream(source, work, connection_string)
                else:
                    details = in_child(source, connection_string)
                    seconds = details["seconds"]
            times[method].append(seconds)
            console.log(f"run {rep + 1} {method}: {seconds:.2f}s")
    medians = {m: statistics.median(v) for m, v in times.items()}
    expected = checksums(source)
    restored = {}
    for way, restore in (("tar -xzf + psql", lambda c: restore_upstream_way(c, work, connection_string)),
                         ("nightly_backup_restore", lambda c: restore_our_way(c, connection_string))):
        cluster = "check-" + way.split()[0].replace("_", "-")
        clusters.create(cluster, dbname="rdsbroker_check", extensions=EXTENSIONS)
        target = new_key(clusters, cluster, "restorer")
        restore(target)
        restored[way] = checksums(target) == expected
        clusters.destroy(cluster)
    table = Table(title=f"Backup of a {details['sql_bytes'] / 1e6:.0f} MB database ({details['blob_bytes'] / 1e6:.0f}"
                        f" MB tar.gz), {args.repeat} runs")
    for column in ("method", "median s", "runs"):
        table.add_column(column)
    table.add_row("u upstream: pg_dump to file, tar -czf, upload", f"{medians['u']:.2f}",
                  " ".join(f"{t:.1f}" for t in times["u"]))
    table.add_row("o database_backup, streamed", f"{medians['o']:.2f}", " ".join(f"{t:.1f}" for t in times["o"]))
    Console().print(table)
    Console().print(f"u/o = {medians['u'] / medians['o']:.2f}; ours: peak RSS {details['peak_rss_mb']:.0f} MB, "
                    f"CPU {details['cpu_seconds']:.1f}s; the archive restores: {restored}")
    report = {"times": times, "medians": medians, "ratio": medians["u"] / medians["o"], "ours": details,
              "restores": restored, "when": dt.datetime.now(dt.UTC).isoformat()}
    (REPO / "artifacts").mkdir(exist_ok=True)
    (REPO / "artifacts" / "bench-backup.json").write_text(json.dumps(report, indent=2))
    return 0 if all(restored.values()) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024, help="SQL size of the database to back up")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each method (medians are reported)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        job = json.loads(sys.stdin.read())
        print(json.dumps(ours(job["creds"], job["connection_string"])))
        return 0
    with bench_world(args.workdir, "register-dr-bench-backup-") as (work, azurite, clusters):
        return measure(args, work, clusters, azurite.connection_string())


if __name__ == "__main__":
    sys.exit(main())
