"""A database holding every object kind pg_dump (13 and later) writes in a plain dump, and a snapshot of it, object
by object, to compare a restore with its source."""

from __future__ import annotations

import psycopg

READER = "shapes_reader"  # a role of both clusters, to grant to: roles are not in a database's dump

CORPUS = r'''
CREATE SCHEMA app;
CREATE SCHEMA "Odd Schema";
COMMENT ON SCHEMA app IS 'the application''s schema';
CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN app.positive AS integer CONSTRAINT positive_check CHECK (VALUE > 0);
CREATE TYPE app.address AS (street text, "zip code" text);
CREATE TYPE app.floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
COMMENT ON TYPE app.mood IS 'how a person feels';
CREATE SEQUENCE app.unused_seq;
CREATE SEQUENCE app.used_seq;
SELECT nextval('app.used_seq') FROM generate_series(1, 3);

CREATE TABLE app.people (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  "full name)" text NOT NULL,
  "semi;colon" text UNIQUE,
  "Quote""d" text,
  mood app.mood NOT NULL DEFAULT 'ok',
  age app.positive,
  home app.address,
  span app.floatrange,
  name_upper text GENERATED ALWAYS AS (upper("full name)")) STORED,
  tags text[],
  doc jsonb
);
CREATE INDEX people_lower ON app.people (lower("full name)"));
COMMENT ON TABLE app.people IS 'people; with a semicolon';
COMMENT ON COLUMN app.people."full name)" IS 'a ) in the name';
INSERT INTO app.people ("full name)", "semi;colon", "Quote""d", mood, age, home, span, tags, doc)
SELECT 'Person ' || i || ')', 'sc;' || i, 'q"' || i, (ARRAY['sad', 'ok', 'happy'])[1 + i % 3]::app.mood, 1 + i % 90,
       ROW('Street ' || i, 'Z' || i)::app.address, app.floatrange(i, i + 0.5), ARRAY['a', 'b;' || i],
       jsonb_build_object('i', i, 'tab', E'a\tb', 'newline', E'x\ny', 'backslash', E'\\.')
FROM generate_series(1, 3000) i;

CREATE TABLE app.events (id bigint NOT NULL, happened date NOT NULL, person_id integer REFERENCES app.people (id),
  payload text, PRIMARY KEY (id, happened)) PARTITION BY RANGE (happened);
CREATE TABLE app.events_2025 PARTITION OF app.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE app.events_2026 PARTITION OF app.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE app.events_other PARTITION OF app.events DEFAULT;
CREATE INDEX events_person ON app.events (person_id);
CREATE UNIQUE INDEX events_payload ON app.events (payload, happened);
INSERT INTO app.events SELECT i, date '2024-12-01' + (i % 800), 1 + i % 3000, 'payload ' || i
FROM generate_series(1, 6000) i;
CREATE TABLE app.event_notes (id serial PRIMARY KEY, event_id bigint, happened date, note text,
  FOREIGN KEY (event_id, happened) REFERENCES app.events (id, happened));
INSERT INTO app.event_notes (event_id, happened, note) SELECT id, happened, 'note' FROM app.events WHERE id % 7 = 0;

CREATE TABLE app.vehicles (id integer PRIMARY KEY, wheels integer);
CREATE TABLE app.cars (seats integer) INHERITS (app.vehicles);
INSERT INTO app.vehicles SELECT i, 2 FROM generate_series(1, 50) i;
INSERT INTO app.cars SELECT i, 4, 5 FROM generate_series(1001, 1200) i;
ALTER TABLE app.vehicles ADD CONSTRAINT wheels_ok CHECK (wheels >= 0) NOT VALID;

CREATE TABLE app.chickens (id integer PRIMARY KEY, egg_id integer);
CREATE TABLE app.eggs (id integer PRIMARY KEY,
  chicken_id integer REFERENCES app.chickens (id) DEFERRABLE INITIALLY DEFERRED);
ALTER TABLE app.chickens ADD CONSTRAINT chickens_egg FOREIGN KEY (egg_id) REFERENCES app.eggs (id)
  DEFERRABLE INITIALLY DEFERRED;
BEGIN;
INSERT INTO app.chickens SELECT i, i FROM generate_series(1, 500) i;
INSERT INTO app.eggs SELECT i, i FROM generate_series(1, 500) i;
COMMIT;
ALTER TABLE app.event_notes ADD CONSTRAINT notes_people FOREIGN KEY (id) REFERENCES app.people (id) NOT VALID;

CREATE TABLE "Odd Schema"."Table (1); ""x""" ("a)b" integer PRIMARY KEY, "c,d" text, "e""f" text, "G h" text);
INSERT INTO "Odd Schema"."Table (1); ""x""" SELECT i, 'c,' || i, 'e"' || i, NULL FROM generate_series(1, 400) i;
CREATE INDEX "odd ON index" ON "Odd Schema"."Table (1); ""x""" ("c,d", "e""f");

CREATE TABLE app.bookings (room integer, during tsrange,
  EXCLUDE USING gist (room WITH =, during WITH &&));
INSERT INTO app.bookings SELECT i % 20, tsrange(timestamp '2026-01-01' + i * interval '1 day',
  timestamp '2026-01-01' + (i + 1) * interval '1 day') FROM generate_series(1, 300) i;

CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.wheels := coalesce(NEW.wheels, 4);  -- a ; inside a function body
  RETURN NEW;
END
$$;
CREATE TRIGGER vehicles_touch BEFORE INSERT ON app.vehicles FOR EACH ROW EXECUTE FUNCTION app.touch();
CREATE TABLE app.audit_log (id serial PRIMARY KEY, what text);
INSERT INTO app.audit_log (what) SELECT 'entry ' || i FROM generate_series(1, 20) i;
CREATE RULE people_log AS ON DELETE TO app.people DO ALSO INSERT INTO app.audit_log (what) VALUES ('gone ' || OLD.id);
ALTER TABLE app.audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_read ON app.audit_log FOR SELECT USING (what <> 'secret');

CREATE VIEW app.adults AS SELECT id, "full name)" FROM app.people WHERE age >= 18;
CREATE MATERIALIZED VIEW app.people_by_mood AS SELECT mood, count(*) AS people FROM app.people GROUP BY mood;
CREATE UNIQUE INDEX people_by_mood_mood ON app.people_by_mood (mood);
CREATE MATERIALIZED VIEW app.never_filled AS SELECT 1 AS one WITH NO DATA;
COMMENT ON VIEW app.adults IS 'people of 18 and over';

CREATE TABLE public.plain_big (id bigserial PRIMARY KEY, person_id integer REFERENCES app.people (id), body text);
INSERT INTO public.plain_big (person_id, body) SELECT 1 + i % 3000, repeat(md5(i::text), 8)
FROM generate_series(1, 40000) i;
CREATE INDEX plain_big_person ON public.plain_big (person_id);

GRANT USAGE ON SCHEMA app TO shapes_reader;
GRANT SELECT ON app.people, app.adults TO shapes_reader;
GRANT SELECT (id, wheels) ON app.vehicles TO shapes_reader;
GRANT USAGE ON SEQUENCE app.used_seq TO shapes_reader;
REVOKE EXECUTE ON FUNCTION app.touch() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.touch() TO shapes_reader;
GRANT USAGE ON TYPE app.mood TO shapes_reader;
'''

