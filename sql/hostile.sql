-- hostile: a barrage of hostile input against every function.  Each call
-- either gives the right result or fails cleanly with the right SQLSTATE;
-- the server never restarts, and state stored before the barrage (the
-- sentinels) is intact after it.  badinput.sql and limits.sql state the
-- individual rules; this file throws everything at everything.
SET authstore.test_clock = 4102444800;	-- 2100-01-01: the real-clock sweeper never touches these rows
SELECT auth_kv_clear('');
DELETE FROM authstore.rate_limit;
DELETE FROM authstore.token;

-- try(q): run q as "SELECT string_agg(row::text) FROM (q)" and report the
-- rows, or "SQLSTATE: message".  A row prints as (col,...): "()" is a single
-- NULL, ("") a void result or an empty string; "<no rows>" is an empty set.
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	r text;
BEGIN
	EXECUTE 'SELECT pg_catalog.string_agg(t::text, '' '') FROM (' || q || ') AS t' INTO r;
	RETURN coalesce(r, '<no rows>');
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- mb(c, n): c repeated to n MB, quickly (repeat() copies its unit one at a time)
CREATE FUNCTION pg_temp.mb(c text, n int) RETURNS text LANGUAGE sql AS $$
	SELECT repeat(repeat(c, 1024 * 1024), n)
$$;

-- A fingerprint of everything the sentinels have in the three tables.
CREATE FUNCTION pg_temp.sentinel_state() RETURNS text LANGUAGE sql AS $$
	SELECT md5(concat_ws('#',
		(SELECT string_agg(concat_ws('|', key, value, expires_at), ';' ORDER BY key)
		   FROM authstore.kv WHERE starts_with(key, 'sentinel:')),
		(SELECT string_agg(concat_ws('|', key, hits, last_hit, window_end), ';' ORDER BY key)
		   FROM authstore.rate_limit WHERE starts_with(key, 'sentinel:')),
		(SELECT string_agg(concat_ws('|', encode(hash, 'hex'), subject, purpose, expires_at), ';' ORDER BY hash)
		   FROM authstore.token WHERE starts_with(subject, 'sentinel:'))))
$$;

-- The backend's anonymous resident memory in kB (Linux), NULL if unknown.
CREATE FUNCTION pg_temp.rss_anon_kb() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
	RETURN substring(pg_read_file('/proc/' || pg_backend_pid() || '/status')
					 FROM 'RssAnon:\s*(\d+) kB')::bigint;
EXCEPTION WHEN OTHERS THEN
	RETURN NULL;
END
$$;

------------------------------------------------------------------------------
-- Sentinels: state stored before the barrage, checked at the end
------------------------------------------------------------------------------
SELECT pg_postmaster_start_time() AS pm_start \gset
SELECT auth_kv_set('sentinel:session', '{"userId":"u_1"}', 3600);
SELECT auth_kv_set('sentinel:forever', 'kept');
SELECT auth_kv_set('sentinel:%_\*?[]', 'wild');
SELECT auth_kv_set('sentinel:é😀', 'multibyte', 60);
SELECT auth_kv_incr('sentinel:counter'), auth_kv_incr('sentinel:counter'), auth_kv_incr('sentinel:counter');
SELECT * FROM auth_rl_hit('sentinel:rl', 60, 5);
SELECT * FROM auth_rl_hit('sentinel:rl', 60, 5);
SELECT auth_token_issue('sentinel:user', 'password-reset', 600) AS sentinel_tok \gset
SELECT auth_token_issue('sentinel:user', 'email-verify', 600) AS sentinel_tok2 \gset
-- (psql does not substitute variables inside dollar quotes: keep it in a table too)
CREATE TEMP TABLE sentinel_tok AS SELECT :'sentinel_tok'::text AS tok;
SELECT pg_temp.sentinel_state() AS sentinel_state \gset

