-- kv: every key-value function, one at a time, with the clock pinned far in
-- the future (2100-01-01) so the real-clock sweeper can never touch these rows.
SET authstore.test_clock = 4102444800;
SELECT auth_kv_clear('');

-- set / get; set is an upsert; an empty value is a value
SELECT auth_kv_set('session:1', '{"user":"u1"}');
SELECT auth_kv_get('session:1');
SELECT auth_kv_set('session:1', 'v2');
SELECT auth_kv_get('session:1');
SELECT auth_kv_get('missing') IS NULL AS missing_is_null;
SELECT auth_kv_set('empty', '');
SELECT auth_kv_get('empty') = '' AS empty_value_kept;

-- take: get-and-delete; a second take finds nothing
SELECT auth_kv_set('otp', '123456', 300);
SELECT auth_kv_take('otp');
SELECT auth_kv_take('otp') IS NULL AS second_take_is_null;
SELECT auth_kv_get('otp') IS NULL AS gone;
SELECT auth_kv_take('never-set') IS NULL AS take_missing_is_null;

-- set_if_not_exists: first caller wins, nothing changes for the second
SELECT auth_kv_set_if_not_exists('lock:a', 'owner1', 30);
SELECT auth_kv_set_if_not_exists('lock:a', 'owner2', 30);
SELECT auth_kv_get('lock:a'), auth_kv_ttl('lock:a');
SELECT auth_kv_set_if_not_exists('lock:b', 'x');
SELECT auth_kv_ttl('lock:b');

-- delete: true only when a live key was removed
SELECT auth_kv_delete('lock:a') AS first, auth_kv_delete('lock:a') AS second;

-- incr: creates at 1, adds 1, works on negative integers
SELECT auth_kv_incr('counter') AS a, auth_kv_incr('counter') AS b, auth_kv_incr('counter') AS c;
SELECT auth_kv_get('counter');
SELECT auth_kv_set('neg', '-5');
SELECT auth_kv_incr('neg');
SELECT auth_kv_set('neg1', '-1');
SELECT auth_kv_incr('neg1');
-- incr of a non-integer or at the top of the range is an error; value unchanged
SELECT auth_kv_set('notint', 'abc');
SELECT auth_kv_incr('notint');
SELECT auth_kv_get('notint');
SELECT auth_kv_set('spaces', ' 1');
SELECT auth_kv_incr('spaces');
SELECT auth_kv_set('plus', '+1');
SELECT auth_kv_incr('plus');
SELECT auth_kv_set('dash', '-');
SELECT auth_kv_incr('dash');
SELECT auth_kv_set('emptyint', '');
SELECT auth_kv_incr('emptyint');
SELECT auth_kv_set('zero', '0');
SELECT auth_kv_incr('zero');
SELECT auth_kv_set('leadingzero', '05');
SELECT auth_kv_incr('leadingzero');
SELECT auth_kv_set('minuszero', '-0');
SELECT auth_kv_incr('minuszero');
SELECT auth_kv_set('max', '9223372036854775806');
SELECT auth_kv_incr('max');
SELECT auth_kv_incr('max');
SELECT auth_kv_get('max');
SELECT auth_kv_set('min', '-9223372036854775808');
SELECT auth_kv_incr('min');
SELECT auth_kv_set('huge', '99999999999999999999');
SELECT auth_kv_incr('huge');
SELECT auth_kv_get('huge');

-- keys and clear take the prefix literally: % _ \ are ordinary characters
SELECT auth_kv_clear('');
SELECT auth_kv_set(k, 'x')
  FROM unnest(ARRAY['a%b', 'a%c', 'axb', 'a_b', 'azb', E'a\\b', E'a\\\\b', 'ab', 'a', 'b']) AS k;
SELECT * FROM auth_kv_keys('a%');
SELECT * FROM auth_kv_keys('a_');
SELECT * FROM auth_kv_keys(E'a\\');
SELECT * FROM auth_kv_keys('a');
SELECT * FROM auth_kv_keys();
SELECT * FROM auth_kv_keys('zzz');
SELECT auth_kv_clear('a%');
SELECT auth_kv_clear('a_');
SELECT auth_kv_clear(E'a\\');
SELECT * FROM auth_kv_keys();
SELECT auth_kv_clear('a');
SELECT * FROM auth_kv_keys();

-- clear never touches rate-limit state
SELECT allowed, count FROM auth_rl_hit('b', 60, 5);
SELECT auth_kv_clear('');
SELECT * FROM auth_kv_keys();
SELECT count(*) AS rl_rows_kept FROM authstore.rate_limit WHERE key = 'b';
SELECT auth_rl_reset('b');

-- non-ASCII keys and values; keys come back in bytewise order
SELECT auth_kv_set('ключ', 'значение'), auth_kv_set('키', '값'),
       auth_kv_set('emoji:🔑', '✓'), auth_kv_set('Zed', 'z'), auth_kv_set('zed', 'z');
SELECT auth_kv_get('ключ'), auth_kv_get('키'), auth_kv_get('emoji:🔑');
SELECT * FROM auth_kv_keys();
SELECT * FROM auth_kv_keys('клю');
SELECT auth_kv_clear('ключ');
SELECT auth_kv_get('ключ') IS NULL AS cleared;

-- values large enough to be TOASTed: compressible and incompressible
SELECT auth_kv_set('big:1', repeat('x', 500000));
SELECT length(auth_kv_get('big:1'));
SELECT auth_kv_set('big:2', string_agg(md5(i::text), '')) FROM generate_series(1, 8000) AS i;
SELECT md5(auth_kv_get('big:2')) = md5(string_agg(md5(i::text), '')) AS intact
  FROM generate_series(1, 8000) AS i;
SELECT pg_relation_size(reltoastrelid) > 0 AS toasted
  FROM pg_class WHERE oid = 'authstore.kv'::regclass;
SELECT md5(auth_kv_take('big:2')) = md5(string_agg(md5(i::text), '')) AS taken_intact
  FROM generate_series(1, 8000) AS i;
SELECT auth_kv_get('big:2') IS NULL AS big_taken;
SELECT auth_kv_clear('');
