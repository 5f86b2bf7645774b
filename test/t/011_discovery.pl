# Copyright (c) authstore contributors
#
# Every database with the extension is swept with no configuration (issue
# 14): with authstore.database at its default ('*') the launcher finds the
# databases that have authstore, starts a sweeper within about a second of
# CREATE EXTENSION, leaves databases without it alone, and a sweeper never
# blocks DROP DATABASE or ALTER DATABASE ... RENAME.  No crash loop.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('authstore_discovery');
$node->init;
# No authstore.database: the default.  The default sweep interval (1 s).
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'authstore'
log_min_messages = debug1
});
$node->start;

is($node->safe_psql('postgres', 'SHOW authstore.database'),
	'*', 'authstore.database defaults to *');

sub sweepers
{
	my ($db) = @_;
	return $node->safe_psql('postgres',
		qq{SELECT count(*) FROM pg_stat_activity
		   WHERE backend_type = 'authstore sweeper' AND datname = '$db'});
}

my $launcher = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'authstore launcher'});
ok($launcher, 'the launcher runs');

# No database has the extension: after the first look, no sweeper anywhere.
ok( $node->poll_query_until(
		'postgres', q{
		SELECT count(*) = 0 FROM pg_stat_activity
		WHERE backend_type = 'authstore sweeper'}),
	'no sweeper stays connected to a database without the extension');

# A database created after start-up, then the extension: time from the
# commit of CREATE EXTENSION (with already expired keys) to their sweep.
$node->safe_psql('postgres', 'CREATE DATABASE app1');
$node->safe_psql(
	'app1', q{
	BEGIN;
	CREATE EXTENSION authstore;
	SELECT count(auth_kv_set('exp' || g, 'v', 0.1)) FROM generate_series(1, 100) g;
	SELECT auth_kv_set('live', 'v');
	SELECT pg_sleep(0.2);
	COMMIT;});
my $start = time();
my $elapsed;
while (time() - $start < 2)
{
	if ($node->safe_psql('app1', 'SELECT count(*) FROM authstore.kv') eq '1')
	{
		$elapsed = time() - $start;
		last;
	}
	usleep(50_000);
}
ok(defined $elapsed,
	'expired keys of a database given the extension after start-up are swept within 2 s'
);
diag(sprintf('CREATE EXTENSION to swept: %.2f s', $elapsed)) if defined $elapsed;
is($node->safe_psql('app1', q{SELECT auth_kv_get('live')}),
	'v', 'the live key is kept');
is(sweepers('app1'),     '1', 'one sweeper stays in app1');
is(sweepers('postgres'), '0', 'none in postgres, which lacks the extension');
is(sweepers('template1'), '0', 'none in template1');

# No crash loop and no probing while nothing changes: over 5 s, no sweeper
# is started.
my $offset = -s $node->logfile;
sleep(5);
my $log = slurp_file($node->logfile, $offset);
unlike($log, qr/starting background worker process "authstore sweeper/,
	'no sweeper started over 5 idle seconds');

# DROP DATABASE (without FORCE) is not blocked by the sweeper.
my ($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE app1');
is($rc, 0, 'DROP DATABASE of a swept database succeeds') or diag($err);

# ALTER DATABASE ... RENAME, and a copy with CREATE DATABASE ... TEMPLATE,
# of a swept database; the sweeper comes back under the new name.
$node->safe_psql('postgres', 'CREATE DATABASE app2');
$node->safe_psql('app2',     'CREATE EXTENSION authstore');
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'authstore sweeper' AND datname = 'app2'}),
	'app2 gets a sweeper');
($rc, $out, $err) = $node->psql('postgres', 'CREATE DATABASE app2_copy TEMPLATE app2');
is($rc, 0, 'CREATE DATABASE ... TEMPLATE of a swept database succeeds') or diag($err);
($rc, $out, $err) = $node->psql('postgres', 'ALTER DATABASE app2 RENAME TO app3');
is($rc, 0, 'ALTER DATABASE ... RENAME of a swept database succeeds') or diag($err);
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'authstore sweeper' AND datname = 'app3'}),
	'the renamed database is swept again');
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'authstore sweeper' AND datname = 'app2_copy'}),
	'the copy, which has the extension, is swept too');

is( $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'authstore launcher'}),
	$launcher,
	'the launcher never restarted');
$log = slurp_file($node->logfile);
unlike(
	$log,
	qr/background worker "authstore [^\n]*(exited with exit code [1-9]|terminated by signal)/,
	'no authstore worker failed');

$node->stop;
done_testing();
