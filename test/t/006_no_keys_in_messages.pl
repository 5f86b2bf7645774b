# Copyright (c) authstore contributors
#
# No authstore error message, DETAIL, HINT or log line carries a key, value,
# token, subject or purpose (issue 13, finding 4), including errors that
# PostgreSQL raises beneath the functions.
#
#  1. REINDEX INDEX CONCURRENTLY authstore.kv_pkey under concurrent writes
#     of new keys, with the direct path on and off.  PostgreSQL's own
#     INSERT ... ON CONFLICT fails there now and then with unique_violation
#     on the index being built ("..._ccnew", DETAIL "Key (key)=(...) already
#     exists"): that index is no arbiter.  authstore runs its upserts in a
#     subtransaction while such an index exists and runs them again after
#     that error, so no write fails; before, some did, and the server log
#     showed the key.
#  1b. A unique index on the values (an administrator's mistake) makes a
#     write fail for real: the error keeps SQLSTATE 23505 and its message,
#     and its DETAIL carries neither key nor value.
#  2. every argument error of every function, with secret-looking keys,
#     values, tokens, subjects and purposes.
#
# Statements are not logged here (log_statement = none,
# log_min_error_statement = panic): the
# statement text is the caller's, and the README's Security section says how
# to keep bind parameters out of the log.  Keys are assembled server-side, so
# the secret never appears literally in what the client sends.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('authstore_nokeys');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'authstore'
authstore.database = 'postgres'
log_statement = none
log_min_error_statement = panic
log_error_verbosity = verbose
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION authstore');
$node->safe_psql('postgres',
	q{SELECT count(auth_kv_set('fill:' || i, 'v')) FROM generate_series(1, 200000) i});

my $script = $node->basedir . '/race.sql';
open my $fh, '>', $script or die $!;
print $fh q{\set k random(1, 50)
SELECT auth_kv_set('rx' || 'secret:' || :k, 'v' || 'secret' || 'value');
SELECT auth_kv_delete('rx' || 'secret:' || :k);
};
close $fh;

# Race new keys against REINDEX CONCURRENTLY for three rounds of 6 s.
sub race
{
	my ($direct) = @_;
	my $failed = 0;
	for my $round (1 .. 3)
	{
		my ($out, $err) = ('', '');
		my $h = IPC::Run::start(
			[
				'pgbench', '-n', '-c', '4', '-T', '6', '-f', $script,
				'-h', $node->host, '-p', $node->port, 'postgres'
			],
			'>', \$out, '2>', \$err,
			init => sub {
				$ENV{PGOPTIONS} = "-c authstore.direct_access=$direct";
			});
		for (1 .. 3)
		{
			$node->safe_psql('postgres', 'REINDEX INDEX CONCURRENTLY authstore.kv_pkey');
		}
		my $ok = $h->finish;
		$failed++ if !$ok || $err =~ /aborted|ERROR/;
		note("pgbench round $round, direct_access=$direct:\n$err");
	}
	return $failed;
}