------------------------------------------------------------------------------
-- NULL in every argument position (a NULL TTL is valid: no expiry), and
-- everything NULL at once
------------------------------------------------------------------------------
SELECT q, pg_temp.try(q) AS result FROM (VALUES
	($$SELECT auth_kv_set(NULL, NULL, NULL)$$),
	($$SELECT auth_kv_set(NULL, 'v', 1)$$),
	($$SELECT auth_kv_set('n:set', NULL, 1)$$),
	($$SELECT auth_kv_set('n:set', 'v', NULL), auth_kv_ttl('n:set')$$),
	($$SELECT auth_kv_get(NULL)$$),
	($$SELECT auth_kv_take(NULL)$$),
	($$SELECT auth_kv_set_if_not_exists(NULL, NULL, NULL)$$),
	($$SELECT auth_kv_set_if_not_exists(NULL, 'v', 1)$$),
	($$SELECT auth_kv_set_if_not_exists('n:nx', NULL, 1)$$),
	($$SELECT auth_kv_set_if_not_exists('n:nx', 'v', NULL), auth_kv_ttl('n:nx')$$),
	($$SELECT auth_kv_delete(NULL)$$),
	($$SELECT auth_kv_incr(NULL, NULL)$$),
	($$SELECT auth_kv_incr(NULL, 1)$$),
	($$SELECT auth_kv_incr('n:incr', NULL), auth_kv_ttl('n:incr')$$),
	($$SELECT auth_kv_ttl(NULL)$$),
	($$SELECT auth_kv_expire(NULL, NULL)$$),
	($$SELECT auth_kv_expire(NULL, 1)$$),
	($$SELECT auth_kv_expire('n:set', 5), auth_kv_expire('n:set', NULL), auth_kv_ttl('n:set')$$),
	($$SELECT * FROM auth_kv_keys(NULL)$$),
	($$SELECT auth_kv_clear(NULL)$$),
	($$SELECT auth_kv_sweep(NULL)$$),
	($$SELECT * FROM auth_rl_hit(NULL, NULL, NULL)$$),
	($$SELECT * FROM auth_rl_hit(NULL, 60, 5)$$),
	($$SELECT * FROM auth_rl_hit('n:rl', NULL, 5)$$),
	($$SELECT * FROM auth_rl_hit('n:rl', 60, NULL)$$),
	($$SELECT auth_rl_reset(NULL)$$),
	($$SELECT auth_token_issue(NULL, NULL, NULL)$$),
	($$SELECT auth_token_issue(NULL, 'p', 60)$$),
	($$SELECT auth_token_issue('s', NULL, 60)$$),
	($$SELECT auth_token_issue('s', 'p', NULL)$$),
	($$SELECT auth_token_verify(NULL, NULL)$$),
	($$SELECT auth_token_verify(NULL, 'p')$$),
	($$SELECT auth_token_verify('x', NULL)$$),
	($$SELECT auth_token_consume(NULL, NULL)$$),
	($$SELECT auth_token_consume(NULL, 'p')$$),
	($$SELECT auth_token_consume('x', NULL)$$),
	($$SELECT auth_token_revoke(NULL, NULL)$$),
	($$SELECT auth_token_revoke(NULL, 'p')$$),
	($$SELECT auth_token_revoke('nobody', NULL)$$),
	($$SELECT auth_set_durable(NULL)$$)
) AS t(q);
SELECT auth_kv_delete('n:set'), auth_kv_delete('n:nx'), auth_kv_delete('n:incr');

------------------------------------------------------------------------------
-- Empty strings in every text position: an empty key, subject or purpose
-- is an error; an empty value is a value; an empty prefix means "all"
------------------------------------------------------------------------------
SELECT q, pg_temp.try(q) AS result FROM (VALUES
	($$SELECT auth_kv_set('', '')$$),
	($$SELECT auth_kv_set('e:val', ''), auth_kv_get('e:val') = '' AS empty_value_back$$),
	($$SELECT auth_kv_set_if_not_exists('', '')$$),
	($$SELECT auth_kv_set_if_not_exists('e:nx', ''), auth_kv_get('e:nx') = '' AS empty_value_back$$),
	($$SELECT auth_kv_get('')$$),
	($$SELECT auth_kv_take('')$$),
	($$SELECT auth_kv_take('e:nx') = '' AS empty_value_taken, auth_kv_get('e:nx')$$),
	($$SELECT auth_kv_delete('')$$),
	($$SELECT auth_kv_incr('')$$),
	($$SELECT auth_kv_incr('e:val')$$),
	($$SELECT auth_kv_ttl('')$$),
	($$SELECT auth_kv_expire('', 1)$$),
	($$SELECT count(*) > 0 AS lists_all FROM auth_kv_keys('')$$),
	($$SELECT auth_kv_keys('') IS NOT NULL AS in_select_list LIMIT 1$$),
	($$SELECT * FROM auth_rl_hit('', 60, 5)$$),
	($$SELECT auth_rl_reset('')$$),
	($$SELECT auth_token_issue('', 'p', 60)$$),
	($$SELECT auth_token_issue('s', '', 60)$$),
	($$SELECT auth_token_verify('', 'p')$$),
	($$SELECT auth_token_verify('', '')$$),
	($$SELECT auth_token_consume('', 'p')$$),
	($$SELECT auth_token_revoke('', 'p')$$),
	($$SELECT auth_token_revoke('s', '')$$)
) AS t(q);
SELECT auth_kv_delete('e:val');

