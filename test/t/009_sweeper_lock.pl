# Copyright (c) authstore contributors
#
# Nobody can stall the sweeper (issue 13, findings 1 and 5).
#
# 1. Its one-per-database lock used to be the advisory lock
#    pg_advisory_lock(1635087464, 1937204592) takes, which PUBLIC may call:
#    a role with no grants queued for it behind the sweeper, got it when the
#    sweeper restarted, and the new sweeper waited forever.  Here a role with
#    no grants queues for that lock, then holds it across two sweeper
#    restarts; expired keys must still be swept within seconds.
# 2. A database owner's ALTER DATABASE ... SET vacuum_cost_page_hit = 10000
#    made every deleted row cost ten times the cost limit, so the sweeper
#    napped after each row.  The sweeper pins its cost parameters.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('authstore_sweeper_lock');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'authstore'
authstore.database = 'postgres'
authstore.sweep_interval = '100ms'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION authstore');
$node->safe_psql('postgres', 'CREATE ROLE intruder LOGIN');

sub sweeper_pid
{
	return $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity
		  WHERE backend_type = 'authstore sweeper' AND datname = 'postgres'});
}

# Terminate the sweeper and wait for its successor; returns the new pid.
sub restart_sweeper
{
	my $old = sweeper_pid();
	$node->safe_psql('postgres', "SELECT pg_terminate_backend($old)");
	$node->poll_query_until(
		'postgres', qq{
		SELECT count(*) = 1 FROM pg_stat_activity
		WHERE backend_type = 'authstore sweeper' AND datname = 'postgres'
		  AND pid <> $old})
	  or die 'no new sweeper';
	return sweeper_pid();
}

# Commit $n keys that have expired at commit, then poll (every 0.1 s, for at
# most $limit seconds) until the sweeper removed them.  Returns the seconds
# it took, or undef if they were still there.
sub swept_within
{
	my ($prefix, $n, $limit) = @_;
	$node->safe_psql(
		'postgres', qq{
		BEGIN;
		SELECT count(auth_kv_set('$prefix' || g, 'v', 0.1))
		FROM generate_series(1, $n) g;
		SELECT pg_sleep(0.3);
		COMMIT;});
	my $start = time();
	while (time() - $start < $limit)
	{
		return time() - $start
		  if $node->safe_psql('postgres',
			"SELECT count(*) FROM authstore.kv WHERE key LIKE '$prefix%'") eq
		  '0';
		usleep(100_000);
	}
	return undef;
}

ok(defined swept_within('before:', 1000, 10), 'the sweeper sweeps');

# A role with no grants asks for the advisory lock the sweeper used to hold,
# while the sweeper runs: it used to queue behind the sweeper.
my $intruder = $node->background_psql(
	'postgres',
	on_error_stop => 0,
	extra_params => [ '-U', 'intruder' ]);
is($intruder->query_safe('SELECT current_user'),
	'intruder', 'the intruder is connected as itself');
$intruder->query_until(qr/asking/,
	"\\echo asking\nSELECT pg_advisory_lock(1635087464, 1937204592);\n");

# The sweeper restarts (as after DROP/CREATE EXTENSION, a reload or a
# launcher restart): the queued intruder used to get the lock here.
restart_sweeper();
my $t = swept_within('queued:', 2000, 10);
ok(defined $t,
	'with an intruder queued for the old advisory lock, the new sweeper sweeps within 10 s'
);
diag(sprintf('swept in %.1f s', $t)) if defined $t;

# By now the intruder holds that advisory lock in any case: a holder from
# before the sweeper's start.
is( $node->safe_psql(
		'postgres', q{
		SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		WHERE l.locktype = 'advisory' AND l.granted
		  AND l.classid = 1635087464 AND l.objid = 1937204592
		  AND l.objsubid = 2 AND a.usename = 'intruder'}),
	'1',
	'the intruder holds pg_advisory_lock(1635087464, 1937204592)');
restart_sweeper();
$t = swept_within('held:', 2000, 10);
ok(defined $t,
	'with an intruder holding the old advisory lock since before its start, the new sweeper sweeps within 10 s'
);
diag(sprintf('swept in %.1f s', $t)) if defined $t;
$intruder->quit;

unlike(
	slurp_file($node->logfile),
	qr/cannot start: another sweeper/,
	'no sweeper reported that it could not start');

# 2. A database setting meant to make the sweeper crawl.  At the default
# authstore.sweep_cost_limit (1000) and cost delay (2 ms), a row costing
# 10000 ends its batch and costs an 8 ms nap: 3,000 rows took over 24 s.
$node->safe_psql('postgres',
	'ALTER DATABASE postgres SET vacuum_cost_page_hit = 10000');
restart_sweeper();
$t = swept_within('costly:', 3000, 10);
ok(defined $t,
	'ALTER DATABASE ... SET vacuum_cost_page_hit = 10000: 3,000 expired keys still swept within 10 s'
);
diag(sprintf('swept in %.1f s', $t)) if defined $t;
$node->safe_psql('postgres',
	'ALTER DATABASE postgres RESET vacuum_cost_page_hit');

$node->stop;
done_testing();
