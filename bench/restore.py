"""Restore benchmark: the upstream way against the streamed and parallel restores of register.dr.

Builds a register-like database (8 tables, text-heavy, one table holding about 40 % of the data, indexes and
foreign keys) of about ``--size-mb`` of SQL, makes a nightly backup exactly as the upstream job does (pg_dump with
its flags, ``tar -czf``, upload to Azurite), then measures, ``--repeat`` times each, in one run:

  a  upstream: download the blob to a file, ``tar -xzf``, ``psql -f`` (no ON_ERROR_STOP)
  b  register.dr single-stream restore, streamed from the blob
  c  register.dr parallel restore, streamed from the blob (the default)
  d  lower bound: ``psql -f`` of the local .sql, nothing to download
  e  register.dr parallel engine fed from the local .sql
  p  the peer a user would pick instead: ``pg_restore -j <jobs>`` of a local directory-format dump of the same
     database (made once, untimed, like d's .sql)

Each restore goes into its own cluster as a service key's user (so the runbook's expected errors occur), and only
that cluster runs while it is measured, as an instance runs alone on the platform. What a restore loaded is dropped
once it is measured (the last one once it is compared), the page cache's dirty pages are flushed and the machine is
left to go quiet before the next, so that no method pays for the autovacuum, writeback or WAL archiving another one
caused; the source is vacuumed once when built, for the same reason. Prints medians and the ratios a/b, b/d, d/c,
a/c, d/e, p/c, peak RSS of the register.dr restores (each runs in a child process), and checks that all the
databases hold identical data, indexes, constraints and sequence values. The machine's load moves every figure; the
ratios are of medians measured in the same run.

It also measures each method's CPU work on the whole machine (/proc/stat: the restore, PostgreSQL, Azurite, tar,
psql), as "busy cores" (work over time) and as a ceiling per ratio: the denominator cannot finish faster than its work
spread over every core, so no restore engine could beat that ceiling on this machine without doing less work.

    .venv/bin/python bench/restore.py --size-mb 1024 --repeat 5
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
from azure.storage.blob import BlobServiceClient
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "collections"))

from ansible_collections.register.dr.plugins.module_utils import pg  # noqa: E402
from ansible_collections.register.dr.plugins.module_utils.blob.credentials import StorageClients  # noqa: E402
from ansible_collections.register.dr.plugins.module_utils.blob.download import ResumableDownload  # noqa: E402
from ansible_collections.register.dr.plugins.module_utils.pg.from_blob import restore_blob  # noqa: E402

from register_dr.sandbox.azurite.process import Azurite, free_port  # noqa: E402
from register_dr.sandbox.postgres.clusters import ClusterManager  # noqa: E402
from register_dr.sandbox.postgres.pgbin import pg_tool  # noqa: E402

EXTENSIONS = ["uuid-ossp", "pgcrypto", "citext", "btree_gist", "btree_gin"]
CONTAINER = "prod-db-backup"
STEM = "register_prod_2026-11-20"
METHODS = {
    "a": "upstream: download, tar -xzf, psql",
    "b": "streamed single-stream",
    "c": "streamed parallel (default)",
    "d": "psql < local .sql (lower bound)",
    "e": "parallel engine, local .sql",
    "p": "pg_restore -j, local directory dump (peer)",
}
console = Console(stderr=True)
PEER_ERRORS: set[str] = set()  # what pg_restore reported, printed with the results

SCHEMA = """
CREATE TABLE providers (id bigserial PRIMARY KEY, code citext NOT NULL UNIQUE, name text NOT NULL,
  address text NOT NULL, created_at timestamptz NOT NULL);
CREATE TABLE courses (id bigserial PRIMARY KEY, provider_id bigint NOT NULL REFERENCES providers (id),
  code text NOT NULL, name text NOT NULL, summary text NOT NULL, starts_on date NOT NULL);
CREATE TABLE users (id bigserial PRIMARY KEY, provider_id bigint REFERENCES providers (id), email citext NOT NULL
  UNIQUE, first_name text NOT NULL, last_name text NOT NULL, created_at timestamptz NOT NULL);
