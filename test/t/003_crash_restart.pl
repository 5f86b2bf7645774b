# Copyright (c) authstore contributors
#
# authstore across restarts and crashes.
#
#  1. A clean (fast) restart keeps everything: keys with their TTLs, counters,
#     rate-limit state (the next hit continues the count) and tokens; the
#     workers come back.
#  2. A crash -- an immediate shutdown, and separately a regular backend
#     killed with SIGKILL, which makes the postmaster reinitialize -- empties
#     the UNLOGGED tables; every function works on them at once and the
#     workers come back.
#  3. In durable mode (auth_set_durable(true): LOGGED tables) everything
#     committed survives both kinds of crash, and an uncommitted write does
#     not; back in UNLOGGED mode a crash empties the tables again.
#  4. A crash while the sweeper is in the middle of a long sweep (the sweeper
#     itself killed) leaves a consistent store that the new sweeper finishes.
#
# Waits are polls, never long fixed sleeps.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib "$FindBin::RealBin/../perl";
use AuthstoreTest;

my $node = PostgreSQL::Test::Cluster->new('authstore_crash');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'authstore'
authstore.database = 'postgres'
authstore.sweep_interval = '100ms'
# small batches: a long sweep is many short transactions (section 4)
authstore.sweep_batch_size = 10
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION authstore');

my $datadir = $node->data_dir;

###########################################################################
# Helpers
###########################################################################

# Wait until the launcher and exactly one sweeper of "postgres" run.
sub workers_up
{
	return $node->poll_query_until(
		'postgres', q{
		SELECT count(*) FILTER (WHERE backend_type = 'authstore launcher') = 1
		   AND count(*) FILTER (WHERE backend_type = 'authstore sweeper'
		                          AND datname = 'postgres') = 1
		FROM pg_stat_activity});
}

sub checkpointer_pid
{
	return $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'});
}

# Rows in the three storage tables, as "kv|rate_limit|token".
sub row_counts
{
	return $node->safe_psql(
		'postgres', q{
		SELECT (SELECT count(*) FROM authstore.kv) || '|' ||
		       (SELECT count(*) FROM authstore.rate_limit) || '|' ||
		       (SELECT count(*) FROM authstore.token)});
}

# The storage relations: the three tables, their indexes, their TOAST
# tables and the TOAST indexes.  Returns "persistence:count" per distinct
# relpersistence, and the number of them that have an init fork on disk
# (what makes crash recovery reset an unlogged relation).
sub persistence
{
	my $out = $node->safe_psql(
		'postgres', q{
		WITH t AS (SELECT oid FROM pg_class
		           WHERE relnamespace = 'authstore'::regnamespace AND relkind = 'r'
		             AND relname <> 'confinement'),
		     toast AS (SELECT reltoastrelid AS oid FROM pg_class
		               WHERE oid IN (SELECT oid FROM t) AND reltoastrelid <> 0),
		     rels AS (SELECT oid FROM t
		              UNION SELECT oid FROM toast
		              UNION SELECT indexrelid FROM pg_index
		                    WHERE indrelid IN (SELECT oid FROM t UNION SELECT oid FROM toast))
		SELECT c.relpersistence::text || ' ' || pg_relation_filepath(c.oid)
		FROM pg_class c WHERE c.oid IN (SELECT oid FROM rels)
		ORDER BY 1});
	my (%n, $init_forks);
	$init_forks = 0;
	for my $line (split /\n/, $out)
	{
		my ($p, $path) = split / /, $line;
		$n{$p}++;
		$init_forks++ if -e "$datadir/${path}_init";
	}
	return (join(',', map { "$_:$n{$_}" } sort keys %n), $init_forks);
}

