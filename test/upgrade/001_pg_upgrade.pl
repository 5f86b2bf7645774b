# Copyright (c) authstore contributors
#
# pg_upgrade of a cluster with authstore installed and preloaded, from an
# older PostgreSQL (AUTHSTORE_UPGRADE_FROM, the old installation's prefix,
# e.g. /usr/lib/postgresql/15) to the one this test runs with.  Run by
# test/upgrade.sh, which test/matrix.sh calls for 15 -> 17 and 15 -> 18.
#
#  1. The old cluster holds keys (with and without a TTL, a counter, a key
#     about to expire), rate-limit state and tokens, in a database in the
#     default (UNLOGGED) mode and in one in durable (LOGGED) mode.
#  2. pg_upgrade (copy mode) succeeds.
#  3. What survives, said exactly: the rows of both databases, UNLOGGED
#     tables included (the old cluster was shut down cleanly, and pg_upgrade
#     transfers their files), with their TTLs; the tables keep their
#     persistence.
#  4. The worker comes back (launcher and sweeper) and sweeps the key that
#     expired; every function works; the rate limit continues its count and
#     tokens issued before the upgrade verify and are consumed once.

use strict;
use warnings;

use Cwd;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use AuthstoreTest;

my $old_install = $ENV{AUTHSTORE_UPGRADE_FROM}
  or BAIL_OUT('AUTHSTORE_UPGRADE_FROM (the old installation, e.g. /usr/lib/postgresql/15) is not set');
-x "$old_install/bin/pg_ctl"
  or BAIL_OUT("no PostgreSQL installation in $old_install");

my $conf = q{
shared_preload_libraries = 'authstore'
authstore.database = 'app, durable'
authstore.sweep_interval = '100ms'
};

my $old = PostgreSQL::Test::Cluster->new('old', install_path => $old_install);
$old->init;
$old->append_conf('postgresql.conf', $conf);
$old->start;

my $new = PostgreSQL::Test::Cluster->new('new');
ok($new->pg_version > $old->pg_version,
	'upgrading from ' . $old->pg_version . ' to ' . $new->pg_version);

###########################################################################
# 1. Data in the old cluster.
###########################################################################

my %token;
for my $db (qw(app durable))
{
	$old->safe_psql('postgres', "CREATE DATABASE $db");
	$old->safe_psql($db, 'CREATE EXTENSION authstore');
	$old->safe_psql($db, 'SELECT auth_set_durable(true)') if $db eq 'durable';
	$old->safe_psql(
		$db, q{
		SELECT auth_kv_set('forever', 'v-forever');
		SELECT auth_kv_set('hour', 'v-hour', 3600);
		SELECT auth_kv_incr('counter'), auth_kv_incr('counter'), auth_kv_incr('counter');
		SELECT auth_kv_set('soon', 'v-soon', 4);
		SELECT * FROM auth_rl_hit('login:alice', 3600, 5);
		SELECT * FROM auth_rl_hit('login:alice', 3600, 5);
		});
	$token{$db}{reset} = $old->safe_psql($db,
		q{SELECT auth_token_issue('alice', 'reset', 3600)});
	$token{$db}{magic} = $old->safe_psql($db,
		q{SELECT auth_token_issue('bob', 'magic', 3600)});
}

sub row_counts
{
	my ($n, $db) = @_;
	return $n->safe_psql(
		$db, q{
		SELECT (SELECT count(*) FROM authstore.kv) || '|' ||
		       (SELECT count(*) FROM authstore.rate_limit) || '|' ||
		       (SELECT count(*) FROM authstore.token)});
}

# Persistence of authstore's tables, as "confinement:p kv:u rate_limit:u
# token:u": the three storage tables follow auth_set_durable(), the
# confinement table is always logged.
sub persistence
{
	my ($n, $db) = @_;
	return $n->safe_psql(
		$db, q{
		SELECT string_agg(relname || ':' || relpersistence::text, ' ' ORDER BY relname)
		FROM pg_class WHERE relnamespace = 'authstore'::regnamespace AND relkind = 'r'});
}