CREATE TABLE trainees (id bigserial PRIMARY KEY, slug uuid NOT NULL UNIQUE, provider_id bigint NOT NULL
  REFERENCES providers (id), course_id bigint REFERENCES courses (id), trn text, first_names text NOT NULL,
  last_name text NOT NULL, email text NOT NULL, state text NOT NULL, progress text NOT NULL, notes text NOT NULL,
  created_at timestamptz NOT NULL);
CREATE TABLE degrees (id bigserial PRIMARY KEY, trainee_id bigint NOT NULL REFERENCES trainees (id),
  subject text NOT NULL, institution text NOT NULL, grade text NOT NULL, graduation_year int NOT NULL);
CREATE TABLE placements (id bigserial PRIMARY KEY, trainee_id bigint NOT NULL REFERENCES trainees (id),
  school_name text NOT NULL, urn text NOT NULL, postcode text NOT NULL, notes text NOT NULL);
CREATE TABLE audits (id bigserial PRIMARY KEY, auditable_type text NOT NULL, auditable_id bigint NOT NULL,
  action text NOT NULL, audited_changes text NOT NULL, request_uuid uuid NOT NULL, created_at timestamptz NOT NULL);
CREATE TABLE dqt_requests (id bigserial PRIMARY KEY, trainee_id bigint NOT NULL REFERENCES trainees (id),
  request_body text NOT NULL, response_body text NOT NULL, state text NOT NULL, created_at timestamptz NOT NULL);
"""
INDEXES = """
CREATE INDEX index_courses_on_provider_id ON courses (provider_id);
CREATE INDEX index_trainees_on_provider_id_and_state ON trainees (provider_id, state);
CREATE INDEX index_trainees_on_last_name ON trainees (last_name);
CREATE INDEX index_trainees_on_course_id ON trainees (course_id);
CREATE INDEX index_degrees_on_trainee_id ON degrees (trainee_id);
CREATE INDEX index_placements_on_trainee_id ON placements (trainee_id);
CREATE INDEX index_audits_on_auditable ON audits (auditable_type, auditable_id);
CREATE INDEX index_audits_on_created_at ON audits (created_at);
CREATE INDEX index_dqt_requests_on_trainee_id ON dqt_requests (trainee_id);
"""
# Rows per MB of SQL, measured on this schema; a trainee row is about 1 kB, so trainees hold about 40 %.
ROWS_PER_MB = {"providers": 3, "courses": 30, "users": 60, "trainees": 650, "degrees": 1100, "placements": 780,
               "audits": 1100, "dqt_requests": 250}
DATA = """
INSERT INTO providers SELECT i, 'P' || lpad(i::text, 6, '0'), 'Provider ' || md5(i::text),
  repeat(md5((i * 7)::text), 3), timestamptz '2020-01-01' + i * interval '1 hour'
  FROM generate_series(1, {providers}) i;
INSERT INTO courses SELECT i, 1 + i % {providers}, 'C' || i, 'Course ' || md5(i::text), repeat(md5((i * 3)::text), 4),
  date '2021-09-01' + (i % 700) FROM generate_series(1, {courses}) i;
INSERT INTO users SELECT i, 1 + i % {providers}, 'user' || i || '@example.org', 'First' || i,
  'Last' || md5(i::text), timestamptz '2021-01-01' + i * interval '1 minute' FROM generate_series(1, {users}) i;
INSERT INTO trainees SELECT i, md5('t' || i)::uuid, 1 + i % {providers}, 1 + i % {courses}, lpad(i::text, 7, '0'),
  'Name ' || substr(md5(i::text), 1, 10), 'Surname' || substr(md5((i * 13)::text), 1, 12), 't' || i || '@example.org',
  (ARRAY['draft', 'submitted_for_trn', 'trn_received', 'recommended_for_award', 'awarded'])[1 + i % 5],
  '{{"personal_details": true, "degrees": ' || (i % 2 = 0) || ', "note": "' || md5((i * 5)::text) || '"}}',
  repeat(md5((i * 17)::text) || ' ', 14), timestamptz '2021-01-01' + i * interval '1 second'
  FROM generate_series(1, {trainees}) i;
