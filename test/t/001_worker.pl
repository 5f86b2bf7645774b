# Copyright (c) authstore contributors
#
# TAP test of authstore's background workers: the "authstore launcher"
# (static, connected to no database) and the per-database "authstore
# sweeper"s it keeps running.  The workers use the real clock, so expiry is
# driven by short real TTLs and waits are polls, never long fixed sleeps.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('authstore_worker');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'authstore'
authstore.database = 'postgres'
authstore.sweep_interval = '100ms'
authstore.sweep_batch_size = 10000
log_min_messages = debug1
});
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION authstore');

# What must stay constant while workers are killed and restarted: a crash
# restart keeps pg_postmaster_start_time() but replaces the checkpointer.
my $postmaster_start =
  $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
my $checkpointer_pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'});

# Pids of authstore workers this test terminates on purpose; every other
# authstore worker exit in the log is a failure (see the end of the file).
my %killed;

# The pids of the sweepers connected to $db, sorted.
sub sweeper_pids
{
	my ($db) = @_;
	my $out = $node->safe_psql('postgres',
		qq{SELECT pid FROM pg_stat_activity
		   WHERE backend_type = 'authstore sweeper' AND datname = '$db'
		   ORDER BY pid});
	return grep { $_ ne '' } split /\n/, $out;
}

# Wait until exactly one sweeper is connected to $db and its pid is not
# $old_pid (if given); returns that pid.
sub wait_for_sweeper
{
	my ($db, $old_pid) = @_;
	my $not_old = defined $old_pid ? "AND pid <> $old_pid" : '';
	$node->poll_query_until(
		'postgres', qq{
		SELECT count(*) = 1 FROM pg_stat_activity
		WHERE backend_type = 'authstore sweeper' AND datname = '$db' $not_old
		  AND (SELECT count(*) FROM pg_stat_activity
		       WHERE backend_type = 'authstore sweeper' AND datname = '$db') = 1})
	  or die "timed out waiting for one new sweeper in database \"$db\"";
	my @pids = sweeper_pids($db);
	return $pids[0];
}

sub launcher_pid
{
	return $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'authstore launcher'});
}