# Store one of everything under prefix $p; return the two tokens issued:
# $p-a is left valid, $p-b is consumed before the crash.
sub populate
{
	my ($p) = @_;
	my $out = $node->safe_psql(
		'postgres', qq{
		SELECT auth_kv_set('$p:plain', 'value of $p:plain');
		SELECT auth_kv_set('$p:ttl', 'value of $p:ttl', 3600);
		SELECT auth_kv_set('$p:gone', 'deleted before the crash');
		SELECT auth_kv_delete('$p:gone');
		SELECT auth_kv_incr('$p:ctr');
		SELECT auth_kv_incr('$p:ctr');
		SELECT auth_kv_incr('$p:ctr');
		SELECT count FROM auth_rl_hit('$p:rl', 3600, 10);
		SELECT count FROM auth_rl_hit('$p:rl', 3600, 10);
		SELECT count FROM auth_rl_hit('$p:rl', 3600, 10);
		SELECT auth_token_issue('$p-a', 'reset', 3600);
		SELECT auth_token_issue('$p-b', 'reset', 3600) AS tok \\gset
		SELECT auth_token_consume(:'tok', 'reset');
		SELECT :'tok';
	});
	my @lines = split /\n/, $out;
	# set, set, set, delete, incr x3, hit x3, issue a, consume b, b
	die "unexpected output of populate:\n$out"
	  unless @lines == 13
	  && join(',', @lines[ 3 .. 9 ]) eq 't,1,2,3,1,2,3'
	  && $lines[11] eq "$p-b";
	return ($lines[10], $lines[12]);
}

# What populate($p) stored, as seen now.  Also moves things on: one more
# incr and one more hit.
sub state_of
{
	my ($p, $tok_a, $tok_b) = @_;
	return $node->safe_psql(
		'postgres', qq{
		SELECT 'plain=' || coalesce(auth_kv_get('$p:plain'), 'NULL');
		SELECT 'ttl=' || coalesce(auth_kv_get('$p:ttl'), 'NULL')
		       || ' remaining ' || coalesce((auth_kv_ttl('$p:ttl') BETWEEN 3000 AND 3600)::text, 'NULL');
		SELECT 'plain ttl=' || coalesce(auth_kv_ttl('$p:plain')::text, 'NULL');
		SELECT 'gone=' || coalesce(auth_kv_get('$p:gone'), 'NULL');
		SELECT 'incr=' || auth_kv_incr('$p:ctr');
		SELECT 'hit=' || allowed || ',' || count || ',' || remaining
		FROM auth_rl_hit('$p:rl', 3600, 10);
		SELECT 'token a=' || coalesce(auth_token_verify('$tok_a', 'reset'), 'NULL');
		SELECT 'token b=' || coalesce(auth_token_consume('$tok_b', 'reset'), 'NULL');
	});
}

# The state_of() a populate($p) that survived.
sub survived
{
	my ($p) = @_;
	return join("\n",
		"plain=value of $p:plain",
		"ttl=value of $p:ttl remaining true",
		'plain ttl=Infinity',
		'gone=NULL',
		'incr=4',
		'hit=true,4,6',
		"token a=$p-a",
		'token b=NULL');
}

# The state_of() a populate($p) that was wiped out.
sub wiped
{
	return join("\n",
		'plain=NULL', 'ttl=NULL remaining NULL',
		'plain ttl=NULL', 'gone=NULL',
		'incr=1', 'hit=true,1,9',
		'token a=NULL', 'token b=NULL');
}




# Wait until the server accepts connections again after a crash.
sub wait_until_up
{
	return $node->poll_query_until('postgres', 'SELECT true');
}