INSERT INTO degrees SELECT i, 1 + i % {trainees}, 'Subject ' || (i % 300), 'University ' || md5((i % 900)::text),
  (ARRAY['First-class honours', 'Upper second-class honours', 'Lower second-class honours', 'Third'])[1 + i % 4],
  1990 + i % 33 FROM generate_series(1, {degrees}) i;
INSERT INTO placements SELECT i, 1 + i % {trainees}, 'School ' || md5(i::text), lpad((100000 + i % 90000)::text, 6),
  'SW1A ' || (i % 9) || 'AA', repeat(md5((i * 11)::text), 2) FROM generate_series(1, {placements}) i;
INSERT INTO audits SELECT i, (ARRAY['Trainee', 'Degree', 'Placement'])[1 + i % 3], 1 + i % {trainees},
  (ARRAY['create', 'update', 'destroy'])[1 + i % 3],
  '{{"state": ["draft", "submitted_for_trn"], "note": "' || md5(i::text) || md5((i * 3)::text) || '"}}',
  md5('a' || i)::uuid, timestamptz '2022-06-01' + i * interval '1 second' FROM generate_series(1, {audits}) i;
INSERT INTO dqt_requests SELECT i, 1 + i % {trainees}, repeat(md5((i * 19)::text), 6), repeat(md5((i * 23)::text), 6),
  (ARRAY['ok', 'failed'])[1 + i % 2], timestamptz '2022-01-01' + i * interval '1 second'
  FROM generate_series(1, {dqt_requests}) i;