-- clearing everything works, and rolls back like any other write
BEGIN;
SELECT auth_kv_clear('') > 0 AS cleared_something, count(*) AS left_after_clear FROM auth_kv_keys('');
ROLLBACK;
SELECT auth_kv_get('sentinel:forever') AS survived_rolled_back_clear;

------------------------------------------------------------------------------
-- Key sizes: 1 byte, the limit (1024) and the limit + 1, in every key
-- position (multibyte characters count as bytes)
------------------------------------------------------------------------------
SELECT f AS call, k AS key, pg_temp.try(replace(f, '{key}', k)) AS result
FROM unnest(ARRAY[
	$$SELECT auth_kv_set({key}, 'v'), auth_kv_get({key})$$,
	$$SELECT auth_kv_set_if_not_exists({key}, 'w'), auth_kv_get({key})$$,
	$$SELECT auth_kv_ttl({key}), auth_kv_expire({key}, 10), auth_kv_ttl({key})$$,
	$$SELECT count(*) FROM auth_kv_keys({key})$$,
	$$SELECT auth_kv_take({key}), auth_kv_get({key})$$,
	$$SELECT auth_kv_incr({key}), auth_kv_incr({key}), auth_kv_delete({key})$$,
	$$SELECT auth_kv_set({key}, 'v'), auth_kv_clear({key})$$,
	$$SELECT * FROM auth_rl_hit({key}, 60, 1)$$,
	$$SELECT auth_rl_reset({key})$$,
	$$SELECT length(auth_token_issue({key}, 'p', 60)), auth_token_revoke({key}, 'p')$$,
	$$SELECT length(auth_token_issue('s', {key}, 60)), auth_token_revoke('s', {key})$$,
	$$SELECT auth_token_verify(repeat('A', 43), {key})$$
]) WITH ORDINALITY AS f(f, fi)
CROSS JOIN unnest(ARRAY[
	$$'k'$$,
	$$repeat('k', 1024)$$,
	$$repeat('k', 1025)$$,
	$$repeat('k', 1020) || '😀'$$,
	$$repeat('k', 1021) || '😀'$$
]) WITH ORDINALITY AS k(k, ki)
ORDER BY fi, ki;

-- keys up to the setting's maximum work once a superuser allows them, even
-- poorly compressible ones, and so does a token whose subject and purpose
-- are both that long (they share one btree entry of at most ~2704 bytes)
SELECT set_config('authstore.max_key_bytes', max_val, false) AS key_max
  FROM pg_settings WHERE name = 'authstore.max_key_bytes';
SELECT pg_temp.try(format('SELECT set_config(%L, %L, false)', 'authstore.max_key_bytes',
                          (setting::int + 1)::text)) AS one_more
  FROM pg_settings WHERE name = 'authstore.max_key_bytes';
CREATE TEMP TABLE kmax AS
SELECT left(string_agg(md5(i::text), ''), n) AS k, left(string_agg(md5((-i)::text), ''), n) AS k2
  FROM generate_series(1, 100) AS i,
       (SELECT setting::int AS n FROM pg_settings WHERE name = 'authstore.max_key_bytes') AS s
 GROUP BY n;
SELECT octet_length(k) AS key_bytes, octet_length(k2) AS purpose_bytes FROM kmax;
SELECT q, pg_temp.try(q) AS result FROM (VALUES
	($$SELECT auth_kv_set(k, 'v'), auth_kv_get(k) = 'v', auth_kv_ttl(k) FROM kmax$$),
	($$SELECT count(*) FROM kmax, auth_kv_keys(k)$$),
	($$SELECT auth_kv_delete(k) FROM kmax$$),
	($$SELECT auth_kv_set(k || 'x', 'v') FROM kmax$$),
	($$SELECT h.* FROM kmax, auth_rl_hit(k, 60, 1) AS h$$),
	($$SELECT auth_rl_reset(k) FROM kmax$$),
	($$SELECT length(auth_token_issue(k, k2, 60)), auth_token_verify(repeat('A', 43), k2), auth_token_revoke(k, k2) FROM kmax$$)
) AS t(q);
RESET authstore.max_key_bytes;
-- a one-byte key limit, for this transaction only
BEGIN;
SET LOCAL authstore.max_key_bytes = 1;
SELECT pg_temp.try($$SELECT auth_kv_set('a', 'v')$$) AS one_byte,
       pg_temp.try($$SELECT auth_kv_set('ab', 'v')$$) AS two_bytes,
       pg_temp.try($$SELECT auth_kv_set('é', 'v')$$) AS two_byte_char;
ROLLBACK;
SHOW authstore.max_key_bytes;

