# Copyright (c) authstore contributors
#
# Statistics (issue 14): every operation and outcome is counted in shared
# memory, per database; the sweeper's rows, cycles and last cycle show; the
# view is readable by pg_monitor members without access to keys; only a
# superuser may reset; without preloading, a clear error.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('authstore_stats');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'authstore'
authstore.database = 'postgres, other'
authstore.sweep_interval = '100ms'
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE other');
for my $db ('postgres', 'other')
{
	$node->safe_psql($db, 'CREATE EXTENSION authstore');
}
$node->safe_psql(
	'postgres', q{
	CREATE ROLE mon LOGIN IN ROLE pg_monitor;
	CREATE ROLE app LOGIN IN ROLE authstore_user;});

my $counters = q{kv_get_hits, kv_get_misses, kv_sets, kv_nx_stored,
	kv_nx_existed, kv_incrs, kv_take_hits, kv_take_misses, kv_delete_hits,
	kv_delete_misses, kv_cleared, rl_allowed, rl_denied, rl_resets,
	tokens_issued, tokens_verified, tokens_verify_rejected, tokens_consumed,
	tokens_consume_rejected, tokens_revoked};

sub counts
{
	my ($db) = @_;
	return $node->safe_psql($db,
		"SELECT concat_ws(',', $counters) FROM auth_stats WHERE datname = '$db'"
	);
}

is(counts('postgres'), join(',', (0) x 20), 'all counters start at 0');

# Every operation and outcome a known number of times, as the app role, on
# both paths (the statement path must count the same).
for my $direct ('on', 'off')
{
	$node->safe_psql('postgres', 'SELECT auth_stats_reset()');
	my $out = $node->psql(
		'postgres', qq{
		SET authstore.direct_access = $direct;
		SET ROLE app;
		SELECT auth_kv_set('k1', 'v'), auth_kv_set('k2', 'v'), auth_kv_set('k3', 'v');
		SELECT auth_kv_get('k1'), auth_kv_get('k1'), auth_kv_get('nope');
		SELECT auth_kv_set_if_not_exists('k1', 'v'), auth_kv_set_if_not_exists('nx', 'v');
		SELECT auth_kv_incr('n'), auth_kv_incr('n'), auth_kv_incr('n');
		SELECT auth_kv_take('k2'), auth_kv_take('k2');
		SELECT auth_kv_delete('k3'), auth_kv_delete('k3'), auth_kv_delete('nope');
		SELECT auth_kv_clear('');
		SELECT allowed FROM auth_rl_hit('rl', 60, 2);
		SELECT allowed FROM auth_rl_hit('rl', 60, 2);
		SELECT allowed FROM auth_rl_hit('rl', 60, 2);
		SELECT auth_rl_reset('rl'), auth_rl_reset('rl');
		SELECT auth_token_issue('s', 'p', 60) AS t1 \\gset
		SELECT auth_token_issue('s', 'p', 60) AS t2 \\gset
		SELECT auth_token_verify(:'t1', 'p'), auth_token_verify(:'t1', 'wrong'),
		       auth_token_verify('garbage', 'p');
		SELECT auth_token_consume(:'t1', 'p'), auth_token_consume(:'t1', 'p');
		SELECT auth_token_revoke('s');});
	# hits 2, misses 1, sets 3, nx stored 1 existed 1, incr 3, take 1/1,
	# delete 1/2, cleared 3 (k1, nx, n), rl allowed 2 denied 1, reset 1,
	# issued 2, verified 1, verify rejected 2, consumed 1, rejected 1,
	# revoked 1 (t2)
	is(counts('postgres'), '2,1,3,1,1,3,1,1,1,2,3,2,1,1,2,1,2,1,1,1',
		"every operation and outcome counted once (direct_access = $direct)");
}

is(counts('other'), join(',', (0) x 20),
	'the other database counts separately');

# The sweeper's figures.
$node->safe_psql('postgres', 'SELECT auth_stats_reset()');
$node->safe_psql(
	'postgres', q{
	BEGIN;
	SELECT count(auth_kv_set('exp' || g, 'v', 0.1)) FROM generate_series(1, 500) g;
	SELECT pg_sleep(0.3);
	COMMIT;});
ok( $node->poll_query_until(
		'postgres', q{
		SELECT sweep_rows_deleted = 500 AND sweep_cycles > 0
		   AND last_sweep_start > now() - interval '10 s'
		   AND last_sweep_ms >= 0 AND expired_unswept_estimate = 0
		FROM auth_stats WHERE datname = 'postgres'}),
	'the sweeper reports 500 rows deleted, its cycles and last cycle, nothing left unswept');

# Privileges: pg_monitor reads the view but no key; the app role and
# PUBLIC do not read it; only a superuser resets.
is( $node->safe_psql(
		'postgres', 'SELECT count(*) > 0 FROM auth_stats',
		connstr => $node->connstr('postgres') . ' user=mon'),
	't',
	'a pg_monitor member reads the view');
my ($rc, $out, $err) = $node->psql('postgres', 'SELECT * FROM authstore.kv',
	connstr => $node->connstr('postgres') . ' user=mon');
like($err, qr/permission denied for schema authstore/,
	'a pg_monitor member reads no key');
($rc, $out, $err) = $node->psql('postgres', 'SELECT * FROM auth_stats',
	connstr => $node->connstr('postgres') . ' user=app');
like($err, qr/permission denied for view auth_stats/,
	'the app role does not read the view');
($rc, $out, $err) = $node->psql('postgres', 'SELECT auth_stats_reset()',
	connstr => $node->connstr('postgres') . ' user=mon');
like($err, qr/permission denied for function auth_stats_reset/,
	'a pg_monitor member cannot reset');
$node->stop;

# Without preloading: a clear error, not empty rows.
my $plain = PostgreSQL::Test::Cluster->new('authstore_stats_plain');
$plain->init;
$plain->start;
$plain->safe_psql('postgres', 'CREATE EXTENSION authstore');
($rc, $out, $err) = $plain->psql('postgres', 'SELECT * FROM auth_stats');
like(
	$err,
	qr/ERROR:  authstore statistics are not available.*HINT:  Add authstore to shared_preload_libraries/s,
	'without preloading, the view says why it has nothing');
is($plain->safe_psql('postgres', q{SELECT auth_kv_set('k', 'v')}),
	'', 'and counting is a no-op: the API works');
$plain->stop;

done_testing();