# Kill a regular backend with SIGKILL.  Before that, the backend writes
# "$p:uncommitted" in a transaction it never commits.  Returns the log
# offset taken before the kill.
sub kill9_backend
{
	my ($p) = @_;
	my $psql = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $psql->query_safe('SELECT pg_backend_pid()');
	$psql->query_safe(
		"BEGIN; SELECT auth_kv_set('$p:uncommitted', 'never committed');");
	my $offset = -s $node->logfile;
	ok(kill('KILL', $pid), "$p: sent SIGKILL to backend $pid");
	ok( $node->wait_for_log(
			# "server process" up to 17, "client backend" from 18 on
			qr/(?:server process|client backend) \(PID $pid\) was terminated by signal 9/,
			$offset),
		"$p: postmaster saw backend $pid terminated by signal 9");
	ok( $node->wait_for_log(
			qr/all server processes terminated; reinitializing/, $offset),
		"$p: postmaster reinitialized (crash restart)");
	# psql is still waiting on its stdin; \q just makes it exit.
	$psql->quit;
	wait_until_up() or die "server did not come back after the crash";
	like(
		slurp_file($node->logfile, $offset),
		qr/database system was not properly shut down; automatic recovery in progress/,
		"$p: crash recovery ran");
	return $offset;
}

# Immediate shutdown (no shutdown checkpoint) and start.
sub immediate_restart
{
	my ($p) = @_;
	my $offset = -s $node->logfile;
	$node->stop('immediate');
	$node->start;
	like(
		slurp_file($node->logfile, $offset),
		qr/database system was not properly shut down; automatic recovery in progress/,
		"$p: crash recovery ran after the immediate shutdown");
	return $offset;
}

# An expired row is swept by the (new) sweeper.
sub sweeper_sweeps
{
	my ($p) = @_;
	$node->safe_psql('postgres',
		qq{INSERT INTO authstore.kv VALUES ('$p:expired', 'x', now() - interval '1 s')}
	);
	return $node->poll_query_until('postgres',
		qq{SELECT count(*) = 0 FROM authstore.kv WHERE key = '$p:expired'});
}

###########################################################################
# 0. Starting point: unlogged storage, workers running.
###########################################################################

my ($pers, $init_forks) = persistence();
is($pers, 'u:14',
	'3 tables, 5 indexes, 3 TOAST tables and 3 TOAST indexes are all UNLOGGED');
is($init_forks, 14, 'every storage relation has an init fork');
ok(workers_up(), 'launcher and sweeper run');

###########################################################################
# 1. Clean restart keeps everything.
###########################################################################

my ($tok_a, $tok_b) = populate('clean');
is(row_counts(), '3|1|1',
	'before the restart: 3 keys, 1 rate limit, 1 token (the other was consumed)');
# Expires around the restart: the new sweeper must delete it.
$node->safe_psql('postgres', "SELECT auth_kv_set('clean:short', 'x', 1)");

my $old_launcher = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'authstore launcher'});
$node->restart;
is(state_of('clean', $tok_a, $tok_b), survived('clean'),
	'clean restart: values, TTLs, counter, deletions, rate-limit count and tokens all kept'
);
ok(workers_up(), 'clean restart: launcher and sweeper are back');
isnt(
	$node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'authstore launcher'}),
	$old_launcher,
	'clean restart: it is a new launcher');
ok( $node->poll_query_until(
		'postgres', q{SELECT count(*) = 0 FROM authstore.kv WHERE key = 'clean:short'}),
	'clean restart: a key that expired meanwhile is swept by the new sweeper');
unlike(slurp_file($node->logfile),
	qr/terminated by signal|reinitializing|automatic recovery in progress/,
	'clean restart: no crash, no recovery');

###########################################################################
# 2a. Immediate shutdown: unlogged tables are emptied.
###########################################################################

($tok_a, $tok_b) = populate('imm');
isnt(row_counts(), '0|0|0', 'immediate: there is data before the crash');
$node->safe_psql('postgres', 'CHECKPOINT');  # the data is on disk, too
immediate_restart('immediate');
is(row_counts(), '0|0|0',
	'immediate: all three tables are empty after crash recovery');
every_function_works($node, 'postgres', 'imm2', 'immediate: every function works at once');
is(state_of('imm', $tok_a, $tok_b), wiped(),
	'immediate: keys, counter, rate-limit state and tokens are gone');