------------------------------------------------------------------------------
-- Values: 100 MB is refused cleanly, and nothing is stored
------------------------------------------------------------------------------
SELECT coalesce(pg_temp.rss_anon_kb(), 0) AS rss_before \gset
SELECT q, pg_temp.try(q) AS result FROM (VALUES
	($$SELECT auth_kv_set('big', pg_temp.mb('x', 100))$$),
	($$SELECT auth_kv_set_if_not_exists('big', pg_temp.mb('x', 100))$$),
	($$SELECT auth_kv_set('sentinel:forever', pg_temp.mb('x', 100))$$),
	($$SELECT auth_kv_get('big')$$),
	-- PostgreSQL itself refuses a 1 GB string before authstore sees it
	($$SELECT auth_kv_set('big', repeat('x', 1024*1024*1024))$$)
) AS t(q);
-- the full message
SELECT auth_kv_set('big', pg_temp.mb('x', 100));

-- values that arrive toasted (compressed, out of line) are measured by
-- their raw size, not their stored size
CREATE TEMP TABLE toasted (name text, v text);
INSERT INTO toasted VALUES ('1MB', repeat('z', 1024*1024)), ('2MB', repeat('y', 2*1024*1024));
SELECT name, pg_column_size(v) < octet_length(v) AS compressed,
       pg_temp.try(format('SELECT auth_kv_set(%L, v) FROM toasted WHERE name = %L', 'toasted:' || name, name)) AS result,
       auth_kv_get('toasted:' || name) = v AS round_trip
  FROM toasted ORDER BY name COLLATE "C";
SELECT auth_kv_clear('toasted:');

-- with the limit at the setting's maximum a 100 MB value works: stored,
-- read, taken once; a poorly compressible 10 MB one round-trips exactly
SET authstore.max_value_bytes = '512MB';
SET authstore.max_value_bytes = 536870911;
SHOW authstore.max_value_bytes;
SELECT auth_kv_set('big', pg_temp.mb('x', 100), 600);
WITH g AS MATERIALIZED (SELECT auth_kv_get('big') AS v)
SELECT length(v) AS len, v = pg_temp.mb('x', 100) AS same, auth_kv_ttl('big') AS ttl FROM g;
SELECT pg_temp.try($$SELECT auth_kv_incr('big')$$) AS incr_big;
SELECT pg_temp.try($$SELECT auth_kv_set_if_not_exists('big', pg_temp.mb('y', 100))$$) AS nx_big;
SELECT length(auth_kv_take('big')) AS taken_len, auth_kv_take('big') IS NULL AS second_take_null;
CREATE TEMP TABLE md5v AS SELECT string_agg(md5(i::text), '') AS v FROM generate_series(1, 327680) AS i;
SELECT auth_kv_set('big:md5', v) FROM md5v;
SELECT length(auth_kv_get('big:md5')) AS len, auth_kv_get('big:md5') = v AS same FROM md5v;
SELECT auth_kv_delete('big:md5');
DROP TABLE md5v;
SELECT auth_kv_get('big') IS NULL AS big_absent;
RESET authstore.max_value_bytes;
-- the backend gives the memory back (checked only where /proc is readable)
SELECT coalesce(pg_temp.rss_anon_kb() - :rss_before < 64 * 1024, true) AS memory_returned;

------------------------------------------------------------------------------
-- TTLs and windows: every hostile number in every position.  The clock is
-- pinned, so each remaining TTL is exact.  Sub-microsecond TTLs round to the
-- nearest microsecond: one that rounds to 0 means "absent" for set and
-- expire, and is an error where 0 is one.
------------------------------------------------------------------------------
SELECT f AS call, t AS ttl,
       pg_temp.try(replace(replace(f, '{ttl}', t), '{key}', quote_literal('ttl:' || fi || ':' || t))) AS result
FROM unnest(ARRAY[
	$$SELECT auth_kv_set({key}, 'v', {ttl}), auth_kv_ttl({key})$$,
	$$SELECT auth_kv_set_if_not_exists({key}, 'v', {ttl}), auth_kv_ttl({key})$$,
	$$SELECT auth_kv_incr({key}, {ttl}), auth_kv_ttl({key})$$,
	$$SELECT auth_kv_set({key}, 'v'), auth_kv_expire({key}, {ttl}), auth_kv_ttl({key})$$,
	$$SELECT * FROM auth_rl_hit({key}, {ttl}, 1)$$,
	$$SELECT length(auth_token_issue({key}, 'p', {ttl}))$$
]) WITH ORDINALITY AS f(f, fi)
CROSS JOIN unnest(ARRAY[
	'NULL', '0', $$'-0'$$, '5e-324', '1e-300', '4e-7', '5e-7', '0.5',
	'315360000', '315360000.000002', '315360001', '10000000000', '1e308', $$'1e400'$$,
	'-1e-300', '-1', '-1e308', $$'NaN'$$, $$'Infinity'$$, $$'-Infinity'$$
]) WITH ORDINALITY AS t(t, ti)
ORDER BY fi, ti;
SELECT auth_kv_clear('ttl:');
SELECT count(*) FILTER (WHERE auth_rl_reset(key)) AS rl_reset
  FROM authstore.rate_limit WHERE starts_with(key, 'ttl:');
