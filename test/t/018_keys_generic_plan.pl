# auth_kv_keys' range statement runs a generic plan from its first call,
# under the default plan_cache_mode (issue 13, finding 2).  With the default
# the plan cache plans the first five executions with the call's values and
# then, from about 100k keys, keeps doing so: every call is planned again
# (bench/security.sh measured 3.9 times the time per call at 1M keys).
# sql/keys_paging.sql shows that the generic plan is bounded on both sides;
# this shows it is the plan every call gets.  auto_explain prints the plan
# of each execution: a generic plan's index condition has the parameters
# ($1, $2), a custom plan's has the call's strings.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('keys_generic_plan');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'authstore'");
$node->start;
$node->safe_psql(
	'postgres', q{
CREATE EXTENSION authstore;
SELECT count(auth_kv_set('p:' || lpad(i::text, 5, '0'), 'v')) FROM generate_series(1, 2000) i;
ANALYZE authstore.kv;
});

# Eight calls in one session, every executor run explained to the client.
my ($stdout, $stderr);
$node->psql(
	'postgres', q{
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_level = notice;
SHOW plan_cache_mode;
SELECT count(*) FROM auth_kv_keys('p:0123');
SELECT count(*) FROM auth_kv_keys('p:0124');
SELECT count(*) FROM auth_kv_keys('p:', 'p:01000', 3);
SELECT count(*) FROM auth_kv_keys('p:01');
SELECT count(*) FROM auth_kv_keys('p:0');
SELECT count(*) FROM auth_kv_keys('p:00', NULL, 5);
SELECT count(*) FROM auth_kv_keys('p:1');
SELECT count(*) FROM auth_kv_keys('p:0125');
},
	stdout => \$stdout,
	stderr => \$stderr,
	on_error_stop => 1);

is($stdout, "auto\n10\n10\n3\n1000\n2000\n5\n0\n10",
	'the default plan_cache_mode, and the right counts');

# One explained plan per execution of the statement on authstore.kv.
my @scans = $stderr =~ /^.*Index Cond: \(\(key >= .*$/mg;
is(scalar(@scans), 8, 'eight executions of the range statement explained')
  or diag($stderr);
is(scalar(grep { /\(key >= \$1\) AND \(key < \$2\)/ } @scans),
	8, 'each one a generic plan, bounded by parameters on both sides')
  or diag(join("\n", @scans));
unlike($stderr, qr/key >= 'p:/, 'no plan made for a call\'s strings');
unlike($stderr, qr/Sort/, 'no sort: the index gives the order');

$node->stop;
done_testing();