# How often $re matches the server log from byte $offset on.
sub count_in_log
{
	my ($re, $offset) = @_;
	my $log = slurp_file($node->logfile, $offset // 0);
	my $n = () = $log =~ /$re/g;
	return $n;
}

# Set a sighup GUC with ALTER SYSTEM and reload; returns the log offset
# taken before the reload.
sub alter_system_reload
{
	my ($name, $value) = @_;
	my $offset = -s $node->logfile;
	$node->safe_psql('postgres', "ALTER SYSTEM SET $name = '$value'");
	$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
	return $offset;
}

# Commit $n keys "$prefix<i>" with a 0.1 s TTL in $db, already expired at
# commit: the sweeper sees them all at once.
sub set_expired_keys
{
	my ($db, $prefix, $n) = @_;
	$node->safe_psql(
		$db, qq{
		BEGIN;
		DO \$\$ BEGIN
			PERFORM auth_kv_set('$prefix' || g, 'v', 0.1)
			FROM generate_series(1, $n) g;
		END \$\$;
		SELECT pg_sleep(0.3);
		COMMIT;});
	return;
}

sub kv_count
{
	my ($db, $prefix) = @_;
	return $node->safe_psql($db,
		"SELECT count(*) FROM authstore.kv WHERE key LIKE '$prefix%'");
}

###########################################################################
# 1. The launcher and the sweeper of "postgres" are running.
###########################################################################

ok( $node->poll_query_until(
		'postgres', q{
		SELECT count(*) = 1 FROM pg_stat_activity
		WHERE backend_type = 'authstore launcher' AND datname IS NULL}),
	'launcher runs with backend_type "authstore launcher", connected to no database'
);
my $sweeper_pid = wait_for_sweeper('postgres');
ok($sweeper_pid, 'sweeper runs in database "postgres" with backend_type "authstore sweeper"');

###########################################################################
# 2. Expired rows disappear without any call: more than one batch of keys,
#    plus idle rate-limit state; keys without a TTL are left alone.
###########################################################################

$node->safe_psql(
	'postgres', q{
	SELECT auth_kv_set('keep:' || g, 'value ' || g) FROM generate_series(1, 5) g;
	SELECT auth_kv_set('keep:long', 'long ttl', 3600);
});

my $offset = -s $node->logfile;
# One transaction, committed after every TTL and window has passed, so one
# sweep cycle finds all 25,000 + 5 rows: three batches of 10,000.
# The count is taken inside that transaction: once it commits, the sweeper
# may delete the rows at any moment.
is( $node->safe_psql(
		'postgres', q{
	BEGIN;
	DO $$ BEGIN
		PERFORM auth_kv_set('exp:' || g, repeat('x', 20), 0.2)
		FROM generate_series(1, 25000) g;
		PERFORM auth_rl_hit('rl:' || g, 0.2, 10) FROM generate_series(1, 5) g;
		PERFORM pg_sleep(0.5);
	END $$;
	SELECT count(*) FROM authstore.rate_limit WHERE key LIKE 'rl:%';
	COMMIT;
}),
	'5',
	'rate-limit state was created');

ok( $node->poll_query_until(
		'postgres', q{
		SELECT (SELECT count(*) FROM authstore.kv) = 6
		   AND (SELECT count(*) FROM authstore.rate_limit) = 0}),
	'sweeper deleted 25,000 expired keys and idle rate-limit state on its own'
);
is( $node->safe_psql(
		'postgres', q{
		SELECT string_agg(key || '=' || auth_kv_get(key), ',' ORDER BY key)
		FROM authstore.kv}),
	'keep:1=value 1,keep:2=value 2,keep:3=value 3,keep:4=value 4,keep:5=value 5,keep:long=long ttl',
	'keys without a TTL or with a long TTL are intact');
# All 25,005 rows were there at once: one cycle deleting them all proves the
# sweeper keeps going after a full batch within a cycle.
ok($node->wait_for_log(qr/authstore: swept 2500[05] expired rows/, $offset),
	'one sweep cycle deleted all 25,000 expired keys, in more than one batch');

# Expired tokens go too, and keys spread over more than one slice of the
# table (the sweeper scans 1,024 blocks per batch): 40,000 keys of 400 bytes
# take about 2,200 blocks.
$node->safe_psql(
	'postgres', q{
	BEGIN;
	DO $$ BEGIN
		PERFORM auth_token_issue('user:' || g, 'reset', 0.2) FROM generate_series(1, 3) g;
		PERFORM auth_kv_set('wide:' || g, repeat('y', 400), 0.2)
		FROM generate_series(1, 40000) g;
		PERFORM pg_sleep(0.5);
	END $$;
	COMMIT;});
cmp_ok($node->safe_psql('postgres', q{SELECT pg_relation_size('authstore.kv') / 8192}),
	'>', 2048, 'the key-value table spans more than two slices');
ok( $node->poll_query_until(
		'postgres', q{
		SELECT (SELECT count(*) FROM authstore.token) = 0
		   AND (SELECT count(*) FROM authstore.kv WHERE key LIKE 'wide:%') = 0}),
	'sweeper deleted expired tokens and 40,000 expired keys across slices');

###########################################################################
# 3. A reloaded authstore.sweep_interval takes effect.
###########################################################################

$offset = alter_system_reload('authstore.sweep_interval', '1h');
ok( $node->wait_for_log(
		qr/authstore: sweeper reloaded: interval 3600000 ms, batch 10000/,
		$offset),
	'sweeper logged the reloaded interval of 1h');

set_expired_keys('postgres', 'slow:', 100);
sleep(2);    # 20 cycles of the old 100 ms interval
is(kv_count('postgres', 'slow:'), '100',
	'with sweep_interval = 1h, expired keys are not swept within 2 s');

$offset = alter_system_reload('authstore.sweep_interval', '100ms');
ok( $node->wait_for_log(
		qr/authstore: sweeper reloaded: interval 100 ms, batch 10000/, $offset),
	'sweeper logged the reloaded interval of 100 ms');
ok( $node->poll_query_until(
		'postgres', q{SELECT count(*) = 0 FROM authstore.kv WHERE key LIKE 'slow:%'}),
	'back at 100 ms, the expired keys are swept');

# The batch size is reloaded too.
$offset = alter_system_reload('authstore.sweep_batch_size', '500');
ok( $node->wait_for_log(
		qr/authstore: sweeper reloaded: interval 100 ms, batch 500/, $offset),
	'sweeper logged the reloaded batch size of 500');
set_expired_keys('postgres', 'batch:', 1200);
ok( $node->poll_query_until(
		'postgres', q{SELECT count(*) = 0 FROM authstore.kv WHERE key LIKE 'batch:%'}),
	'with batches of 500, 1,200 expired keys are swept');
ok($node->wait_for_log(qr/authstore: swept 1200 expired rows/, $offset),
	'in one cycle of several batches');

# Pacing (authstore.sweep_cost_delay/_limit): at a cost limit of 1 every
# batch ends, and commits, after its first deleted row, then the sweeper
# naps (4 x 50 ms).  So the 20 rows, which one unpaced batch deletes in one
# transaction, are seen to go a few at a time over seconds: polled every
# 0.1 s, many counts between 20 and 0 show (without naps, 20 one-row
# transactions would take milliseconds and show at most one or two).
alter_system_reload('authstore.sweep_cost_delay', '50ms');
$offset = alter_system_reload('authstore.sweep_cost_limit', '1');
ok( $node->wait_for_log(
		qr/authstore: sweeper reloaded: .* cost delay 50 ms, cost limit 1$/m, $offset),
	'sweeper logged the reloaded cost delay and limit');
$offset = -s $node->logfile;
set_expired_keys('postgres', 'paced:', 20);
my %seen;
for (my $i = 0; $i < 600; $i++)    # 60 s at most
{
	my $n = kv_count('postgres', 'paced:');
	$seen{$n} = 1;
	last if $n == 0;
	usleep(100_000);
}
ok(exists $seen{0}, 'paced, the 20 expired keys are swept');
my $between = grep { $_ > 0 && $_ < 20 } keys %seen;
cmp_ok($between, '>', 4,
	'paced, they went a few at a time, with naps between transactions');
ok($node->wait_for_log(qr/authstore: swept 20 expired rows/, $offset),
	'paced, in one cycle that ends');

# The statements (authstore.direct_access = off) are never cut short, and a
# paced cycle over them still ends: "swept" is logged once per cycle.
$offset = alter_system_reload('authstore.direct_access', 'off');
ok($node->wait_for_log(qr/parameter "authstore.direct_access" changed to "off"/, $offset),
	'authstore.direct_access is off');
set_expired_keys('postgres', 'paced_stmt:', 17);
ok($node->wait_for_log(qr/authstore: swept 17 expired rows/, $offset),
	'paced, with the statements, a cycle deletes the 17 keys and ends');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET authstore.direct_access');
alter_system_reload('authstore.sweep_cost_limit', '1000');
alter_system_reload('authstore.sweep_cost_delay', '2ms');

# Memory: the sweeper's total memory hardly moves over well over a thousand
# more cycles (each cycle works in a context that is reset).  A cache may
# add one 8 kB block once (seen in 2 of about 8 runs, with the total then
# stable over 3,700 more cycles), so up to 8 kB of growth is allowed; a leak
# of even one palloc chunk (>= 16 bytes) per cycle grows more than that.
$offset = alter_system_reload('authstore.sweep_interval', '10ms');
$node->wait_for_log(qr/authstore: sweeper reloaded: interval 10 ms/, $offset);

sub sweeper_memory
{
	my $pid = (sweeper_pids('postgres'))[0];
	my $from = -s $node->logfile;
	$node->safe_psql('postgres', "SELECT pg_log_backend_memory_contexts($pid)");
	$node->wait_for_log(qr/\[$pid\] LOG:  Grand total: \d+ bytes/, $from);
	my ($total) = slurp_file($node->logfile, $from) =~ /\[$pid\] LOG:  Grand total: (\d+) bytes/;
	return $total;
}
set_expired_keys('postgres', 'mem1:', 200);
sleep(2);    # ~200 cycles
my $mem_before = sweeper_memory();
for my $i (1 .. 10)
{
	set_expired_keys('postgres', "mem$i:", 200);
	sleep(1);
}
sleep(2);    # ~1,300 cycles at 10 ms, a tenth of them deleting rows
my $mem_after = sweeper_memory();
cmp_ok($mem_after - $mem_before, '<=', 8192,
	"sweeper memory grows by at most one 8 kB block over ~1,300 more cycles ($mem_before -> $mem_after bytes)");
$offset = alter_system_reload('authstore.sweep_interval', '100ms');
$node->wait_for_log(qr/authstore: sweeper reloaded: interval 100 ms/, $offset);
$offset = alter_system_reload('authstore.sweep_batch_size', '10000');
$node->wait_for_log(qr/authstore: sweeper reloaded: interval 100 ms, batch 10000/, $offset);

###########################################################################
# 4. Killed workers come back, without a server restart.
###########################################################################

$node->safe_psql('postgres', "SELECT pg_terminate_backend($sweeper_pid)");
$killed{$sweeper_pid} = 1;
my $new_sweeper_pid = wait_for_sweeper('postgres', $sweeper_pid);
isnt($new_sweeper_pid, $sweeper_pid,
	'a terminated sweeper is replaced by a new one');
$sweeper_pid = $new_sweeper_pid;

set_expired_keys('postgres', 'afterkill:', 10);
ok( $node->poll_query_until(
		'postgres',
		q{SELECT count(*) = 0 FROM authstore.kv WHERE key LIKE 'afterkill:%'}),
	'the new sweeper sweeps');

my $launcher_pid = launcher_pid();
# Sweepers that stop because their launcher was killed are the test's doing.
$killed{$_} = 1 for sweeper_pids('postgres');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($launcher_pid)");
$killed{$launcher_pid} = 1;
# bgw_restart_time is 5 s.  Once the new launcher waits on its latch
# (wait_event "Extension"), it has done its first pass over the list.
ok( $node->poll_query_until(
		'postgres', qq{
		SELECT count(*) = 1 FROM pg_stat_activity
		WHERE backend_type = 'authstore launcher' AND pid <> $launcher_pid
		  AND wait_event_type = 'Extension'}),
	'a terminated launcher is restarted');
$launcher_pid = launcher_pid();

# The new launcher must adopt or replace the old sweeper, not start a second
# one next to it.  Give the postmaster time to start whatever it registered.
sleep(1);
my @pids = sweeper_pids('postgres');
is(scalar(@pids), 1,
	'after the launcher restart, exactly one sweeper runs in "postgres"')
  or diag("sweeper pids in postgres: @pids");
my $postgres_sweepers = join(',', @pids);

set_expired_keys('postgres', 'afterlauncher:', 10);
ok( $node->poll_query_until(
		'postgres',
		q{SELECT count(*) = 0 FROM authstore.kv WHERE key LIKE 'afterlauncher:%'}),
	'"postgres" is swept after the launcher restart');

is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'),
	$postmaster_start, 'postmaster start time unchanged');