SELECT sum(auth_token_revoke(s)) AS tokens_revoked
  FROM (SELECT DISTINCT subject FROM authstore.token WHERE starts_with(subject, 'ttl:')) AS t(s);

-- incr keeps the TTL set on creation; expire replaces it
SELECT auth_kv_incr('ttl2:c', 100), auth_kv_incr('ttl2:c', 5), auth_kv_incr('ttl2:c'), auth_kv_ttl('ttl2:c');
SELECT auth_kv_expire('ttl2:c', 1e-300), auth_kv_get('ttl2:c') AS gone;

------------------------------------------------------------------------------
-- The pinned clock at its extremes, with the largest TTL and window, and
-- going backwards.  (A SET inside try() that succeeds stays in effect.)
------------------------------------------------------------------------------
SELECT s AS setting, pg_temp.try(format('SELECT set_config(%L, %L, false)', 'authstore.test_clock', s)) AS result
  FROM (VALUES ('NaN'), ('Infinity'), ('-1'), ('100000000001'), ('1e11')) AS t(s);
SHOW authstore.test_clock;
SELECT auth_kv_set('clock:max', 'v', 315360000), auth_kv_ttl('clock:max');
SELECT * FROM auth_rl_hit('clock:max', 315360000, 1);
SELECT * FROM auth_rl_hit('clock:max', 315360000, 1);
SELECT length(auth_token_issue('clock:max', 'p', 315360000));
SET authstore.test_clock = 0.000001;
-- What is made at this clock expired in 1980, so a sweeper on the real clock
-- (where one serves this database) could remove it at any moment once
-- committed: it is made and removed in one transaction.
BEGIN;
SELECT auth_kv_set('clock:min', 'v', 315360000), auth_kv_ttl('clock:min');
SELECT auth_kv_get('clock:max') AS from_the_future, auth_kv_ttl('clock:max');
SELECT * FROM auth_rl_hit('clock:min', 315360000, 1);
SELECT * FROM auth_rl_hit('clock:max', 315360000, 1);
SELECT auth_kv_delete('clock:min'), auth_rl_reset('clock:min');
COMMIT;
SET authstore.test_clock = 4102444800;
SELECT auth_kv_clear('clock:'), auth_rl_reset('clock:max'), auth_rl_reset('clock:min'),
       auth_token_revoke('clock:max');

------------------------------------------------------------------------------
-- Rate-limit max at the integer extremes; a count already at INT_MAX
-- cannot overflow
------------------------------------------------------------------------------
SELECT m AS max, pg_temp.try(format('SELECT * FROM auth_rl_hit(%L, 60, %s)', 'max:' || m, m)) AS result
  FROM (VALUES ('2147483647'), ('1'), ('0'), ('-1'), ('-2147483648'), ('2147483648'), ('1.5'), ($$'1'$$)) AS t(m);
UPDATE authstore.rate_limit SET hits = 2147483646 WHERE key = 'max:2147483647';
SELECT * FROM auth_rl_hit('max:2147483647', 60, 2147483647);
SELECT * FROM auth_rl_hit('max:2147483647', 60, 2147483647);
-- a smaller max on the next call denies at once and changes nothing
SELECT * FROM auth_rl_hit('max:2147483647', 60, 1);
SELECT hits FROM authstore.rate_limit WHERE key = 'max:2147483647';
SELECT count(*) FILTER (WHERE auth_rl_reset(key)) AS rl_reset
  FROM authstore.rate_limit WHERE starts_with(key, 'max:');

------------------------------------------------------------------------------
-- incr against hostile stored values (Redis-strict: canonical 64-bit only)
------------------------------------------------------------------------------
SELECT v AS stored, pg_temp.try(format('SELECT auth_kv_set(''incr'', %L), auth_kv_incr(''incr'')', v)) AS result
  FROM (VALUES ('0'), ('-1'), ('9223372036854775806'), ('9223372036854775807'),
               ('9223372036854775808'), ('-9223372036854775808'), ('-9223372036854775809'),
               ('99999999999999999999999999999'), ('+1'), (' 1'), ('1 '), ('01'), ('-0'), ('-'),
               ('1e3'), ('0x10'), ('1.0'), ('١'), ('１'), ('NaN'), ('')) AS t(v);
