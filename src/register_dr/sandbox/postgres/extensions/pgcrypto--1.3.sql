-- pgcrypto stand-in for the register.dr sandbox: the functions the register schema uses, in SQL.
\echo Use "CREATE EXTENSION pgcrypto" to load this file. \quit

CREATE FUNCTION digest(bytea, text) RETURNS bytea AS $$
BEGIN
  CASE pg_catalog.lower($2)
    WHEN 'sha256' THEN RETURN pg_catalog.sha256($1);
    WHEN 'sha512' THEN RETURN pg_catalog.sha512($1);
    WHEN 'sha224' THEN RETURN pg_catalog.sha224($1);
    WHEN 'sha384' THEN RETURN pg_catalog.sha384($1);
    WHEN 'md5' THEN RETURN pg_catalog.decode(pg_catalog.md5($1), 'hex');
    ELSE RAISE EXCEPTION 'Cannot use "%": No such hash algorithm', $2 USING ERRCODE = 'invalid_parameter_value';
  END CASE;
END
$$ LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION digest(text, text) RETURNS bytea AS $$
BEGIN
  CASE pg_catalog.lower($2)
    WHEN 'sha256' THEN RETURN pg_catalog.sha256(pg_catalog.convert_to($1, 'UTF8'));
    WHEN 'sha512' THEN RETURN pg_catalog.sha512(pg_catalog.convert_to($1, 'UTF8'));
    WHEN 'sha224' THEN RETURN pg_catalog.sha224(pg_catalog.convert_to($1, 'UTF8'));
    WHEN 'sha384' THEN RETURN pg_catalog.sha384(pg_catalog.convert_to($1, 'UTF8'));
    WHEN 'md5' THEN RETURN pg_catalog.decode(pg_catalog.md5($1), 'hex');
    ELSE RAISE EXCEPTION 'Cannot use "%": No such hash algorithm', $2 USING ERRCODE = 'invalid_parameter_value';
  END CASE;
END
$$ LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE;