is( $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'}),
	$checkpointer_pid,
	'checkpointer pid unchanged: no crash restart');

###########################################################################
# 5. A listed database without the extension.
###########################################################################

$node->safe_psql('postgres', 'CREATE DATABASE noext');
$offset = alter_system_reload('authstore.database', 'postgres, noext');
my $not_installed =
  qr/LOG:  extension "authstore" is not installed in database "noext"; not sweeping/;
ok($node->wait_for_log($not_installed, $offset),
	'sweeper of a database without the extension says so');
# It then exits instead of staying connected, and the launcher checks back
# every 10 s; the re-checks log at DEBUG1 only.
ok( $node->poll_query_until(
		'postgres', q{
		SELECT count(*) = 0 FROM pg_stat_activity
		WHERE backend_type = 'authstore sweeper' AND datname = 'noext'}),
	'no sweeper stays connected to a database without the extension');
$node->safe_psql('postgres', 'CREATE DATABASE noext_copy TEMPLATE noext');
$node->safe_psql('postgres', 'DROP DATABASE noext_copy');
pass('so the database can serve as a template');
ok( $node->wait_for_log(
		qr/DEBUG:  extension "authstore" is not installed in database "noext"/,
		$offset),
	'the launcher checked "noext" again');
is(count_in_log($not_installed, $offset),
	1, '"not installed" is logged once, not at every re-check');

