"""A register-like dataset: the shape of the Register trainee teachers schema, with deterministic data.

``seed`` runs as a service key's user, as the application's migrations do, so every object ends up owned by the
broker's manager role. The schema uses uuid-ossp, pgcrypto, citext, btree_gist and btree_gin, which the broker's
administrator creates (``enable_extensions``). Every value is derived from the row number, so two seeds of the same
scale hold the same rows. ``table_checksums`` is what drills and tests compare after a restore.
"""

from __future__ import annotations

from collections.abc import Mapping

import psycopg
from psycopg import sql

from register_dr.sandbox.postgres.pgbin import conninfo_params

EXTENSIONS = ("uuid-ossp", "pgcrypto", "citext", "btree_gist", "btree_gin")

SCHEMA = """
CREATE TABLE providers (
  id bigserial PRIMARY KEY,
  uuid uuid NOT NULL DEFAULT uuid_generate_v4() UNIQUE,
  code citext NOT NULL UNIQUE,
  name text NOT NULL,
  accredited boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE users (
  id bigserial PRIMARY KEY,
  provider_id bigint REFERENCES providers (id),
  email citext NOT NULL UNIQUE,
  first_name text NOT NULL,
  last_name text NOT NULL,
  dttp_id uuid DEFAULT gen_random_uuid(),
  api_token_digest bytea,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE courses (
  id bigserial PRIMARY KEY,
  provider_id bigint NOT NULL REFERENCES providers (id),
  code text NOT NULL,
  name text NOT NULL,
  route text NOT NULL,
  level text NOT NULL,
  recruitment_cycle_year integer NOT NULL,
  starts_on date NOT NULL,
  ends_on date NOT NULL,
  EXCLUDE USING gist (provider_id WITH =, code WITH =, daterange(starts_on, ends_on) WITH &&)
);
CREATE TABLE trainees (
  id bigserial PRIMARY KEY,
  slug text NOT NULL UNIQUE,
  provider_id bigint NOT NULL REFERENCES providers (id),
  course_id bigint REFERENCES courses (id),
  trn text,
  first_names text NOT NULL,
  last_name text NOT NULL,
  date_of_birth date NOT NULL,
  email citext,
  state text NOT NULL,
  progress jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX index_trainees_on_provider_state ON trainees USING gin (provider_id, state);
CREATE INDEX index_trainees_on_progress ON trainees USING gin (progress);
CREATE INDEX index_trainees_on_last_name ON trainees (last_name);
CREATE TABLE degrees (
  id bigserial PRIMARY KEY,
  trainee_id bigint NOT NULL REFERENCES trainees (id) ON DELETE CASCADE,
  subject text NOT NULL,
  institution text NOT NULL,
  grade text NOT NULL,
  graduation_year integer NOT NULL
);
CREATE INDEX index_degrees_on_trainee_id ON degrees (trainee_id);
CREATE TABLE placements (
  id bigserial PRIMARY KEY,
  trainee_id bigint NOT NULL REFERENCES trainees (id) ON DELETE CASCADE,
  school_name text NOT NULL,
  urn text NOT NULL,
  postcode text NOT NULL
);
CREATE INDEX index_placements_on_trainee_id ON placements (trainee_id);
CREATE TABLE audits (
  id bigserial PRIMARY KEY,
  auditable_type text NOT NULL,
  auditable_id bigint NOT NULL,
  action text NOT NULL,
  audited_changes jsonb NOT NULL,
  remote_address inet,
  request_uuid uuid NOT NULL DEFAULT uuid_generate_v4(),
  created_at timestamptz NOT NULL
);
CREATE INDEX index_audits_on_auditable ON audits (auditable_type, auditable_id);
CREATE VIEW active_trainees AS
  SELECT t.id, t.slug, t.first_names, t.last_name, p.name AS provider_name
  FROM trainees t JOIN providers p ON p.id = t.provider_id
  WHERE t.state NOT IN ('withdrawn', 'awarded');
"""

# Rows per unit of scale; everything is generated server-side from these counts, deterministically.
ROWS = {"providers": 40, "users": 400, "courses": 400, "trainees": 4000, "degrees": 4000, "placements": 6000,
        "audits": 16000}

