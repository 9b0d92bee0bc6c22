-- uuid-ossp stand-in for the register.dr sandbox: the functions the register schema uses, in SQL.
\echo Use "CREATE EXTENSION ""uuid-ossp""" to load this file. \quit

CREATE FUNCTION uuid_generate_v4() RETURNS uuid
  AS 'SELECT pg_catalog.gen_random_uuid()' LANGUAGE sql VOLATILE PARALLEL SAFE;

CREATE FUNCTION uuid_nil() RETURNS uuid
  AS $$SELECT '00000000-0000-0000-0000-000000000000'::uuid$$ LANGUAGE sql IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION uuid_ns_url() RETURNS uuid
  AS $$SELECT '6ba7b811-9dad-11d1-80b4-00c04fd430c8'::uuid$$ LANGUAGE sql IMMUTABLE PARALLEL SAFE;