$node->safe_psql('noext', 'CREATE EXTENSION authstore');
set_expired_keys('noext', 'noext:', 50);
$node->safe_psql('noext',
	q{SELECT auth_kv_set('noext:keep', 'kept')});
ok( $node->poll_query_until(
		'noext', q{SELECT count(*) = 0 FROM authstore.kv WHERE key LIKE 'noext:%' AND key <> 'noext:keep'}),
	'after CREATE EXTENSION, expired rows in "noext" are swept');
is($node->safe_psql('noext', q{SELECT auth_kv_get('noext:keep')}),
	'kept', 'live key in "noext" is intact');
my $noext_pid = wait_for_sweeper('noext');
ok($noext_pid, 'one sweeper now stays in "noext"');

###########################################################################
# 6. A listed database that does not exist.
###########################################################################

$offset = alter_system_reload('authstore.database', 'postgres, nosuchdb, noext');
my $missing =
  qr/database "nosuchdb" listed in authstore.database does not exist or does not allow connections/;
ok($node->wait_for_log($missing, $offset),
	'a listed database that does not exist is logged');

set_expired_keys('postgres', 'missing:', 20);
set_expired_keys('noext',    'missing:', 20);
ok( $node->poll_query_until(
		'postgres',
		q{SELECT count(*) = 0 FROM authstore.kv WHERE key LIKE 'missing:%'}),
	'"postgres" is still swept');
