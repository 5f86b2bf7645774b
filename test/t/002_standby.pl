
# Copyright (c) authstore contributors
#
# authstore on a streaming standby.
#
# authstore keeps its data in UNLOGGED tables, which exist only on the
# primary: on a standby every SQL function must refuse to run with a clear
# error (SQLSTATE 25006) instead of crashing or leaking "cannot access
# temporary or unlogged relations during recovery", and the background
# worker (BgWorkerStart_RecoveryFinished) must not run.  Once the standby is
# promoted the functions work, on empty tables, and the worker starts.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# Every SQL function of the extension, called with valid arguments, and the
# signature of the function each statement calls.  The catalog check below
# makes the test fail when a function is added without a case here.
my @cases = (
	[ "SELECT auth_kv_set('k', 'v')", 'auth_kv_set(text,text,double precision)' ],
	[ "SELECT auth_kv_set('k', 'v', 10)", 'auth_kv_set(text,text,double precision)' ],
	[ "SELECT auth_kv_get('k')", 'auth_kv_get(text)' ],
	[ "SELECT auth_kv_take('k')", 'auth_kv_take(text)' ],
	[
		"SELECT auth_kv_set_if_not_exists('k', 'v')",
		'auth_kv_set_if_not_exists(text,text,double precision)'
	],
	[ "SELECT auth_kv_delete('k')", 'auth_kv_delete(text)' ],
	[ "SELECT auth_kv_incr('c')", 'auth_kv_incr(text,double precision)' ],
	[ "SELECT auth_kv_ttl('k')", 'auth_kv_ttl(text)' ],
	[ "SELECT auth_kv_expire('k', 10)", 'auth_kv_expire(text,double precision)' ],
	[ "SELECT * FROM auth_kv_keys('')", 'auth_kv_keys(text)' ],
	[ "SELECT auth_kv_clear('')", 'auth_kv_clear(text)' ],
	[
		"SELECT auth_kv_compare_and_set('k', 'v', 'w')",
		'auth_kv_compare_and_set(text,text,text,double precision)'
	],
	[
		"SELECT auth_kv_compare_and_set('k', NULL, 'w', 10)",
		'auth_kv_compare_and_set(text,text,text,double precision)'
	],
	[ "SELECT auth_kv_delete_if_value('k', 'v')", 'auth_kv_delete_if_value(text,text)' ],
	[ "SELECT auth_kv_sweep()", 'auth_kv_sweep(integer)' ],
	[
		"SELECT * FROM auth_rl_hit('r', 60, 5)",
		'auth_rl_hit(text,double precision,integer)'
	],
	[ "SELECT auth_rl_reset('r')", 'auth_rl_reset(text)' ],
	[
		"SELECT auth_token_issue('u', 'reset', 60)",
		'auth_token_issue(text,text,double precision)'
	],
	[
		"SELECT auth_token_verify(repeat('A', 43), 'reset')",
		'auth_token_verify(text,text)'
	],
	[
		"SELECT auth_token_consume(repeat('A', 43), 'reset')",
		'auth_token_consume(text,text)'
	],
	[ "SELECT auth_token_revoke('u')", 'auth_token_revoke(text,text)' ],
	[ "SELECT auth_set_durable(false)", 'auth_set_durable(boolean)' ],
	[ "SELECT * FROM auth_kv_keys('', NULL, 1)", 'auth_kv_keys(text,text,integer)' ],
	[
		"SELECT auth_kv_set_owned('k', 'v', 'o', 10)",
		'auth_kv_set_owned(text,text,text,double precision)'
	],
	[ "SELECT * FROM auth_kv_owner_keys('o')", 'auth_kv_owner_keys(text)' ],
	[ "SELECT auth_kv_owner_delete('o')", 'auth_kv_owner_delete(text)' ],
	[ "SELECT authstore.auth_kv_sweep()", 'authstore.auth_kv_sweep(integer)' ],
	[ "SELECT authstore.auth_set_durable(false)", 'authstore.auth_set_durable(boolean)' ],
);