SELECT pg_temp.try($$SELECT auth_kv_set('incr', repeat('9', 10000)), auth_kv_incr('incr')$$) AS ten_thousand_nines;
SELECT auth_kv_delete('incr');

------------------------------------------------------------------------------
-- Keys with characters that mean something to LIKE, regexes, globs, shells
-- or SQL: stored and found literally
------------------------------------------------------------------------------
CREATE TEMP TABLE odd (k text);
INSERT INTO odd VALUES ('%'), ('_'), ('\'), ('*'), ('?'), ('['), (']'), ('[a-z]'), ('.*'),
	('%_\*?[]'), ('x%'), ('x_'), ('xy'), (''''), ('"'), (' '), ('  padded  '), (E'tab\there'),
	(E'new\nline'), (E'\x01'), (E'\x7f'), ('\x00'), ('null'), ('NULL'),
	('�'), (E'\U0010FFFF'), ('e' || U&'\0301'), (U&'\202Eevil'), (U&'zero\200Bwidth'), ('😀'),
	('''); DROP TABLE authstore.kv; --'), ('$$'), ('sentinel'), ('sentinel:'),
	('sentinel:%'), ('sentinel:_'), ('sentinel:%_\*?[]x');
SELECT count(*) AS stored FROM odd, LATERAL auth_kv_set('odd:' || k, 'v:' || k);
SELECT count(*) FILTER (WHERE auth_kv_get('odd:' || k) = 'v:' || k) AS found_literally,
       count(*) FILTER (WHERE auth_kv_ttl('odd:' || k) = 'Infinity') AS no_expiry
  FROM odd;
-- the key list is exactly the set of keys stored, in bytewise order
SELECT (SELECT array_agg(k ORDER BY k COLLATE "C") FROM odd)
     = (SELECT array_agg(substr(k, 5)) FROM auth_kv_keys('odd:') AS k) AS keys_exact;
-- prefixes are literal: each lists exactly the keys that start with it
SELECT p AS prefix, (SELECT string_agg(k, ' ') FROM auth_kv_keys('odd:' || p) AS k) AS keys
  FROM (VALUES ('%'), ('_'), ('\'), ('['), ('x_'), ('x%'), ('.*'), ('sentinel:%')) AS t(p);
SELECT p AS prefix, auth_kv_clear('odd:' || p) AS cleared
  FROM (VALUES ('%'), ('_'), ('*'), ('['), ('x'), (''''), ('\x')) AS t(p);
SELECT count(*) AS left_after_clears FROM auth_kv_keys('odd:');
SELECT count(*) FILTER (WHERE auth_kv_take('odd:' || k) = 'v:' || k) AS taken,
       count(*) FILTER (WHERE auth_kv_get('odd:' || k) IS NULL) AS gone
  FROM odd;
-- the same keys as rate-limit keys and token subjects and purposes
SELECT count(*) FILTER (WHERE h.allowed AND h.count = 1) AS rl_first_hits
  FROM odd, LATERAL auth_rl_hit('odd:' || k, 60, 1) AS h;
SELECT count(*) FILTER (WHERE NOT h.allowed) AS rl_second_denied
  FROM odd, LATERAL auth_rl_hit('odd:' || k, 60, 1) AS h;
SELECT count(*) FILTER (WHERE auth_rl_reset('odd:' || k)) AS rl_reset FROM odd;
SELECT count(*) AS issued
  FROM odd, LATERAL auth_token_issue('odd:' || k, 'odd:' || k, 60) AS tok;
-- revoke matches the subject and purpose exactly: '%' revokes only '%'
SELECT auth_token_revoke('odd:%') AS revoke_percent, auth_token_revoke('odd:_', 'odd:%') AS revoke_wrong_purpose;
SELECT sum(auth_token_revoke('odd:' || k, 'odd:' || k)) AS revoked_rest FROM odd;

-- clear bounds its index scan by incrementing the prefix's last byte:
-- prefixes ending in the largest code point, in DEL, in a continuation byte
CREATE TEMP TABLE edge (k text);
INSERT INTO edge VALUES (E'\U0010FFFF'), (E'\U0010FFFFz'), (E'\U0010FFFF\U0010FFFF'), (E'\U0010FFFE'),
	(E'\x7f'), (E'\x7fa'), (E'\u0080'), ('é'), ('éa'), ('ê'), ('~'), (E'\u00BF'), (E'\u00BFa'), (E'\u00C0');
SELECT count(*) AS stored FROM edge, LATERAL auth_kv_set('edge:' || k, 'v');
SELECT encode(convert_to(p, 'UTF8'), 'hex') AS prefix,
       (SELECT count(*) FROM auth_kv_keys('edge:' || p)) AS listed,
       (SELECT count(*) FROM edge WHERE starts_with(k, p)) AS should_be,
       auth_kv_clear('edge:' || p) AS cleared
  FROM (VALUES (E'\U0010FFFF'), (E'\x7f'), ('é'), (E'\u00BF'), ('~'), (E'\U0010FFFE')) AS t(p);
SELECT encode(convert_to(k, 'UTF8'), 'hex') AS left_over FROM auth_kv_keys('edge:') AS k;
SELECT auth_kv_clear('edge:');

------------------------------------------------------------------------------
-- Bytes PostgreSQL text cannot hold never reach authstore: NUL and invalid
-- UTF-8 are rejected while the argument is built
------------------------------------------------------------------------------
SELECT q, pg_temp.try(q) AS result FROM (VALUES
	($$SELECT auth_kv_set(E'\x00', 'v')$$),
	($$SELECT auth_kv_set(E'a\x00b', 'v')$$),
	($$SELECT auth_kv_set(chr(0), 'v')$$),
	($$SELECT auth_kv_set('k', 'v' || chr(0))$$),
	($$SELECT auth_kv_set(U&'\0000', 'v')$$),
	($$SELECT auth_kv_set(convert_from('\x00'::bytea, 'UTF8'), 'v')$$),
	($$SELECT auth_kv_set(convert_from('\xff'::bytea, 'UTF8'), 'v')$$),
	($$SELECT auth_kv_set(convert_from('\xc3'::bytea, 'UTF8'), 'v')$$),
	($$SELECT auth_kv_set(convert_from('\xeda080'::bytea, 'UTF8'), 'v')$$),
	($$SELECT auth_kv_set('k', convert_from('\xc0af'::bytea, 'UTF8'))$$),
	($$SELECT auth_kv_set(E'\xff', 'v')$$),
	($$SELECT auth_kv_set(E'\uD800', 'v')$$),
	($$SELECT * FROM auth_rl_hit(convert_from('\xfe'::bytea, 'UTF8'), 60, 1)$$),
	($$SELECT auth_token_verify(convert_from('\xff'::bytea, 'UTF8'), 'p')$$),
	-- a bytea's text form is an ordinary key
	($$SELECT auth_kv_set('\x00'::bytea::text, 'v'), auth_kv_take('\x00'::bytea::text)$$)
) AS t(q);
SELECT count(*) AS stray_keys FROM auth_kv_keys('') AS k WHERE NOT starts_with(k, 'sentinel:');

------------------------------------------------------------------------------
-- Very long prefixes: up to the key limit they are prefixes, beyond it
-- they are refused like keys
------------------------------------------------------------------------------
SELECT auth_kv_set(repeat('p', 1024), 'v');
SELECT q, pg_temp.try(q) AS result FROM (VALUES
	($$SELECT count(*) FROM auth_kv_keys(repeat('p', 1023))$$),
	($$SELECT count(*) FROM auth_kv_keys(repeat('p', 1024))$$),
	($$SELECT count(*) FROM auth_kv_keys(repeat('p', 1025))$$),
	($$SELECT count(*) FROM auth_kv_keys(pg_temp.mb('p', 100))$$),
	($$SELECT auth_kv_clear(repeat('p', 1025))$$),
	($$SELECT auth_kv_clear(pg_temp.mb('p', 100))$$),
	($$SELECT auth_kv_clear(repeat('p', 1023) || 'q')$$),
	($$SELECT auth_kv_clear(repeat('p', 1024))$$),
	($$SELECT count(*) FROM auth_kv_keys('p')$$)
) AS t(q);

------------------------------------------------------------------------------
-- Tokens of every wrong shape are simply not found (NULL), and none of
-- them burns the sentinel token
------------------------------------------------------------------------------
SELECT label, auth_token_verify(t, 'password-reset') IS NULL AS verify_null,
       auth_token_consume(t, 'password-reset') IS NULL AS consume_null
  FROM (VALUES
	('NULL', NULL),
	('43 spaces', repeat(' ', 43)),
	('43 percent', repeat('%', 43)),
	('43 underscores', repeat('_', 43)),
	('43 dashes', repeat('-', 43)),
	('43 equals', repeat('=', 43)),
	('42 + é (43 chars, 44 bytes)', left(:'sentinel_tok', 42) || 'é'),
	('42 + newline', left(:'sentinel_tok', 42) || E'\n'),
	('leading space', ' ' || left(:'sentinel_tok', 42)),
	('trailing space', :'sentinel_tok' || ' '),
	('one character changed', overlay(:'sentinel_tok' placing
		CASE WHEN left(:'sentinel_tok', 1) = 'A' THEN 'B' ELSE 'A' END from 1)),
	('standard base64 +', overlay(:'sentinel_tok' placing '+' from 1)),
	('standard base64 /', overlay(:'sentinel_tok' placing '/' from 43)),
	('padded', :'sentinel_tok' || '='),
	('twice', :'sentinel_tok' || :'sentinel_tok'),
	('LIKE pattern', left(:'sentinel_tok', 10) || '%'),
	('hex of token', encode(convert_to(:'sentinel_tok', 'UTF8'), 'hex')),
	('sha256 of token', encode(sha256(convert_to(:'sentinel_tok', 'UTF8')), 'hex')),
	('1 MB', repeat('A', 1024*1024)),
	('100 MB', pg_temp.mb('A', 100))
  ) AS v(label, t);
-- the right token with the wrong purpose, in every wrong shape of purpose
SELECT p AS purpose, pg_temp.try(format('SELECT auth_token_verify(tok, %s), auth_token_consume(tok, %s) FROM sentinel_tok', p, p)) AS result
  FROM (VALUES ($$'email-verify'$$), ($$'password-reset '$$), ($$'PASSWORD-RESET'$$), ($$'password%'$$),
               ($$'%'$$), ($$'_assword-reset'$$), ($$repeat('p', 1025)$$), ('NULL'), ($$''$$)) AS t(p);
SELECT auth_token_verify(:'sentinel_tok', 'password-reset') AS sentinel_token_alive;

------------------------------------------------------------------------------
-- Read-only transactions: reads work, writes fail cleanly
------------------------------------------------------------------------------
BEGIN READ ONLY;
SELECT auth_kv_get('sentinel:forever'), auth_kv_ttl('sentinel:forever'),
       auth_token_verify(:'sentinel_tok', 'password-reset') AS verify,
       (SELECT count(*) FROM auth_kv_keys('sentinel:')) AS keys;
SELECT q, pg_temp.try(q) AS result FROM (VALUES
	($$SELECT auth_kv_set('sentinel:forever', 'changed')$$),
	($$SELECT auth_kv_take('sentinel:forever')$$),
	($$SELECT auth_kv_incr('sentinel:counter')$$),
	($$SELECT * FROM auth_rl_hit('sentinel:rl', 60, 5)$$),
	($$SELECT auth_token_consume(tok, 'password-reset') FROM sentinel_tok$$),
	($$SELECT auth_kv_sweep()$$)
) AS t(q);
COMMIT;

------------------------------------------------------------------------------
-- Sweeping: nothing has expired on the pinned clock; max_rows at its
-- extremes
------------------------------------------------------------------------------
SELECT q, pg_temp.try(q) AS result FROM (VALUES
	($$SELECT auth_kv_sweep(0)$$),
	($$SELECT auth_kv_sweep(2147483647)$$),
	($$SELECT auth_kv_sweep(NULL)$$),
	($$SELECT auth_kv_sweep(-2147483648)$$),
	($$SELECT auth_kv_sweep(2147483648)$$)
) AS t(q);

------------------------------------------------------------------------------
-- Afterwards: the server never restarted and every sentinel is intact
------------------------------------------------------------------------------
SELECT pg_postmaster_start_time() = :'pm_start'::timestamptz AS same_postmaster;
SELECT pg_temp.sentinel_state() = :'sentinel_state' AS sentinels_unchanged;
SELECT k AS key, auth_kv_get(k) AS value, auth_kv_ttl(k) AS ttl
  FROM auth_kv_keys('sentinel:') AS k;
SELECT * FROM auth_rl_hit('sentinel:rl', 60, 5);
SELECT auth_kv_incr('sentinel:counter');
SELECT auth_token_consume(:'sentinel_tok', 'password-reset') AS consumed,
       auth_token_consume(:'sentinel_tok', 'password-reset') IS NULL AS consumed_once,
       auth_token_verify(:'sentinel_tok2', 'email-verify') AS other_token;
SELECT count(*) AS rl_rows, count(*) FILTER (WHERE starts_with(key, 'sentinel:')) AS sentinel_rl_rows
  FROM authstore.rate_limit;
SELECT count(*) AS token_rows, count(*) FILTER (WHERE starts_with(subject, 'sentinel:')) AS sentinel_token_rows
  FROM authstore.token;

SELECT auth_kv_clear('') AS cleared;
DELETE FROM authstore.rate_limit;
DELETE FROM authstore.token;
