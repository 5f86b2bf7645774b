-- quota: authstore.max_size refuses calls that would add data (53400) once
-- the tables hold that much, on both paths; reads, deletes, takes, token
-- verify/consume/revoke, hits on existing rate-limit rows and sweeping
-- still work; after a sweep or a delete writes succeed again; nothing that
-- was acknowledged is lost.  (The regression run uses each path in turn.)
SET authstore.test_clock = 4102444800;
SELECT auth_kv_clear('');
DELETE FROM authstore.rate_limit;
DELETE FROM authstore.token;

-- run a statement, report "SQLSTATE: message" or "ok"
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- the keys the server acknowledged, and the refusal that ended a fill
CREATE TEMP TABLE acked (key text PRIMARY KEY, value text);
CREATE TEMP TABLE refusal (fill text, n int, sqlstate text, message text,
						   detail text, hint text);

-- store keys under prefix until refused; every second one expires in 10 s
CREATE FUNCTION pg_temp.fill(prefix text, len int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	i int := 0;
	v text;
	st text; msg text; det text; hnt text;
BEGIN
	LOOP
		v := left(repeat(md5(prefix || i), 1 + len / 32), len);
		BEGIN
			PERFORM auth_kv_set(prefix || i, v, CASE WHEN i % 2 = 0 THEN 10 END);
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
				det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
			INSERT INTO refusal VALUES (prefix, i, st, msg, det, hnt);
			RETURN;
		END;
		INSERT INTO acked VALUES (prefix || i, v);
		i := i + 1;
		IF i > 100000 THEN
			RAISE EXCEPTION 'no refusal after 100000 keys';
		END IF;
	END LOOP;
END
$$;

-- what the tables hold, counted as the quota counts (src/quota.c)
CREATE FUNCTION pg_temp.held() RETURNS bigint LANGUAGE sql AS $$
	SELECT (SELECT COALESCE(sum(2 * pg_column_size(key) + pg_column_size(value) + 48 + COALESCE(2 * pg_column_size(owner), 0)), 0) FROM authstore.kv)
		 + (SELECT COALESCE(sum(2 * pg_column_size(key) + 60), 0) FROM authstore.rate_limit)
		 + (SELECT COALESCE(sum(2 * (pg_column_size(hash) + pg_column_size(subject) + pg_column_size(purpose)) + 60), 0) FROM authstore.token)
$$;

-- rows that exist before the quota is reached
SELECT allowed FROM auth_rl_hit('quota:rl:one', 100, 1);
SELECT allowed FROM auth_rl_hit('quota:rl:many', 100, 1000);
SELECT auth_kv_set('quota:counter', '41');
SELECT auth_kv_set_owned('quota:owned', 'v', 'quota:user');
CREATE TEMP TABLE tok AS
	SELECT auth_token_issue('quota:subject', 'p' || i, 100) AS t
	FROM generate_series(1, 3) AS i;

-- 100 kB, the limit the test fills
SET authstore.max_size = 100;
SHOW authstore.max_size;

-- fill with 1000-byte values, then top up with 1-byte values
SELECT pg_temp.fill('quota:big:', 1000);
SELECT pg_temp.fill('quota:small:', 1);
SELECT fill, n > 0 AS stored_some, sqlstate, message,
	   regexp_replace(detail, '[0-9]+', 'N', 'g') AS detail, hint
  FROM refusal ORDER BY fill;
-- refused within one row of the limit (the estimate is exact here: every
-- write was a new row)
SELECT pg_temp.held() <= 100 * 1024 AS within_limit,
	   pg_temp.held() > 100 * 1024 - 100 AS within_one_small_row,
	   (regexp_match(detail, 'about ([0-9]+) bytes'))[1]::bigint = pg_temp.held() AS detail_is_held
  FROM refusal WHERE fill = 'quota:small:';

-- over the limit: whatever adds data is refused, on either path
SELECT q, pg_temp.try(q) AS result FROM (VALUES
	($$SELECT auth_kv_set('quota:x', repeat('y', 100))$$),
	($$SELECT auth_kv_set_if_not_exists('quota:x', repeat('y', 100))$$),
	($$SELECT auth_kv_set_owned('quota:x', repeat('y', 100), 'quota:user')$$),
	($$SELECT auth_kv_compare_and_set('quota:x', NULL, repeat('y', 100))$$),
	($$SELECT auth_kv_compare_and_set('quota:counter', '41', repeat('y', 100))$$),
	($$SELECT auth_kv_incr('quota:new-counter')$$),
	($$SELECT auth_kv_incr('quota:counter')$$),
	($$SELECT * FROM auth_rl_hit('quota:rl:new', 100, 5)$$),
	($$SELECT auth_token_issue('quota:subject', 'p', 100)$$)
) AS t(q);

-- ... and everything else works: reads, ttl, expire, take, delete,
-- rate-limit hits on existing rows (denied and allowed), tokens
SELECT count(*) > 50 AS many_acked,
	   count(*) = count(*) FILTER (WHERE auth_kv_get(key) = value) AS all_readable
  FROM acked;
SELECT auth_kv_get('quota:counter'), auth_kv_ttl('quota:counter');
SELECT auth_kv_expire('quota:counter', 1000), auth_kv_ttl('quota:counter');
SELECT allowed, count FROM auth_rl_hit('quota:rl:one', 100, 1);
SELECT allowed, count FROM auth_rl_hit('quota:rl:many', 100, 1000);
SELECT auth_token_verify(t, 'p1') AS verified FROM tok WHERE auth_token_verify(t, 'p1') IS NOT NULL;
SELECT count(*) AS consumed FROM tok WHERE auth_token_consume(t, 'p2') IS NOT NULL;
SELECT auth_token_revoke('quota:subject', 'p3') AS revoked;
SELECT auth_kv_take('quota:big:1') = (SELECT value FROM acked WHERE key = 'quota:big:1') AS taken;
SELECT auth_kv_delete('quota:big:3') AS deleted;
SELECT auth_kv_owner_delete('quota:user') AS owner_deleted;
DELETE FROM acked WHERE key IN ('quota:big:1', 'quota:big:3');
-- set with a TTL of 0 removes the key: allowed
SELECT auth_kv_set('quota:big:5', 'gone', 0);
DELETE FROM acked WHERE key = 'quota:big:5';

-- the sweep removes the expired half; after a second (the quota measures
-- the tables at most once a second while over the limit) writes succeed
SET authstore.test_clock = 4102444810;
SELECT auth_kv_sweep() > 40 AS swept;
DELETE FROM acked WHERE auth_kv_get(key) IS NULL AND split_part(key, ':', 3)::int % 2 = 0;
SELECT pg_sleep(1.1);
SELECT pg_temp.try($$SELECT auth_kv_set('quota:after-sweep', repeat('y', 1000))$$) AS after_sweep;
INSERT INTO acked SELECT 'quota:after-sweep', repeat('y', 1000);
SELECT allowed FROM auth_rl_hit('quota:rl:new', 100, 5);
SELECT length(auth_token_issue('quota:subject', 'p', 100)) AS issued;

-- fill again, delete, and write again
DELETE FROM refusal;
SELECT pg_temp.fill('quota:more:', 1000);
SELECT fill, n > 10 AS many_stored, sqlstate FROM refusal;
SELECT pg_temp.try($$SELECT auth_kv_set('quota:x', repeat('y', 1000))$$) AS still_full;
SELECT auth_kv_clear('quota:more:') > 10 AS deleted;
DELETE FROM acked WHERE key LIKE 'quota:more:%';
SELECT pg_sleep(1.1);
SELECT pg_temp.try($$SELECT auth_kv_set('quota:x', repeat('y', 1000))$$) AS after_delete;
INSERT INTO acked SELECT 'quota:x', repeat('y', 1000);

-- nothing acknowledged was lost
SELECT count(*) > 40 AS many_acked,
	   count(*) = count(*) FILTER (WHERE auth_kv_get(key) = value) AS all_readable
  FROM acked;

-- off again: no limit
RESET authstore.max_size;
SELECT pg_temp.try($$SELECT auth_kv_set('quota:big', repeat('z', 200000))$$) AS quota_off;

-- only a superuser sets the quota
CREATE ROLE quota_app;
SET ROLE quota_app;
SET authstore.max_size = 0;
RESET ROLE;
DROP ROLE quota_app;

SELECT auth_kv_clear('');
DELETE FROM authstore.rate_limit;
DELETE FROM authstore.token;