# The extension's own functions named auth_*, as regprocedure text, but for
# the statistics functions: they read shared memory, not the tables, and
# work on a standby (tested below).
my $catalog_sql = q{
SELECT p.oid::pg_catalog.regprocedure
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_depend d
  ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
 AND d.objid = p.oid
 AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
 AND d.deptype = 'e'
JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
WHERE e.extname = 'authstore'
  AND pg_catalog.left(p.proname, 5) = 'auth_'
  AND p.proname NOT IN ('auth_stats', 'auth_stats_reset')
ORDER BY 1::text
};

sub worker_count
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'authstore%'"
	);
}

sub no_crash_in_log
{
	my ($node) = @_;
	my $log = slurp_file($node->logfile);
	unlike($log, qr/terminated by signal/,
		$node->name . ': no process terminated by a signal');
	# A backend is a "server process" up to 17 and is named by its type
	# ("client backend", ...) from 18 on.
	unlike($log,
		qr/(?:server process|client backend|walsender|autovacuum worker) .* exited with exit code/,
		$node->name . ': no server process exited abnormally');
}

###
### 1. Primary with the library preloaded and some data.
###
my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'authstore'
authstore.database = 'postgres'
});
$primary->start;

$primary->safe_psql('postgres', 'CREATE EXTENSION authstore');
$primary->safe_psql('postgres',
	"SELECT auth_kv_set('k', 'v'); SELECT auth_kv_set('k1', 'v1', 3600)");
is($primary->safe_psql('postgres', "SELECT count FROM auth_rl_hit('r', 60, 5)"),
	'1', 'primary: first rate-limit hit counted');

# The worker-detection query does see the worker where it runs, so that its
# absence on the standby below means something.
ok( $primary->poll_query_until(
		'postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'authstore launcher'"
	),
	'primary: authstore launcher runs');

###
### 2. Streaming standby, also preloading authstore.
###
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;

# Something written after the backup, so that catch-up proves streaming.
$primary->safe_psql('postgres', "SELECT auth_kv_set('k3', 'v3')");
$primary->wait_for_catchup($standby);

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'),
	't', 'standby is in recovery');
is($standby->safe_psql('postgres', 'SHOW shared_preload_libraries'),
	'authstore', 'standby preloads authstore');
is($standby->safe_psql('postgres', 'SHOW authstore.database'),
	'postgres', 'standby: the library is loaded (its GUC exists)');
is( $standby->safe_psql('postgres',
		"SELECT extversion FROM pg_extension WHERE extname = 'authstore'"),
	'0.2.0',
	'standby: the extension catalog entry replicated');

# Why the check exists: the unlogged table itself is unreadable there.
my ($ret, $out, $err);
$ret = $standby->psql('postgres', 'SELECT count(*) FROM authstore.kv',
	stdout => \$out, stderr => \$err);
like(
	$err,
	qr/cannot access temporary or unlogged relations during recovery/,
	'standby: the unlogged table itself is not accessible');

###
### 3. Every function fails on the standby with the documented error.
###
for my $case (@cases)
{
	my ($sql) = @$case;

	$ret = $standby->psql(
		'postgres', "\\set VERBOSITY verbose\n$sql;\n",
		stdout => \$out,
		stderr => \$err,
		on_error_stop => 1);
	note("standby stderr for $sql:\n$err");

	is($ret, 3, "standby: $sql fails (psql stops on the error)");
	is($out, '', "standby: $sql returns nothing");
	like(
		$err,
		qr/^(?:psql:[^\n]*?: )?ERROR:  25006: authstore is not available on a standby server$/m,
		"standby: $sql raises the standby error with SQLSTATE 25006");
	like(
		$err,
		qr/^DETAIL:  authstore keeps its data in unlogged tables, which exist only on the primary\.$/m,
		"standby: $sql has the detail");
	like(
		$err,
		qr/^HINT:  Connect to the primary server\.$/m,
		"standby: $sql has the hint");
	is(scalar(() = $err =~ /ERROR:/g),
		1, "standby: $sql raises exactly one error");
}

