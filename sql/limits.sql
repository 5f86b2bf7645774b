-- limits: key and value sizes are bounded by superuser-only settings; going
-- over names the setting and writes nothing.
SET authstore.test_clock = 4102444800;
SELECT auth_kv_clear('');

SHOW authstore.max_key_bytes;
SHOW authstore.max_value_bytes;

-- keys: 1024 bytes is fine, 1025 is not; multibyte characters count as bytes
SELECT auth_kv_set(repeat('k', 1024), 'v');
SELECT auth_kv_set(repeat('k', 1025), 'v');
SELECT auth_kv_get(repeat('k', 1025));
SELECT * FROM auth_rl_hit(repeat('k', 1025), 60, 1);
SELECT auth_kv_set(repeat('é', 512), 'v');
SELECT auth_kv_set(repeat('é', 513), 'v');
SELECT octet_length(k) FROM auth_kv_keys() AS k ORDER BY 1;

-- values: 1 MB is fine, one byte more is not, and the old value stays
SELECT auth_kv_set('val', repeat('x', 1048576));
SELECT auth_kv_set('val', repeat('y', 1048577));
SELECT auth_kv_set_if_not_exists('val2', repeat('y', 1048577));
SELECT length(auth_kv_get('val')), left(auth_kv_get('val'), 1);
SELECT auth_kv_get('val2') IS NULL AS val2_absent;

-- the limits can be changed (by a superuser) within bounds
SET authstore.max_value_bytes = 10;
SELECT auth_kv_set('small', repeat('x', 10));
SELECT auth_kv_set('small', repeat('x', 11));
SET authstore.max_value_bytes = '2kB';
SELECT auth_kv_set('small', repeat('x', 2048));
SELECT auth_kv_set('small', repeat('x', 2049));
RESET authstore.max_value_bytes;
SET authstore.max_key_bytes = 4;
SELECT auth_kv_set('abcd', 'v');
SELECT auth_kv_set('abcde', 'v');
-- the btree entry limit (~2704 bytes) caps the setting: at its maximum, a
-- token's subject and purpose still fit one index entry together
SET authstore.max_key_bytes = 4000;
SET authstore.max_key_bytes = 1300;
SELECT auth_kv_set(repeat('k', 1300), 'v');
SELECT length(auth_token_issue(repeat('s', 1300), repeat('p', 1300), 60)) AS token_length;
SELECT auth_token_revoke(repeat('s', 1300)) AS revoked;
RESET authstore.max_key_bytes;

SELECT auth_kv_clear('');