SCHEMAS = "n.nspname IN ('app', 'Odd Schema', 'public')"
NOT_EXTENSION = ("NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = {oid} AND d.classid = '{catalog}'::regclass "
                 "AND d.deptype = 'e')")
QUERIES = {
    "relations": f"""
        SELECT format('%I.%I', n.nspname, c.relname), c.relkind, c.relrowsecurity, c.relacl::text,
               obj_description(c.oid, 'pg_class'), pg_get_expr(c.relpartbound, c.oid),
               (SELECT array_agg(i.inhparent::regclass::text ORDER BY i.inhseqno) FROM pg_inherits i
                WHERE i.inhrelid = c.oid)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {SCHEMAS} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
          AND {NOT_EXTENSION.format(oid='c.oid', catalog='pg_class')} ORDER BY 1""",
    "columns": f"""
        SELECT format('%I.%I', n.nspname, c.relname), a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
               a.attnotnull, a.attidentity, a.attgenerated, pg_get_expr(ad.adbin, ad.adrelid), a.attacl::text,
               col_description(c.oid, a.attnum)
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
        WHERE {SCHEMAS} AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'c')
          AND {NOT_EXTENSION.format(oid='c.oid', catalog='pg_class')} ORDER BY 1, 2""",
    "indexes": f"""
        SELECT format('%I.%I', n.nspname, c.relname), pg_get_indexdef(i.indexrelid), i.indisvalid, i.indisprimary,
               i.indisunique
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {SCHEMAS} AND {NOT_EXTENSION.format(oid='i.indrelid', catalog='pg_class')} ORDER BY 1""",
    "constraints": f"""
        SELECT conrelid::regclass::text, contypid::regtype::text, conname, contype, pg_get_constraintdef(k.oid),
               convalidated, condeferrable, condeferred, conislocal, coninhcount
        FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
        WHERE {SCHEMAS} AND k.contype <> 'n' ORDER BY 1, 2, 3""",
    "sequences": f"""
        SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {SCHEMAS} AND c.relkind = 'S' ORDER BY 1""",
    "views": f"""
        SELECT format('%I.%I', n.nspname, c.relname), pg_get_viewdef(c.oid), c.relkind,
               CASE c.relkind WHEN 'm' THEN c.relispopulated END
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {SCHEMAS} AND c.relkind IN ('v', 'm') AND {NOT_EXTENSION.format(oid='c.oid', catalog='pg_class')}
        ORDER BY 1""",
    "triggers": f"""
        SELECT tgrelid::regclass::text, pg_get_triggerdef(t.oid), t.tgenabled FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {SCHEMAS} AND NOT t.tgisinternal ORDER BY 1, 2""",
    "rules": "SELECT schemaname, tablename, rulename, definition FROM pg_rules "
             "WHERE schemaname IN ('app', 'Odd Schema', 'public') ORDER BY 1, 2, 3",
    "policies": "SELECT schemaname, tablename, policyname, permissive, roles::text, cmd, qual, with_check "
                "FROM pg_policies ORDER BY 1, 2, 3",
    "types": f"""
        SELECT format('%I.%I', n.nspname, t.typname), t.typtype, format_type(t.typbasetype, t.typtypmod),
               t.typnotnull, t.typacl::text, obj_description(t.oid, 'pg_type'),
               (SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid),
               (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = t.oid)
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE {SCHEMAS} AND t.typtype IN ('e', 'd', 'c', 'r')
          AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
          AND {NOT_EXTENSION.format(oid='t.oid', catalog='pg_type')} ORDER BY 1""",
    "functions": """
        SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid), p.proacl::text
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'app' ORDER BY 1""",
    "schemas": "SELECT nspname, nspacl::text, obj_description(oid, 'pg_namespace') FROM pg_namespace "
               "WHERE nspname IN ('app', 'Odd Schema') ORDER BY 1",
}


def snapshot(uri: str) -> dict[str, object]:
    """Every object of the corpus's schemas, and the data of every table, sequence and materialized view."""
    with psycopg.connect(uri) as conn:
        shot: dict[str, object] = {name: conn.execute(query).fetchall() for name, query in QUERIES.items()}
        shot["sequences"] = {name: conn.execute(f"SELECT last_value, is_called FROM {name}").fetchone()
                             for (name,) in shot["sequences"]}  # type: ignore[union-attr]
        data = {}
        for name, kind, *_rest in shot["relations"]:  # type: ignore[union-attr]
            populated = conn.execute("SELECT relispopulated FROM pg_class WHERE oid = %s::regclass",
                                     (name,)).fetchone()[0]
            if kind in ("r", "m") and populated:
                data[name] = conn.execute(
                    f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                    f"FROM ONLY {name} t").fetchone()
        shot["data"] = data
    return shot
