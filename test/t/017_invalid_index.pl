# An invalid index on one of authstore's tables (left by a cancelled or
# failed CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY) makes the
# functions use their SQL statements; each backend says so with one WARNING
# per table (issue 17, D2), not one per call, and again only after the table
# qualified in between.  The results stay right.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('invalid_index');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'authstore'");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION authstore');

# Two keys with the same value: a unique index on value fails and stays
# behind, invalid.
my $make_invalid = q{
SELECT auth_kv_set('a', 'same'), auth_kv_set('b', 'same');
CREATE UNIQUE INDEX CONCURRENTLY kv_value_u ON authstore.kv (value);
};

sub run
{
	my ($sql) = @_;
	my ($stdout, $stderr);
	$node->psql(
		'postgres', $sql,
		stdout => \$stdout,
		stderr => \$stderr,
		on_error_stop => 0);
	my $warnings = () = $stderr =~ /WARNING:  invalid index "kv_value_u" on table "authstore\.kv" makes authstore use its SQL statements/g;
	return ($stdout, $warnings, $stderr);
}

my ($out, $warnings, $err) = run($make_invalid);
like($err, qr/could not create unique index "kv_value_u"/,
	'the concurrent build fails');
is( $node->safe_psql(
		'postgres',
		q{SELECT indisvalid FROM pg_index WHERE indexrelid = 'authstore.kv_value_u'::regclass}),
	'f',
	'and leaves an invalid index');

($out, $warnings) = run(q{
SELECT auth_kv_get('a');
SELECT auth_kv_get('b');
SELECT auth_kv_set('c', 'other');
SELECT auth_kv_incr('n');
SELECT auth_kv_get('c');
});
is($out, "same\nsame\n\n1\nother", 'the statements give the right results');
is($warnings, 1, 'one WARNING for five calls in one backend');

($out, $warnings) = run(q{SELECT auth_kv_get('a'); SELECT auth_kv_get('a');});
is($warnings, 1, 'another backend warns once too');

($out, $warnings) = run(q{
SET authstore.direct_access = off;
SELECT auth_kv_get('a');
});
is($warnings, 0, 'no WARNING when the direct path is off anyway');

# In one backend: warned, the index dropped (direct path again, no
# WARNING), a new invalid index: warned again.
($out, $warnings) = run(q{
SELECT auth_kv_get('a');
DROP INDEX authstore.kv_value_u;
SELECT auth_kv_get('a');
SELECT auth_kv_set('b', 'same');
CREATE UNIQUE INDEX CONCURRENTLY kv_value_u ON authstore.kv (value);
SELECT auth_kv_get('a');
SELECT auth_kv_get('a');
});
is($warnings, 2, 'warned again after the table qualified in between');

ok( $node->log_contains(
		qr/WARNING:  invalid index "kv_value_u" on table "authstore\.kv" makes authstore use its SQL statements/),
	'the WARNING is in the server log');

$node->stop;
done_testing();