DATA = """
INSERT INTO providers (uuid, code, name, accredited, created_at)
  SELECT md5('provider' || i)::uuid, 'P' || lpad(i::text, 4, '0'),
         'Provider ' || i || ' School Centred Initial Teacher Training', i % 7 <> 0,
         timestamptz '2020-01-01 00:00:00+00' + i * interval '1 day'
  FROM generate_series(1, {providers}) i;
INSERT INTO users (provider_id, email, first_name, last_name, dttp_id, api_token_digest, created_at)
  SELECT 1 + i % {providers}, 'user' || i || '@Example.org', 'First' || i, 'Last' || i, md5('dttp' || i)::uuid,
         digest('token' || i, 'sha256'),
         timestamptz '2021-01-01 00:00:00+00' + i * interval '1 hour'
  FROM generate_series(1, {users}) i;
INSERT INTO courses (provider_id, code, name, route, level, recruitment_cycle_year, starts_on, ends_on)
  SELECT 1 + i % {providers}, 'C' || i,
         'Course ' || i || ' ' || (ARRAY['Mathematics','English','Physics','History'])[1 + i % 4],
         (ARRAY['provider_led_postgrad','school_direct_salaried','pg_teaching_apprenticeship'])[1 + i % 3],
         (ARRAY['primary','secondary'])[1 + i % 2], 2022 + i % 4,
         date '2022-09-01' + (i % 4) * 365, date '2023-07-31' + (i % 4) * 365
  FROM generate_series(1, {courses}) i;
INSERT INTO trainees (slug, provider_id, course_id, trn, first_names, last_name, date_of_birth, email, state,
                      progress, created_at, updated_at)
  SELECT md5('trainee' || i), 1 + i % {providers}, 1 + i % {courses}, lpad((1000000 + i)::text, 7, '0'),
         'Trainee ' || i, 'Surname' || (i % 997), date '1990-01-01' + (i % 3650),
         'trainee' || i || '@example.org',
         (ARRAY['draft','submitted_for_trn','trn_received','recommended_for_award','awarded','withdrawn'])[1 + i % 6],
         jsonb_build_object('personal_details', i % 2 = 0, 'degrees', i % 3 = 0, 'notes', repeat('n', i % 50)),
         timestamptz '2022-01-01 00:00:00+00' + i * interval '10 minutes',
         timestamptz '2022-01-01 00:00:00+00' + i * interval '11 minutes'
  FROM generate_series(1, {trainees}) i;
INSERT INTO degrees (trainee_id, subject, institution, grade, graduation_year)
  SELECT 1 + i % {trainees}, 'Subject ' || (i % 120), 'University ' || (i % 80),
         (ARRAY['First-class honours','Upper second-class honours','Lower second-class honours'])[1 + i % 3],
         2000 + i % 22
  FROM generate_series(1, {degrees}) i;
INSERT INTO placements (trainee_id, school_name, urn, postcode)
  SELECT 1 + i % {trainees}, 'School ' || (i % 500), (100000 + i % 500)::text,
         'AB' || (i % 90) || ' ' || (i % 9) || 'CD'
  FROM generate_series(1, {placements}) i;
INSERT INTO audits (auditable_type, auditable_id, action, audited_changes, remote_address, request_uuid,
                    created_at)
  SELECT (ARRAY['Trainee','Degree','Placement'])[1 + i % 3], 1 + i % {trainees},
         (ARRAY['create','update','destroy'])[1 + i % 3],
         jsonb_build_object('state', jsonb_build_array('draft', 'submitted_for_trn'), 'note', md5(i::text)),
         ('10.0.' || (i % 250) || '.' || (i % 200))::inet, md5('request' || (i / 3))::uuid,
         timestamptz '2022-06-01 00:00:00+00' + i * interval '1 minute'
  FROM generate_series(1, {audits}) i;
"""


def row_counts(scale: int = 1) -> dict[str, int]:
    if scale < 1:
        raise ValueError(f"scale must be 1 or more, got {scale}")
    return {table: count * scale for table, count in ROWS.items()}


def _connect(conninfo: Mapping[str, object] | str, autocommit: bool = False) -> psycopg.Connection:
    return psycopg.connect(**conninfo_params(conninfo), autocommit=autocommit, connect_timeout=10)


def seed(conninfo: Mapping[str, object] | str, *, scale: int = 1) -> dict[str, int]:
    """Create the schema and load the data in one transaction; returns rows per table."""
    counts = row_counts(scale)
    with _connect(conninfo) as conn:
        conn.execute(SCHEMA)
        conn.execute(DATA.format(**counts))
    return counts


def application_tables(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def table_checksums(conninfo: Mapping[str, object] | str) -> dict[str, tuple[int, str]]:
    """Row count and an md5 over the rows in primary key order, per table of the public schema."""
    result: dict[str, tuple[int, str]] = {}
    with _connect(conninfo, autocommit=True) as conn:
        for table in application_tables(conn):
            query = sql.SQL(
                "SELECT count(*), coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t.id)), '') FROM {} t"
            ).format(sql.Identifier(table))
            count, digest = conn.execute(query).fetchone()  # type: ignore[misc]
            result[table] = (int(count), str(digest))
    return result