ok(workers_up(), 'immediate: launcher and sweeper are back');
ok(sweeper_sweeps('imm'), 'immediate: the new sweeper sweeps');

###########################################################################
# 2b. SIGKILL of a regular backend: the postmaster reinitializes and the
#     unlogged tables are emptied.
###########################################################################

($tok_a, $tok_b) = populate('k9');
$node->safe_psql('postgres', 'CHECKPOINT');
my $checkpointer_before = checkpointer_pid();
my $postmaster_start =
  $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
kill9_backend('k9');
is(row_counts(), '0|0|0',
	'kill -9: all three tables are empty after crash recovery');
every_function_works($node, 'postgres', 'k9b', 'kill -9: every function works at once');
is(state_of('k9', $tok_a, $tok_b), wiped(),
	'kill -9: keys, counter, rate-limit state and tokens are gone');
is($node->safe_psql('postgres', "SELECT auth_kv_get('k9:uncommitted')"),
	'', 'kill -9: the uncommitted write is gone');
ok(workers_up(), 'kill -9: launcher and sweeper are back');
ok(sweeper_sweeps('k9'), 'kill -9: the new sweeper sweeps');
isnt(checkpointer_pid(), $checkpointer_before,
	'kill -9: the server processes were replaced');
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'),
	$postmaster_start, 'kill -9: same postmaster (a crash restart, not a new server)');

###########################################################################
# 3. Durable mode: LOGGED tables survive crashes.
###########################################################################

# Start from an empty store, so that row counts are exact.
$node->safe_psql('postgres',
	'TRUNCATE authstore.kv, authstore.rate_limit, authstore.token');
# Written while the tables are still unlogged: SET LOGGED must carry it over.
my ($pre_a, $pre_b) = populate('pre');
is($node->safe_psql('postgres', 'SELECT auth_set_durable(true)'),
	't', 'auth_set_durable(true) returns true');
($pers, $init_forks) = persistence();
is($pers, 'p:14', 'durable: all 14 storage relations are LOGGED');
is($init_forks, 0, 'durable: no init forks left');
my ($post_a, $post_b) = populate('post');
is(row_counts(), '6|2|2', 'durable: 6 keys, 2 rate limits, 2 tokens before the crash');

immediate_restart('durable immediate');
($pers) = persistence();
is($pers, 'p:14', 'durable immediate: tables are still LOGGED after recovery');
is(row_counts(), '6|2|2', 'durable immediate: every row survived the crash');
is(state_of('pre', $pre_a, $pre_b), survived('pre'),
	'durable immediate: data written before auth_set_durable(true) survived');
is(state_of('post', $post_a, $post_b), survived('post'),
	'durable immediate: data written after auth_set_durable(true) survived');
ok(workers_up(), 'durable immediate: launcher and sweeper are back');

my ($k9d_a, $k9d_b) = populate('durk9');
kill9_backend('durk9');
# 3 from populate(), 1 from state_of() above, 1 now.
is( $node->safe_psql(
		'postgres', q{
		SELECT auth_kv_incr('pre:ctr') || ',' || auth_kv_incr('post:ctr');
		SELECT count || ',' || remaining FROM auth_rl_hit('pre:rl', 3600, 10);
		SELECT auth_token_verify('} . $pre_a . q{', 'reset');
	}),
	"5,5\n5,5\npre-a",
	'durable kill -9: counters, rate-limit count and tokens survived a second crash'
);
is(state_of('durk9', $k9d_a, $k9d_b), survived('durk9'),
	'durable kill -9: data committed just before the crash survived');
is($node->safe_psql('postgres', "SELECT auth_kv_get('durk9:uncommitted')"),
	'', 'durable kill -9: the uncommitted write is not there');