for my $direct ('on', 'off')
{
	my $offset = -s $node->logfile;
	my $failed = race($direct);
	my $log = slurp_file($node->logfile, $offset);
	is($failed, 0, "direct_access=$direct: no write failed during REINDEX CONCURRENTLY");
	unlike($log, qr/ERROR/, "direct_access=$direct: no error in the server log");
	unlike($log, qr/rxsecret|secretvalue|Key \(/,
		"direct_access=$direct: no key or value in the server log");
}

# 1b. A unique index on the values: a real unique_violation, both paths.
$node->safe_psql('postgres', "SELECT auth_kv_clear('')");
$node->safe_psql('postgres',
	'CREATE UNIQUE INDEX kv_value_uq ON authstore.kv (value)');
for my $direct ('on', 'off')
{
	my $offset = -s $node->logfile;
	my ($ret, $out, $err) = $node->psql(
		'postgres', qq{
SET authstore.direct_access = $direct;
SELECT auth_kv_set('uq' || 'secret:a', 'dup' || 'secretvalue');
SELECT auth_kv_set('uq' || 'secret:b', 'dup' || 'secretvalue');
}, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/ERROR:  23505: duplicate key value violates unique constraint "kv_value_uq"/,
		"direct_access=$direct: unique_violation keeps its SQLSTATE and message");
	unlike($err, qr/secret|Key \(/, "direct_access=$direct: the client sees no key or value");
	my $log = slurp_file($node->logfile, $offset);
	like($log, qr/kv_value_uq/, "direct_access=$direct: the error is in the log");
	unlike($log, qr/secret|Key \(/, "direct_access=$direct: the log has no key or value");
	$node->safe_psql('postgres', "SELECT auth_kv_clear('uq')");
}
$node->safe_psql('postgres', 'DROP INDEX authstore.kv_value_uq');

# 2. Argument errors, each with a secret in every argument it has.
my $offset = -s $node->logfile;
my ($ret, $out, $err) = $node->psql(
	'postgres', q{
SET authstore.max_key_bytes = 40;
SET authstore.max_value_bytes = 40;
DO $$
DECLARE
	s text := 'top' || 'secret';
	calls text[] := ARRAY[
		'SELECT auth_kv_set($1 || repeat(''k'', 50), $1)',
		'SELECT auth_kv_set($1, $1 || repeat(''v'', 50))',
		'SELECT auth_kv_set($1, $1, -1)',
		'SELECT auth_kv_set($1, $1, ''NaN'')',
		'SELECT auth_kv_set($1, NULL)',
		'SELECT auth_kv_set_if_not_exists($1, $1, 0)',
		'SELECT auth_kv_set($1 || '':n'', $1), auth_kv_incr($1 || '':n'')',
		'SELECT auth_kv_set($1 || '':m'', ''9223372036854775807''), auth_kv_incr($1 || '':m'')',
		'SELECT auth_kv_expire($1, ''Infinity'')',
		'SELECT * FROM auth_kv_keys($1 || repeat(''p'', 50))',
		'SELECT * FROM auth_kv_keys($1, $1 || repeat(''p'', 50), 1)',
		'SELECT * FROM auth_kv_keys($1, $1, -1)',
		'SELECT auth_kv_clear($1 || repeat(''p'', 50))',
		'SELECT * FROM auth_rl_hit($1, 0, 1)',
		'SELECT * FROM auth_rl_hit($1, 1, -1)',
		'SELECT * FROM auth_rl_hit($1 || repeat(''r'', 50), 1, 1)',
		'SELECT auth_token_issue($1, $1, 0)',
		'SELECT auth_token_issue($1 || repeat(''s'', 50), $1, 1)',
		'SELECT auth_token_issue($1, $1 || repeat(''s'', 50), 1)',
		'SELECT auth_token_verify($1, $1 || repeat(''t'', 50))',
		'SELECT auth_token_consume($1, $1 || repeat(''t'', 50))',
		'SELECT auth_token_revoke($1 || repeat(''t'', 50), $1)'];
	c text;
	d text;
	h text;
	n int := 0;
BEGIN
	FOREACH c IN ARRAY calls LOOP
		BEGIN
			EXECUTE c USING s;
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
			n := n + 1;
			RAISE LOG 'authstore error %: % | % | %', SQLSTATE, SQLERRM, d, h;
		END;
	END LOOP;
	RAISE NOTICE 'errors: % of %', n, cardinality(calls);
END
$$;
});
like($err, qr/errors: 22 of 22/, 'every bad call failed');
unlike($err, qr/topsecret/, 'no secret in the messages the client gets');
my $log = slurp_file($node->logfile, $offset);
like($log, qr/authstore error 22023/, 'the errors reached the log');
unlike($log, qr/topsecret/, 'no secret in the server log');

$node->stop;
done_testing();
