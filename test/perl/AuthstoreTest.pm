# test/perl/AuthstoreTest.pm -- fixtures shared by authstore's TAP tests.
package AuthstoreTest;

use strict;
use warnings;

use Exporter 'import';
use Test::More;

our @EXPORT = qw(every_function every_function_works);

# Every SQL function once, on keys under a prefix that do not exist yet
# ("P" is replaced by the prefix), and the output that must come back.
my $every_function_sql = q{
	SELECT 'set=' || auth_kv_set('P:k', 'v1', 60)::text;
	SELECT 'get=' || auth_kv_get('P:k');
	SELECT 'nx existing=' || auth_kv_set_if_not_exists('P:k', 'v2');
	SELECT 'nx new=' || auth_kv_set_if_not_exists('P:nx', 'v3', 60);
	SELECT 'incr=' || auth_kv_incr('P:n') || ',' || auth_kv_incr('P:n', 60);
	SELECT 'ttl=' || (auth_kv_ttl('P:k') BETWEEN 50 AND 60);
	SELECT 'expire=' || auth_kv_expire('P:k', 120);
	SELECT 'keys=' || string_agg(k, ',' ORDER BY k) FROM auth_kv_keys('P:') k;
	SELECT 'take=' || auth_kv_take('P:k') || ',' || coalesce(auth_kv_take('P:k'), 'NULL');
	SELECT 'delete=' || auth_kv_delete('P:nx') || ',' || auth_kv_delete('P:nx');
	SELECT 'clear=' || auth_kv_clear('P:');
	SELECT 'sweep=' || (auth_kv_sweep() >= 0) || ',' || (auth_kv_sweep(10) >= 0);
	SELECT 'owned=' || auth_kv_set_owned('P:o1', 'v', 'P-owner', 60)::text
	       || auth_kv_set_owned('P:o2', 'v', 'P-owner')::text;
	SELECT 'owner keys=' || string_agg(key || ' ' || (expires_at IS NULL), ',' ORDER BY key)
	  FROM auth_kv_owner_keys('P-owner');
	SELECT 'owner delete=' || auth_kv_owner_delete('P-owner') || ','
	       || auth_kv_owner_delete('P-owner');
	SELECT 'hit=' || allowed || ',' || count || ',' || remaining FROM auth_rl_hit('P:rl', 60, 2);
	SELECT 'hit=' || allowed || ',' || count || ',' || remaining FROM auth_rl_hit('P:rl', 60, 2);
	SELECT 'hit=' || allowed || ',' || count || ',' || remaining
	       || ',' || (retry_after > 0) FROM auth_rl_hit('P:rl', 60, 2);
	SELECT 'rl reset=' || auth_rl_reset('P:rl');
	SELECT auth_token_issue('P-user', 'login', 60) AS tok \gset
	SELECT 'verify=' || auth_token_verify(:'tok', 'login');
	SELECT 'consume=' || auth_token_consume(:'tok', 'login') || ','
	       || coalesce(auth_token_consume(:'tok', 'login'), 'NULL');
	SELECT auth_token_issue('P-user', 'login', 60) AS tok2 \gset
	SELECT 'revoke=' || auth_token_revoke('P-user') || ','
	       || coalesce(auth_token_verify(:'tok2', 'login'), 'NULL');
};
my $every_function_expected = q{set=
get=v1
nx existing=false
nx new=true
incr=1,2
ttl=true
expire=true
keys=P:k,P:n,P:nx
take=v1,NULL
delete=true,false
clear=1
sweep=true,true
owned=
owner keys=P:o1 false,P:o2 true
owner delete=2,0
hit=true,1,1
hit=true,2,0
hit=false,2,0,true
rl reset=true
verify=P-user
consume=P-user,NULL
revoke=1,NULL};

# The SQL of every function on prefix $p, and the output it must give.
sub every_function
{
	my ($p) = @_;
	(my $sql = $every_function_sql)      =~ s/P([:-])/$p$1/g;
	(my $exp = $every_function_expected) =~ s/P([:-])/$p$1/g;
	return ($sql, $exp);
}

# Run every function on $node/$db with prefix $p and check the output.
sub every_function_works
{
	my ($node, $db, $p, $name) = @_;
	my ($sql, $exp) = every_function($p);
	is($node->safe_psql($db, $sql), $exp, $name);
	return;
}

1;