every_function_works($node, 'postgres', 'durk9b', 'durable kill -9: every function works');
ok(workers_up(), 'durable kill -9: launcher and sweeper are back');
ok(sweeper_sweeps('durk9'), 'durable kill -9: the sweeper sweeps logged tables');

# Back to unlogged: the next crash empties the tables again.
is($node->safe_psql('postgres', 'SELECT auth_set_durable(false)'),
	'f', 'auth_set_durable(false) returns false');
($pers, $init_forks) = persistence();
is($pers, 'u:14', 'unlogged again: all 14 storage relations are UNLOGGED');
is($init_forks, 14, 'unlogged again: every storage relation has an init fork');
is($node->safe_psql('postgres', "SELECT auth_kv_get('pre:plain')"),
	'value of pre:plain', 'unlogged again: the data was kept by the switch');
immediate_restart('unlogged again');
is(row_counts(), '0|0|0', 'unlogged again: a crash empties the tables');
every_function_works($node, 'postgres', 'again', 'unlogged again: every function works');
ok(workers_up(), 'unlogged again: launcher and sweeper are back');

###########################################################################
# 4. Crash in the middle of a long sweep (durable mode, so that what the
#    sweeper had committed and what it had not stays visible).  With
#    batches of 10 rows, 200,000 expired rows take 20,000
#    transactions: the sweeper is caught in the middle.  (50,000 were not
#    always enough once the sweeper walked the heap: it once finished
#    between two polls.)
###########################################################################

$node->safe_psql('postgres', 'SELECT auth_set_durable(true)');
my $n_expired = 200000;
$node->safe_psql(
	'postgres', qq{
	SELECT auth_kv_set('live:' || g, 'live ' || g, 3600) FROM generate_series(1, 100) g;
	INSERT INTO authstore.kv
	SELECT 'sweep:' || g, 'x', now() - interval '1 s' * g
	FROM generate_series(1, $n_expired) g;});

my $sweeper_pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'authstore sweeper'});
my $remaining;
for (my $i = 0; $i < 100; $i++)
{
	$remaining = $node->safe_psql('postgres',
		q{SELECT count(*) FROM authstore.kv WHERE key LIKE 'sweep:%'});
	last if $remaining < $n_expired;
	usleep(50_000);
}
my $offset = -s $node->logfile;
kill('KILL', $sweeper_pid);
ok($remaining > 0 && $remaining < $n_expired,
	"the sweeper was killed mid-sweep ($remaining of $n_expired expired rows left)");
ok( $node->wait_for_log(
		qr/background worker "authstore sweeper[^\n]*\(PID $sweeper_pid\) was terminated by signal 9/,
		$offset),
	'mid-sweep: postmaster saw the sweeper terminated by signal 9');
ok( $node->wait_for_log(qr/all server processes terminated; reinitializing/, $offset),
	'mid-sweep: postmaster reinitialized');
ok(wait_until_up(), 'mid-sweep: the server starts');
ok(workers_up(), 'mid-sweep: launcher and sweeper are back');
ok( $node->poll_query_until(
		'postgres', q{SELECT count(*) = 0 FROM authstore.kv WHERE key LIKE 'sweep:%'}),
	'mid-sweep: the new sweeper finishes the sweep');
is( $node->safe_psql(
		'postgres', q{
		SELECT count(*) || ',' || bool_and(auth_kv_get(key) = 'live ' || substr(key, 6))
		FROM authstore.kv WHERE key LIKE 'live:%'}),
	'100,true',
	'mid-sweep: live keys are intact');
$node->safe_psql('postgres', 'SELECT auth_set_durable(false)');

###########################################################################
# No other process crashed than the ones this test killed.
###########################################################################

my @crashes = slurp_file($node->logfile) =~ /^.*terminated by signal.*$/mg;
is(scalar(@crashes), 3,
	'exactly three processes were killed by a signal: the two backends and the sweeper the test killed')
  or diag(join("\n", @crashes));

$node->stop;
done_testing();