"""
def run(cmd: list[str], env: dict | None = None) -> None:
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def libpq_env(creds: dict) -> dict:
    return dict(os.environ, PGHOST=creds["host"], PGPORT=str(creds["port"]), PGUSER=creds["username"],
                PGPASSWORD=creds["password"], PGDATABASE=creds["name"])


def uri(creds: dict) -> str:
    return f"postgresql://{creds['username']}:{creds['password']}@{creds['host']}:{creds['port']}/{creds['name']}"


def build_source(clusters: ClusterManager, size_mb: int) -> dict:
    clusters.create("source", dbname="rdsbroker_source", extensions=EXTENSIONS)
    creds = new_key(clusters, "source", "app")
    counts = {table: max(1, per_mb * size_mb) for table, per_mb in ROWS_PER_MB.items()}
    with psycopg.connect(uri(creds), autocommit=True) as conn:
        conn.execute(SCHEMA)
        conn.execute(DATA.format(**counts))
        conn.execute(INDEXES)
        for table in counts:
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {counts[table]})")
        # left to autovacuum, the source's first vacuum (1 GB to scan and freeze) runs during the first restores
        conn.execute("VACUUM (FREEZE, ANALYZE)")
    return creds


def new_key(clusters: ClusterManager, cluster_id: str, user: str) -> dict:
    info = clusters.info(cluster_id)
    password = os.urandom(12).hex()
    clusters.create_login(cluster_id, user, password)
    return {"host": info.host, "port": info.port, "username": user, "password": password, "name": info.dbname}


def directory_dump(creds: dict, work: Path, jobs: int) -> Path:
    """The peer's input: a directory-format dump of the same database, made with the nightly job's flags."""
    folder = work / "directory-dump"
    run([pg_tool("pg_dump"), "-Fd", "-j", str(jobs), "-E", "utf8", "--no-owner", "--no-password", "-f", str(folder)],
        env=libpq_env(creds))
    return folder


def pg_restore(creds: dict, folder: Path, jobs: int) -> float:
    """``pg_restore -j`` as a user would run it into the new instance; the runbook's expected errors (the key user
    owns no extension) make it exit non-zero, so its data is checked afterwards like every other method's."""
    started = time.monotonic()
    proc = subprocess.run([pg_tool("pg_restore"), "-j", str(jobs), "--no-owner", "-d", creds["name"], str(folder)],
                          env=libpq_env(creds), check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    elapsed = time.monotonic() - started
    PEER_ERRORS.update(line.split("ERROR:", 1)[1].strip() for line in proc.stderr.splitlines() if "ERROR:" in line)
    return elapsed


def nightly(creds: dict, work: Path, connection_string: str) -> tuple[Path, int]:
    sql = work / f"{STEM}.sql"
    run([pg_tool("pg_dump"), "-E", "utf8", "--clean", "--if-exists", "--no-owner", "--verbose", "--no-password",
         "-f", str(sql)], env=libpq_env(creds))
    subprocess.run(["tar", "-czf", f"{STEM}.tar.gz", sql.name], cwd=work, check=True)
    archive = work / f"{STEM}.tar.gz"
    service = BlobServiceClient.from_connection_string(connection_string)
    container = service.get_container_client(CONTAINER)
    if not container.exists():
        container.create_container()
    with open(archive, "rb") as handle:
        container.upload_blob(archive.name, handle, overwrite=True, max_concurrency=2)
    size = archive.stat().st_size
    archive.unlink()
    return sql, size


def busy_core_seconds() -> float:
    """CPU time the whole machine spent busy so far (every process: the restore, the server, Azurite, tar, psql),
    from /proc/stat; iowait counts as idle."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_quiet(limit: float = 30.0, threshold: float = 0.15) -> float:
    """Waits until the machine has been nearly idle (under ``threshold`` busy cores) for a second, so that what the
    previous method left running (autovacuum, writeback, the WAL archiver) is not charged to the next; returns the
    seconds waited. On a machine that never goes quiet it gives up after ``limit`` seconds and says so."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = busy_core_seconds()
        time.sleep(1.0)
        if busy_core_seconds() - before < threshold:
            return time.monotonic() - started
    console.log(f"the machine did not go quiet in {limit:.0f}s: something else is running, and every figure of this "
                "run is slowed by it")
    return time.monotonic() - started


def empty(creds: dict) -> None:
    with psycopg.connect(uri(creds), autocommit=True) as conn:
        pg.clean_database(conn)


def prune_archives(clusters_root: Path) -> None:
    """Drops the WAL the benchmark's clusters archived: each 1 GB restore archives about 2 GB, unused here."""
    for segment in clusters_root.glob("*/archive/*"):
        if segment.is_file():
            segment.unlink()


def check_space(work: Path, size_mb: int, methods: str) -> None:
    free_mb = shutil.disk_usage(work).free // (1024 * 1024)
    # the source with its indexes (1.5x), the .sql and its extracted copy (2x), the archives and the directory dump
    # (1x), the targets (1.5x each while --repeat keeps them), the WAL one restore archives before it is pruned (2x)
    needed = size_mb * (6 + len(methods) // 2)
    if free_mb < needed:
        raise SystemExit(f"{work} has {free_mb} MB free; a {size_mb} MB benchmark of {len(methods)} methods needs "
                         f"about {needed} MB: free some space or give --workdir on a larger disk")


def upstream(creds: dict, connection_string: str, work: Path) -> float:
    started = time.monotonic()
    download = work / "download"
    download.mkdir(exist_ok=True)
    blob = BlobServiceClient.from_connection_string(connection_string).get_blob_client(CONTAINER, f"{STEM}.tar.gz")
    with open(download / f"{STEM}.tar.gz", "wb") as handle:
        blob.download_blob(max_concurrency=2).readinto(handle)
    subprocess.run(["tar", "-xzf", f"{STEM}.tar.gz"], cwd=download, check=True)
    psql(creds, download / f"{STEM}.sql")
    elapsed = time.monotonic() - started
    for leftover in download.iterdir():
        leftover.unlink()
    return elapsed


def psql(creds: dict, sql: Path) -> float:
    started = time.monotonic()
    subprocess.run([pg_tool("psql"), "-q", "-f", str(sql)], env=libpq_env(creds), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def child(method: str, creds: dict, connection_string: str, sql: str, jobs: int) -> dict:
    """One register.dr restore, in this (child) process: duration and peak RSS."""
    connect = pg.Connector(pg.target_from_params({"credentials": creds})[0], creds["name"])
    classifier = pg.ErrorClassifier()
    busy = busy_core_seconds()
    started = time.monotonic()
    if method in ("b", "c"):
        clients = StorageClients({"connection_string": connection_string, "storage_retries": 3})
        download = ResumableDownload(clients.blob(CONTAINER, f"{STEM}.tar.gz"))
        result, _facts = restore_blob(download, connect, classifier, jobs=jobs, single=method == "b")
    else:
        def chunks():
            with open(sql, "rb") as handle:
                while block := handle.read(1024 * 1024):
                    yield block
        result = pg.restore(pg.parse_dump(chunks()), connect, classifier, jobs=jobs)
    elapsed = time.monotonic() - started
    busy = busy_core_seconds() - busy
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"seconds": elapsed, "busy_core_seconds": busy, "peak_rss_mb": usage.ru_maxrss / 1024,
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "phases": result.as_dict(classifier)["phases"], "expected_errors": dict(classifier.counts),
            "spilled_mb": result.spilled_bytes / 1024 / 1024, "handed_over_mb": result.handed_over_bytes / 1024 / 1024,
            "retried": result.retries, "parts": result.parts, "guarded": result.guarded}


def in_child(method: str, creds: dict, connection_string: str, sql: Path, jobs: int) -> dict:
    payload = json.dumps({"method": method, "creds": creds, "connection_string": connection_string,
                          "sql": str(sql), "jobs": jobs})
    proc = subprocess.run([sys.executable, __file__, "--child"], input=payload, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"restore {method} failed: {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def checksums(creds: dict) -> dict[str, tuple]:
    """Rows and an md5 over the md5 of each row in id order, per table (bounded memory on the server)."""
    with psycopg.connect(uri(creds)) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").fetchall()]
        return {t: conn.execute(f"SELECT count(*), md5(string_agg(md5(x::text), '' ORDER BY x.id)) FROM {t} x")
                .fetchone() for t in tables}


def shape(creds: dict) -> tuple:
    with psycopg.connect(uri(creds)) as conn:
        return tuple(conn.execute(query).fetchall() for query in (
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
            "SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint "
            "WHERE connamespace = 'public'::regnamespace ORDER BY 1",
            "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1",
        ))


@contextlib.contextmanager
def bench_world(workdir: Path, prefix: str) -> Iterator[tuple[Path, Azurite, ClusterManager]]:
    """A work folder (reachable by the clusters' user), an Azurite and a cluster manager; all removed at the end."""
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=workdir))
    for parent in [work, *work.parents]:
        if parent != Path("/"):
            parent.chmod(parent.stat().st_mode | 0o011)
    azurite = Azurite(binary=REPO / "node_modules/.bin/azurite-blob", location=work / "azurite", port=free_port())
    clusters = ClusterManager(work / "clusters")
    try:
        azurite.start()
        yield work, azurite, clusters
    finally:
        clusters.stop_all()
        azurite.stop()
        subprocess.run(["rm", "-rf", str(work)], check=False)


def prepare(args: argparse.Namespace, work: Path, clusters: ClusterManager, connection_string: str) -> dict:
    """The source database, its nightly backup (and directory dump), and one target per method."""
    with console.status("building the source database"):
        started = time.monotonic()
        source = build_source(clusters, args.size_mb)
        console.log(f"source built in {time.monotonic() - started:.1f}s")
    with console.status("nightly backup: pg_dump, tar -czf, upload"):
        sql, blob_size = nightly(source, work, connection_string)
    folder = directory_dump(source, work, args.jobs) if "p" in args.methods else None
    prune_archives(work / "clusters")
    expected = (checksums(source), shape(source))
    clusters.stop("source")  # the restores are compared with what was just read; see run_methods
    console.log(f"dump {sql.stat().st_size / 1e6:.0f} MB of SQL, archive {blob_size / 1e6:.0f} MB")
    return {"source": source, "sql": sql, "blob_size": blob_size, "folder": folder, "targets": {},
            "expected": expected, "same_data": {}, "same_shape": {}}


def target(clusters: ClusterManager, setup: dict, method: str) -> dict:
    """The method's target database, made at its first run and started for each; ``compare`` destroys it after its
    last."""
    if method not in setup["targets"]:
        clusters.create(f"target-{method}", dbname=f"rdsbroker_target_{method}", extensions=EXTENSIONS)
        setup["targets"][method] = new_key(clusters, f"target-{method}", f"restorer_{method}")
    clusters.start(f"target-{method}")
    return setup["targets"][method]


def compare(clusters: ClusterManager, setup: dict, method: str) -> None:
    """Compares the method's database with the source, then destroys it."""
    creds = setup["targets"].pop(method)
    setup["same_data"][method] = checksums(creds) == setup["expected"][0]
    setup["same_shape"][method] = shape(creds) == setup["expected"][1]
    clusters.destroy(f"target-{method}")


def run_methods(args: argparse.Namespace, work: Path, clusters: ClusterManager, setup: dict,
                connection_string: str) -> tuple[dict, dict, dict]:
    """Each method ``--repeat`` times, interleaved: (seconds per method, the machine's busy core-seconds per
    method, the child's details of the last run)."""
    times: dict[str, list[float]] = {m: [] for m in args.methods}
    busy: dict[str, list[float]] = {m: [] for m in args.methods}
    details: dict[str, dict] = {}
    for rep in range(args.repeat):
        for method in args.methods:
            creds = target(clusters, setup, method)
            empty(creds)
            # every method starts with no dirty pages waiting for writeback: one restore writes about 5 GB
            # (heap, WAL and its archive), which otherwise slows whichever method runs next
            os.sync()
            waited = wait_quiet()
            before = busy_core_seconds()
            with console.status(f"run {rep + 1}/{args.repeat}: {METHODS[method]}"):
                if method == "a":
                    seconds = upstream(creds, connection_string, work)
                elif method == "d":
                    seconds = psql(creds, setup["sql"])
                elif method == "p":
                    seconds = pg_restore(creds, setup["folder"], args.jobs)
                else:
                    details[method] = in_child(method, creds, connection_string, setup["sql"], args.jobs)
                    seconds = details[method]["seconds"]
            times[method].append(seconds)
            # a register.dr restore measures its own span, without the child's start-up
            busy[method].append(details[method]["busy_core_seconds"] if method in details
                                else busy_core_seconds() - before)
            console.log(f"run {rep + 1} {method} {METHODS[method]}: {seconds:.2f}s, "
                        f"machine busy {busy[method][-1]:.1f} core-seconds (after {waited:.0f}s waiting for quiet)")
            if rep == args.repeat - 1:
                compare(clusters, setup, method)
            else:
                empty(creds)  # nothing left for autovacuum to work on while the next method runs
                # only the measured method's instance runs, as on the platform: an idle cluster's autovacuum
                # launcher, stats collector and archiver would otherwise charge their work to whichever method runs
                clusters.stop(f"target-{method}")
            prune_archives(work / "clusters")
    return times, busy, details


def report(args: argparse.Namespace, setup: dict, times: dict, busy: dict, details: dict) -> int:
    medians = {m: statistics.median(v) for m, v in times.items()}
    same_data, same_shape = setup["same_data"], setup["same_shape"]
    sql_size, blob_size = setup["sql"].stat().st_size, setup["blob_size"]
    table = Table(title=f"Restore of a {sql_size / 1e6:.0f} MB dump ({blob_size / 1e6:.0f} MB tar.gz), "
                        f"{args.repeat} runs, jobs={args.jobs}")
    for column in ("", "method", "median s", "runs", "busy cores", "peak RSS MB", "same data", "same shape"):
        table.add_column(column)
    for method in args.methods:
        rss = f"{details[method]['peak_rss_mb']:.0f}" if method in details else "-"
        table.add_row(method, METHODS[method], f"{medians[method]:.2f}",
                      " ".join(f"{t:.1f}" for t in times[method]),
                      f"{statistics.median(b / t for b, t in zip(busy[method], times[method], strict=True)):.2f}", rss,
                      str(same_data[method]),
                      str(same_shape[method]))
    Console().print(table)
    ratios, ceilings = {}, {}
    cores = os.cpu_count() or 1
    work = {m: statistics.median(v) for m, v in busy.items()}
    for top, bottom in (("a", "b"), ("b", "d"), ("d", "c"), ("a", "c"), ("d", "e"), ("p", "c")):
        if top in medians and bottom in medians:
            ratios[f"{top}/{bottom}"] = medians[top] / medians[bottom]
            # the bottom method cannot take less than its CPU work spread over every core
            ceilings[f"{top}/{bottom}"] = medians[top] / (work[bottom] / cores)
    Console().print("ratios: " + ", ".join(f"{k} = {v:.2f}" for k, v in ratios.items()))
    Console().print(f"ceilings on {cores} cores (the denominator's machine-wide CPU work spread over every core): "
                    + ", ".join(f"{k} <= {v:.2f}" for k, v in ceilings.items()))
    Console().print("machine-wide CPU work, core-seconds: "
                    + ", ".join(f"{m} {w:.1f}" for m, w in work.items()))
    Console().print(f"the source's data in all databases: {all(same_data.values())}; its indexes, constraints and "
                    f"sequences: {all(same_shape.values())}")
    if PEER_ERRORS:
        Console().print("pg_restore's errors: " + "; ".join(sorted(PEER_ERRORS)))
    for method, info in details.items():
        Console().print(f"{method}: phases {info['phases']}, spilled {info['spilled_mb']:.0f} MB, "
                        f"restore process CPU {info['cpu_seconds']:.1f}s, retried statements {info['retried']}, "
                        f"tables' extra parts {info.get('parts', 0)} ({info.get('handed_over_mb', 0):.0f} MB handed "
                        f"from first parts to the next), tables kept from autovacuum {info.get('guarded', 0)}, "
                        f"expected errors {sum(info['expected_errors'].values())}")
    result = {"sql_bytes": sql_size, "blob_bytes": blob_size, "jobs": args.jobs, "times": times, "busy": busy,
              "medians": medians, "ratios": ratios, "ceilings": ceilings, "same_data": same_data,
              "same_shape": same_shape,
              "details": details}
    (REPO / "artifacts").mkdir(exist_ok=True)
    (REPO / "artifacts" / f"bench-restore-{args.size_mb}.json").write_text(json.dumps(result, indent=2))
    # the peer's shape is reported, not required: pg_restore -j deadlocks with the broker's event triggers
    return 0 if all(same_data[m] and same_shape[m] for m in args.methods if m != "p") else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024, help="SQL size of the dump to build (default 1024)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each method (medians are reported)")
    parser.add_argument("--jobs", type=int, default=max(2, os.cpu_count() or 2))
    parser.add_argument("--methods", default="abcdep")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()),
                        help="where clusters, Azurite and the dump live (needs about 8x --size-mb free)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        job = json.loads(sys.stdin.read())
        print(json.dumps(child(job["method"], job["creds"], job["connection_string"], job["sql"], job["jobs"])))
        return 0
    with bench_world(args.workdir, "register-dr-bench-") as (work, azurite, clusters):
        check_space(work, args.size_mb, args.methods)
        setup = prepare(args, work, clusters, azurite.connection_string())
        times, busy, details = run_methods(args, work, clusters, setup, azurite.connection_string())
        return report(args, setup, times, busy, details)


if __name__ == "__main__":
    sys.exit(main())