# The list above covers exactly the extension's auth_* functions.
my @catalog = split /\n/, $standby->safe_psql('postgres', $catalog_sql);
my %seen;
my @tested = sort grep { !$seen{$_}++ } map { $_->[1] } @cases;
is(scalar(@tested), scalar(@catalog),
	'standby: as many functions tested as the extension has auth_* functions'
);
is_deeply(\@tested, [ sort @catalog ],
	'standby: every auth_* function of the extension was tested, and only those'
);

# The statistics read shared memory and answer on a standby: the current
# database's row, with nothing counted there (the calls above failed first).
is( $standby->safe_psql('postgres',
		'SELECT datname, kv_sets, rl_allowed, tokens_issued FROM auth_stats; SELECT auth_stats_reset()'),
	"postgres|0|0|0\n",
	'standby: auth_stats and auth_stats_reset() work and show nothing counted');

###
### 4. No worker on the standby, which is still up; primary data untouched.
###
is(worker_count($standby), '0', 'standby: no authstore worker runs');
is($standby->safe_psql('postgres', 'SELECT 1'), '1', 'standby: still answers');
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'),
	't', 'standby: still in recovery');
no_crash_in_log($standby);

is($primary->safe_psql('postgres', "SELECT auth_kv_get('k')"),
	'v', "primary: key 'k' is still there");
is( $primary->safe_psql('postgres', "SELECT string_agg(k, ',') FROM auth_kv_keys('') k"),
	'k,k1,k3',
	'primary: all keys are still there');
is( $primary->safe_psql('postgres',
		"SELECT hits FROM authstore.rate_limit WHERE key = 'r'"),
	'1',
	'primary: rate-limit state untouched');

# The statements were valid: each runs on the primary (rolled back, so the
# data stays as it is).
for my $case (@cases)
{
	my ($sql) = @$case;

	$ret = $primary->psql('postgres', "BEGIN;\n$sql;\nROLLBACK;\n",
		stdout => \$out, stderr => \$err);
	is($ret, 0, "primary: $sql succeeds");
	is($err, '', "primary: $sql gives no error");
}
is( $primary->safe_psql('postgres', "SELECT string_agg(k, ',') FROM auth_kv_keys('') k"),
	'k,k1,k3',
	'primary: keys unchanged after the rolled-back calls');

###
### 5. Promotion: empty tables, working functions, running worker.
###
$standby->promote;
ok($standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()'),
	'standby promoted');

is( $standby->safe_psql('postgres',
		'SELECT (SELECT count(*) FROM authstore.kv) + (SELECT count(*) FROM authstore.rate_limit)'
	),
	'0',
	'promoted: unlogged tables are empty');
is($standby->safe_psql('postgres', "SELECT auth_kv_get('k') IS NULL"),
	't', "promoted: auth_kv_get('k') is NULL");
$standby->safe_psql('postgres', "SELECT auth_kv_set('k2', 'v')");
is($standby->safe_psql('postgres', "SELECT auth_kv_get('k2')"),
	'v', "promoted: auth_kv_set then auth_kv_get works");
is($standby->safe_psql('postgres', "SELECT count FROM auth_rl_hit('r', 60, 5)"),
	'1', 'promoted: rate-limit state starts afresh');

# Every statement that failed on the standby works now.
for my $case (@cases)
{
	my ($sql) = @$case;

	$ret = $standby->psql('postgres', "BEGIN;\n$sql;\nROLLBACK;\n",
		stdout => \$out, stderr => \$err);
	is($ret, 0, "promoted: $sql succeeds");
	is($err, '', "promoted: $sql gives no error");
}

ok( $standby->poll_query_until(
		'postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'authstore launcher'"
	),
	'promoted: authstore launcher starts');
ok( $standby->poll_query_until(
		'postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'authstore sweeper' AND datname = 'postgres'"
	),
	'promoted: authstore sweeper for postgres starts');

no_crash_in_log($standby);
no_crash_in_log($primary);

$standby->stop;
$primary->stop;

done_testing();