my %persistence = (app => 'u', durable => 'p');
for my $db (qw(app durable))
{
	is(row_counts($old, $db), '4|1|2', "$db: 4 keys, 1 rate limit, 2 tokens before the upgrade");
	my $p = $persistence{$db};
	is(persistence($old, $db), "confinement:p kv:$p rate_limit:$p token:$p",
		"$db: storage tables are " . ($p eq 'u' ? 'UNLOGGED' : 'LOGGED'));
}
my $extversion = $old->safe_psql('app',
	q{SELECT extversion FROM pg_extension WHERE extname = 'authstore'});
$old->stop;

###########################################################################
# 2. pg_upgrade.
###########################################################################

# From 18 on initdb enables data checksums by default; pg_upgrade needs the
# new cluster to match the old one, which (made by an older initdb) has none.
$new->init($new->pg_version >= 18 && $old->pg_version < 18
	? (extra => ['--no-data-checksums'])
	: ());
$new->append_conf('postgresql.conf', $conf);

# pg_upgrade writes its logs under the new data directory and wants a
# writable current directory for its own files.
my $cwd = getcwd();
chdir $PostgreSQL::Test::Utils::tmp_check;
command_ok(
	[
		'pg_upgrade', '--no-sync', '--copy',
		'-d', $old->data_dir, '-D', $new->data_dir,
		'-b', $old->config_data('--bindir'),
		'-B', $new->config_data('--bindir'),
		'-s', $new->host,
		'-p', $old->port, '-P', $new->port
	],
	'pg_upgrade succeeds');
chdir $cwd;

$new->start;

###########################################################################
# 3. What survived.
###########################################################################

for my $db (qw(app durable))
{
	is( $new->safe_psql($db,
			q{SELECT extversion FROM pg_extension WHERE extname = 'authstore'}),
		$extversion, "$db: authstore $extversion is installed after the upgrade");
	my $p = $persistence{$db};
	is(persistence($new, $db), "confinement:p kv:$p rate_limit:$p token:$p",
		"$db: storage tables kept their persistence");
	is( $new->safe_psql(
			$db, q{
			SELECT auth_kv_get('forever') || ',' || auth_kv_get('hour') || ','
			       || (auth_kv_ttl('hour') BETWEEN 3000 AND 3600) || ','
			       || (auth_kv_ttl('forever') = 'Infinity') || ','
			       || auth_kv_incr('counter')}),
		'v-forever,v-hour,true,true,4',
		"$db: keys, their TTLs and the counter survived");
	is( $new->safe_psql(
			$db, q{SELECT allowed || ',' || count FROM auth_rl_hit('login:alice', 3600, 5)}),
		'true,3', "$db: the rate limit continues its count (3rd hit)");
	is($new->safe_psql($db, qq{SELECT auth_token_verify('$token{$db}{reset}', 'reset')}),
		'alice', "$db: a token issued before the upgrade verifies");
	is( $new->safe_psql(
			$db,
			qq{SELECT auth_token_consume('$token{$db}{magic}', 'magic') || ','
			   || coalesce(auth_token_consume('$token{$db}{magic}', 'magic'), 'NULL')}),
		'bob,NULL', "$db: a token issued before the upgrade is consumed once");
}

###########################################################################
# 4. The worker is back and every function works.
###########################################################################

ok( $new->poll_query_until(
		'postgres', q{
		SELECT count(*) FILTER (WHERE backend_type = 'authstore launcher') = 1
		   AND count(*) FILTER (WHERE backend_type = 'authstore sweeper'
		                          AND datname IN ('app', 'durable')) = 2
		FROM pg_stat_activity}),
	'the launcher and a sweeper per database run after the upgrade');

for my $db (qw(app durable))
{
	# 'soon' expired 4 s after it was set; the sweeper removes the row.
	ok( $new->poll_query_until(
			$db, q{SELECT NOT EXISTS (SELECT FROM authstore.kv WHERE key = 'soon')}),
		"$db: the sweeper removed the key that expired");
	every_function_works($new, $db, 'upg', "$db: every function works after the upgrade");
}

unlike(slurp_file($new->logfile),
	qr/terminated by signal|(?:server process|client backend|walsender|autovacuum worker).*exited with exit code|PANIC/,
	'no server process crashed');

$new->stop;
done_testing();