ok( $node->poll_query_until(
		'noext', q{SELECT count(*) = 0 FROM authstore.kv WHERE key LIKE 'missing:%'}),
	'"noext" is still swept');
is(join(',', sweeper_pids('postgres')),
	$postgres_sweepers, 'sweeper of "postgres" unaffected');
is(join(',', sweeper_pids('noext')), $noext_pid, 'sweeper of "noext" unaffected');
is(launcher_pid(), $launcher_pid, 'launcher unaffected');
is(count_in_log($missing, $offset), 1, 'the missing database is logged once');

###########################################################################
# 7. DROP EXTENSION under a running sweeper, then CREATE EXTENSION again.
###########################################################################

$offset = -s $node->logfile;
$node->safe_psql('postgres', 'DROP EXTENSION authstore');
ok( $node->wait_for_log(
		qr/LOG:  extension "authstore" is not installed in database "postgres"; not sweeping/,
		$offset),
	'sweeper notices DROP EXTENSION');
$node->safe_psql('postgres', 'CREATE EXTENSION authstore');

# Again, this time while the sweeper is busy with a large backlog: the DROP
# may commit between its "is the extension there" check and its DELETE.
# Whatever error that gives must be reported and retried, not end the worker.
for my $round (1 .. 3)
{
	set_expired_keys('postgres', "backlog$round:", 20000);
	$node->safe_psql('postgres', 'DROP EXTENSION authstore');
	$node->safe_psql('postgres', 'CREATE EXTENSION authstore');
}
set_expired_keys('postgres', 'recreated:', 30);
$node->safe_psql('postgres', q{SELECT auth_kv_set('recreated:keep', 'kept')});
ok( $node->poll_query_until(
		'postgres', q{
		SELECT count(*) = 1 FROM authstore.kv WHERE key LIKE 'recreated:%'}),
	'after DROP + CREATE EXTENSION, expired rows in the new table are swept');
is($node->safe_psql('postgres', q{SELECT auth_kv_get('recreated:keep')}),
	'kept', 'live key in the new table is intact');
ok(wait_for_sweeper('postgres'),
	'after DROP + CREATE EXTENSION, one sweeper serves "postgres" again');

###########################################################################
# No crash loop, no crash restart: the only authstore workers that exited
# are the ones this test terminated.
###########################################################################

is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'),
	$postmaster_start, 'postmaster start time unchanged at the end');
is( $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'}),
	$checkpointer_pid,
	'checkpointer pid unchanged at the end');

my $log = slurp_file($node->logfile);
my @unexpected;
while ($log =~
	/^.*background worker "authstore [^\n]*?\(PID (\d+)\) (?:exited with exit code [1-9]|was terminated by signal)[^\n]*$/mg
  )
{
	push @unexpected, $& unless $killed{$1};
}
is_deeply(\@unexpected, [],
	'no authstore worker failed except the ones the test terminated');
unlike(
	$log,
	qr/terminated by signal|server process.*was terminated|all server processes terminated; reinitializing/,
	'no process was terminated by a signal and the server never reinitialized');

$node->stop;
done_testing();
