# Without shared_preload_libraries: no worker runs, every function still
# works, expired keys read as absent (lazy expiry) and auth_kv_sweep()
# removes them when called by hand.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('no_preload');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION authstore');

is( $node->safe_psql(
		'postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'authstore%'}),
	'0',
	'no authstore worker runs without preloading');

is( $node->safe_psql(
		'postgres', q{
	SELECT auth_kv_set('keep', 'v');
	SELECT auth_kv_set('short', 'v', 0.05);
	SELECT auth_kv_get('keep');}),
	"\n\nv",
	'set and get work');

# Let the short key expire; nothing sweeps it.
$node->safe_psql('postgres', 'SELECT pg_sleep(0.2)');
is( $node->safe_psql(
		'postgres', q{
	SELECT auth_kv_get('short') IS NULL,
	       (SELECT count(*) FROM authstore.kv WHERE key = 'short')}),
	't|1',
	'an expired key reads as absent although its row is still there');

is($node->safe_psql('postgres', 'SELECT auth_kv_sweep()'),
	'1', 'auth_kv_sweep() by hand removes it');
is($node->safe_psql('postgres', 'SELECT count(*) FROM authstore.kv'),
	'1', 'only the live key is left');

# The rest of the API, once each.
is( $node->safe_psql(
		'postgres', q{
	SELECT auth_kv_take('keep')
	    || auth_kv_set_if_not_exists('nx', 'v')::text
	    || auth_kv_incr('n')::text
	    || auth_kv_expire('nx', 10)::text
	    || (SELECT string_agg(k, ',') FROM auth_kv_keys('n') k)
	    || auth_kv_delete('nx')::text
	    || auth_kv_clear('')::text
	    || (SELECT allowed::text FROM auth_rl_hit('r', 60, 1))
	    || auth_rl_reset('r')::text
	    || auth_kv_ttl('n') IS NULL}),
	't',
	'every key-value and rate-limit function works');
is( $node->safe_psql(
		'postgres', q{
	SELECT auth_token_issue('u', 'p', 60) AS t \gset
	SELECT auth_token_verify(:'t', 'p') || auth_token_consume(:'t', 'p')
	    || auth_token_revoke('u')::text}),
	'uu0',
	'token functions work');

# The settings are known to the server once the library is loaded by a call,
# and the test clock still works (lazy expiry follows it).
is( $node->safe_psql(
		'postgres', q{
	SET authstore.test_clock = 4102444800;
	SELECT auth_kv_set('pinned', 'v', 10);
	SET authstore.test_clock = 4102444810;
	SELECT auth_kv_get('pinned') IS NULL;}),
	"\nt",
	'the pinned clock decides expiry without the worker too');

$node->stop;
done_testing();
