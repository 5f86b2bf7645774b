# Copyright (c) authstore contributors
#
# authstore across extension updates, dumps and restores.
#
#  1. Extension versions: ALTER EXTENSION authstore UPDATE at the latest
#     version is a no-op; every older version listed in
#     pg_available_extension_versions is installed, updated to the default
#     version and compared, object by object, with a fresh install.  Data
#     stored before the update (keys with and without a TTL, a counter,
#     rate-limit state, a token) must read the same after it.
#  2. pg_dump / pg_restore.  The storage tables are extension members without
#     pg_extension_config_dump(), so a dump holds only CREATE EXTENSION (and
#     any ACL changes made to the extension's functions after it was
#     created): a restored database has the extension, its objects and its
#     grants, and empty storage.  Restores are tested into the same cluster
#     (authstore_user exists already) and into a fresh cluster (the install
#     script creates authstore_user), plus the roles from
#     pg_dumpall --globals-only, which is what application roles need.
#  3. DROP EXTENSION + CREATE EXTENSION in the same session, and under
#     another session: the per-backend cached plans are revalidated.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use AuthstoreTest;

# Every released version, oldest first.  Add each release here: the update
# test below then installs every older one and updates it.
my @released = ('0.1.0', '0.2.0');

# A value that must never appear in a dump.
my $marker = 'MARKER-d7c2e9a41b';

my $node = PostgreSQL::Test::Cluster->new('authstore_dump');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'authstore'
authstore.database = 'postgres'
});
$node->start;

my $tempdir = PostgreSQL::Test::Utils::tempdir;

###########################################################################
# Helpers
###########################################################################

# Everything that defines the installed extension in $db, as text that does
# not depend on OIDs: the extension row, its members, each member function's
# full definition and ACL, each member table's columns, persistence,
# options, indexes, constraints and ACL, the schema's ACL and comment,
# comments on members and the pg_init_privs pg_dump relies on.
my $describe_sql = q{
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'authstore'),
mem AS (
	SELECT d.classid, d.objid, d.objsubid
	FROM pg_depend d, ext
	WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid
	  AND d.deptype = 'e'),
lines AS (
	SELECT 1 AS s, 'extension ' || extname || ' ' || extversion
	       || ' relocatable=' || extrelocatable
	       || ' schema=' || extnamespace::regnamespace
	       || ' config=' || coalesce(extconfig::regclass[]::text, 'NULL')
	       || ' condition=' || coalesce(extcondition::text, 'NULL') AS line
	FROM pg_extension WHERE extname = 'authstore'
	UNION ALL
	SELECT 2, 'member ' || pg_describe_object(classid, objid, objsubid) FROM mem
	UNION ALL
	SELECT 3, 'function ' || p.oid::regprocedure || E'\n'
	       || pg_get_functiondef(p.oid)
	       || 'acl ' || coalesce(p.proacl::text, 'NULL')
	FROM pg_proc p JOIN mem ON mem.classid = 'pg_proc'::regclass AND mem.objid = p.oid
	UNION ALL
	SELECT 4, 'table ' || c.oid::regclass || ' persistence=' || c.relpersistence::text
	       || ' options=' || coalesce(c.reloptions::text, 'NULL')
	       || ' acl=' || coalesce(c.relacl::text, 'NULL')
	FROM pg_class c JOIN mem ON mem.classid = 'pg_class'::regclass AND mem.objid = c.oid
	UNION ALL
	SELECT 5, 'column ' || a.attrelid::regclass || '.' || a.attname || ' '
	       || format_type(a.atttypid, a.atttypmod)
	       || ' collate=' || coalesce(co.collname, '-')
	       || ' notnull=' || a.attnotnull
	       || ' default=' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '-')
	       || ' acl=' || coalesce(a.attacl::text, 'NULL')
	FROM pg_attribute a
	JOIN mem ON mem.classid = 'pg_class'::regclass AND mem.objid = a.attrelid
	LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0
	LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
	WHERE a.attnum > 0 AND NOT a.attisdropped
	UNION ALL
	SELECT 6, 'index ' || pg_get_indexdef(i.indexrelid)
	       || ' persistence=' || ic.relpersistence::text
	       || ' options=' || coalesce(ic.reloptions::text, 'NULL')
	FROM pg_index i
	JOIN pg_class ic ON ic.oid = i.indexrelid
	JOIN mem ON mem.classid = 'pg_class'::regclass AND mem.objid = i.indrelid
	UNION ALL
	SELECT 7, 'constraint ' || con.conrelid::regclass || ' ' || con.conname || ' '
	       || pg_get_constraintdef(con.oid)
	FROM pg_constraint con
	JOIN mem ON mem.classid = 'pg_class'::regclass AND mem.objid = con.conrelid
	UNION ALL
	SELECT 8, 'schema ' || n.nspname || ' acl=' || coalesce(n.nspacl::text, 'NULL')
	       || ' comment=' || coalesce(obj_description(n.oid, 'pg_namespace'), 'NULL')
	FROM pg_namespace n
	JOIN mem ON mem.classid = 'pg_namespace'::regclass AND mem.objid = n.oid
	UNION ALL
	SELECT 9, 'comment ' || pg_describe_object(de.classoid, de.objoid, de.objsubid)
	       || ': ' || de.description
	FROM pg_description de
	JOIN mem ON mem.classid = de.classoid AND mem.objid = de.objoid
	UNION ALL
	SELECT 10, 'init privs ' || pg_describe_object(ip.classoid, ip.objoid, ip.objsubid)
	       || ' ' || ip.privtype::text || ' ' || ip.initprivs::text
	FROM pg_init_privs ip
	JOIN mem ON mem.classid = ip.classoid AND mem.objid = ip.objoid
	UNION ALL
	SELECT 11, 'role ' || rolname || ' login=' || rolcanlogin || ' super=' || rolsuper
	FROM pg_roles WHERE rolname = 'authstore_user')
SELECT line FROM lines ORDER BY s, line COLLATE "C";
};

sub describe
{
	my ($n, $db) = @_;
	return $n->safe_psql($db, $describe_sql);
}

# The member objects of the extension, one pg_describe_object() a line.
sub members
{
	my ($n, $db) = @_;
	return $n->safe_psql(
		$db, q{
		SELECT pg_describe_object(d.classid, d.objid, d.objsubid) COLLATE "C" AS o
		FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
		WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
		  AND e.extname = 'authstore'
		ORDER BY o});
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





# Run a client program against $n; returns (exit ok, stdout, stderr).
sub run_client
{
	my ($n, @cmd) = @_;
	local %ENV = %ENV;
	$ENV{PGHOST} = $n->host;
	$ENV{PGPORT} = $n->port;
	my ($stdout, $stderr);
	my $ok = IPC::Run::run(\@cmd, '>', \$stdout, '2>', \$stderr);
	return ($ok, $stdout, $stderr);
}

###########################################################################
# 1. Versions and updates.
###########################################################################

is( $node->safe_psql(
		'postgres', q{
		SELECT default_version || ' ' || coalesce(installed_version, 'none')
		FROM pg_available_extensions WHERE name = 'authstore'}),
	"$released[-1] none",
	"default version is the latest release, $released[-1]");

# Versions are dotted numbers (0.1.0, 0.2.0, 1.0.0...), sorted as such.
my @versions = split /\n/,
  $node->safe_psql(
	'postgres', q{
	SELECT version FROM pg_available_extension_versions
	WHERE name = 'authstore' ORDER BY string_to_array(version, '.')::int[]});
is_deeply(\@versions, \@released,
	'pg_available_extension_versions lists exactly the released versions: '
	  . join(', ', @released));
is( $node->safe_psql(
		'postgres', q{
		SELECT string_agg(DISTINCT superuser || ' ' || trusted || ' ' || relocatable
		                  || ' ' || coalesce(schema::text, 'NULL')
		                  || ' ' || coalesce(requires::text, 'NULL'), ';')
		FROM pg_available_extension_versions WHERE name = 'authstore'}),
	'true false false NULL NULL',
	'every version: superuser only, not trusted, not relocatable, no fixed schema, no requirements'
);

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION authstore');
is($node->safe_psql('fresh',
		"SELECT extversion FROM pg_extension WHERE extname = 'authstore'"),
	$released[-1], "CREATE EXTENSION installs $released[-1]");

my @expected_members = (
	'function auth_kv_clear(text)',
	'function auth_kv_compare_and_set(text,text,text,double precision)',
	'function auth_kv_delete(text)',
	'function auth_kv_delete_if_value(text,text)',
	'function auth_kv_expire(text,double precision)',
	'function auth_kv_get(text)',
	'function auth_kv_incr(text,double precision)',
	'function auth_kv_keys(text)',
	'function auth_kv_keys(text,text,integer)',
	'function auth_kv_owner_delete(text)',
	'function auth_kv_owner_keys(text)',
	'function auth_kv_set(text,text,double precision)',
	'function auth_kv_set_if_not_exists(text,text,double precision)',
	'function auth_kv_set_owned(text,text,text,double precision)',
	'function auth_kv_sweep(integer)',
	'function auth_kv_take(text)',
	'function auth_kv_ttl(text)',
	'function auth_rl_hit(text,double precision,integer)',
	'function auth_rl_reset(text)',
	'function auth_set_durable(boolean)',
	'function auth_stats()',
	'function auth_stats_reset()',
	'function auth_token_consume(text,text)',
	'function auth_token_issue(text,text,double precision)',
	'function auth_token_revoke(text,text)',
	'function auth_token_verify(text,text)',
	'function authstore.auth_kv_sweep(integer)',
	'function authstore.auth_set_durable(boolean)',
	'function authstore.confinement_changed()',
	'function authstore.incr_value(text)',
	'schema authstore',
	'table authstore.confinement',
	'table authstore.kv',
	'table authstore.rate_limit',
	'table authstore.token',
	'view auth_stats');
# From PostgreSQL 17 on, a table's (or view's) row type and its array type
# are members of the extension that created the relation, too.
if ($node->pg_version >= 17)
{
	push @expected_members,
	  map { ("type $_", "type ${_}[]") }
	  qw(auth_stats authstore.confinement authstore.kv authstore.rate_limit
	  authstore.token);
}
# members() sorts with COLLATE "C", Perl's sort compares bytes too.
my $expected_members = join("\n", sort @expected_members);
my $expected_count = scalar(@expected_members);
my $fresh_members = members($node, 'fresh');
is($fresh_members, $expected_members,
	"a fresh install has exactly the expected $expected_count member objects");
my $fresh = describe($node, 'fresh');
ok(scalar(split /\n/, $fresh) > 100,
	'the description of a fresh install is not empty (' . scalar(split /\n/, $fresh) . ' lines)');

# UPDATE at the latest version: a NOTICE, nothing changes.
my ($ret, $out, $err) = (0, '', '');
$ret = $node->psql('fresh', 'ALTER EXTENSION authstore UPDATE',
	stdout => \$out, stderr => \$err, on_error_stop => 1);
is($ret, 0, 'ALTER EXTENSION authstore UPDATE at the latest version succeeds');
like(
	$err,
	qr/NOTICE:  version "\Q$released[-1]\E" of extension "authstore" is already installed/,
	'... with the "already installed" NOTICE');
$ret = $node->psql('fresh', "ALTER EXTENSION authstore UPDATE TO '$released[-1]'",
	stdout => \$out, stderr => \$err, on_error_stop => 1);
like($err, qr/NOTICE:  version "\Q$released[-1]\E" of extension "authstore" is already installed/,
	"ALTER EXTENSION authstore UPDATE TO '$released[-1]' is the same no-op");
is(describe($node, 'fresh'), $fresh, '... and changes no object');
$ret = $node->psql('fresh', "ALTER EXTENSION authstore UPDATE TO '99.0.0'",
	stdout => \$out, stderr => \$err, on_error_stop => 1);
like($err,
	qr/ERROR:  extension "authstore" has no (?:update path from version "[^"]+" to version "99\.0\.0"|version "99\.0\.0")/,
	'updating to a version that does not exist fails cleanly');

# Every older version: install it, update it, compare with a fresh install.
my @older = grep { $_ ne $released[-1] } @versions;
note('older versions to update from: ' . (@older ? "@older" : 'none'));
for my $v (@older)
{
	(my $db = "update_from_$v") =~ s/\W/_/g;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, "CREATE EXTENSION authstore VERSION '$v'");
	isnt(
		$node->safe_psql(
			'postgres', qq{
			SELECT path FROM pg_extension_update_paths('authstore')
			WHERE source = '$v' AND target = '$released[-1]'}),
		'',
		"there is an update path from $v to $released[-1]");
	# Data written under $v, read back after the update.
	my $token = $node->safe_psql(
		$db, q{
		SELECT auth_kv_set('plain', 'v1');
		SELECT auth_kv_set('ttl', 'v2', 3600);
		SELECT auth_kv_incr('ctr');
		SELECT auth_kv_incr('ctr');
		SELECT count FROM auth_rl_hit('rl', 3600, 5);
		SELECT count FROM auth_rl_hit('rl', 3600, 5);
		SELECT auth_token_issue('subj', 'reset', 3600);});
	$token = (split /\n/, $token)[-1];
	my $read_back = q{
		SELECT concat_ws('|', auth_kv_get('plain'), auth_kv_ttl('plain'),
		                 auth_kv_get('ttl'), auth_kv_ttl('ttl') BETWEEN 3000 AND 3600,
		                 auth_kv_get('ctr'), (SELECT string_agg(k, ',' ORDER BY k) FROM auth_kv_keys('') k))};
	my $before = $node->safe_psql($db, $read_back);
	is($before, 'v1|Infinity|v2|t|2|ctr,plain,ttl', "$v: data stored before the update");
	$node->safe_psql($db, 'ALTER EXTENSION authstore UPDATE');
	is($node->safe_psql($db, $read_back), $before, "$v updated to $released[-1]: keys, values and TTLs survive");
	is($node->safe_psql($db, q{SELECT count || ' ' || allowed FROM auth_rl_hit('rl', 3600, 5)}),
		'3 true', "$v updated to $released[-1]: rate-limit state survives (third hit counts 3)");
	is($node->safe_psql($db, qq{SELECT auth_token_consume('$token', 'reset')}),
		'subj', "$v updated to $released[-1]: a token issued before the update is consumed after it");
	# Keys stored before the update have no owner; they can be given one.
	$node->safe_psql($db, q{SELECT auth_kv_set_owned('ttl', 'v3', 'user:old', 3600)});
	is( $node->safe_psql(
			$db, q{
		SELECT concat_ws('|', (SELECT string_agg(key, ',') FROM auth_kv_owner_keys('user:old')),
		                 (SELECT string_agg(key, ',' ORDER BY key) FROM authstore.kv WHERE owner IS NULL))}),
		'ttl|ctr,plain',
		"$v updated to $released[-1]: keys stored before it have no owner, and can be given one");
	is($node->safe_psql($db,
			"SELECT extversion FROM pg_extension WHERE extname = 'authstore'"),
		$released[-1], "$v updated to $released[-1]");
	is(members($node, $db), $fresh_members,
		"$v updated to $released[-1]: same member objects as a fresh install");
	is(describe($node, $db), $fresh,
		"$v updated to $released[-1]: every definition, ACL and init privilege as in a fresh install"
	);
	every_function_works($node, $db, 'upd', "$v updated to $released[-1]: every function works");
}

###########################################################################
# 2. pg_dump and pg_restore.
###########################################################################

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql(
	'src', qq{
	CREATE EXTENSION authstore;
	CREATE ROLE myapp LOGIN;
	GRANT authstore_user TO myapp;
	-- ACL changes after CREATE EXTENSION are the DBA's, and pg_dump keeps
	-- them (as the difference from pg_init_privs).
	REVOKE EXECUTE ON FUNCTION auth_kv_clear(text) FROM authstore_user;
	GRANT EXECUTE ON FUNCTION auth_kv_sweep(integer) TO authstore_user;
	-- An ordinary table, whose data a dump does contain.
	CREATE TABLE app_note (id int PRIMARY KEY, note text);
	INSERT INTO app_note VALUES (1, 'ordinary data');
	-- authstore data, each piece carrying the marker.
	SELECT auth_kv_set('key-$marker', 'value-$marker');
	SELECT auth_kv_set('ttl-$marker', 'value-$marker', 3600);
	SELECT auth_kv_incr('ctr-$marker');
	SELECT count FROM auth_rl_hit('rl-$marker', 3600, 10);
	SELECT auth_token_issue('subject-$marker', 'purpose-$marker', 3600);
});
is(row_counts($node, 'src'), '3|1|1', 'source database has authstore data');
my $src = describe($node, 'src');
isnt($src, $fresh, 'the ACL changes show in the description of the source');

# Custom format.
my $dump_fc = "$tempdir/src.dump";
my ($ok, $stdout, $stderr) =
  run_client($node, 'pg_dump', '-Fc', '-f', $dump_fc, '-d', 'src');
ok($ok, 'pg_dump -Fc succeeds') or diag($stderr);
is($stderr, '', 'pg_dump -Fc prints no warning');

($ok, $stdout, $stderr) = run_client($node, 'pg_restore', '-l', $dump_fc);
ok($ok, 'pg_restore -l succeeds');
like($stdout, qr/ EXTENSION - authstore\b/, 'custom dump: has the extension');
like($stdout, qr/TABLE DATA public app_note/, 'custom dump: has the ordinary table data');
unlike($stdout, qr/ authstore (?:kv|rate_limit|token)\b/,
	'custom dump: no authstore table, table data or index');
($ok, $stdout, $stderr) = run_client($node, 'pg_restore', '-f', '-', $dump_fc);
unlike($stdout, qr/\Q$marker\E/, 'custom dump: the stored marker appears nowhere');

# Plain format.
my $dump_plain = "$tempdir/src.sql";
($ok, $stdout, $stderr) =
  run_client($node, 'pg_dump', '-Fp', '-f', $dump_plain, '-d', 'src');
ok($ok, 'pg_dump -Fp succeeds') or diag($stderr);
my $plain = slurp_file($dump_plain);
unlike($plain, qr/\Q$marker\E/,
	'plain dump: no stored key, value, rate-limit key, token subject or purpose');
like($plain, qr/^CREATE EXTENSION IF NOT EXISTS authstore WITH SCHEMA public;$/m,
	'plain dump: CREATE EXTENSION authstore');
unlike($plain, qr/authstore\.(?:kv|rate_limit|token)\b/,
	'plain dump: no reference to the storage tables');
like($plain, qr/^REVOKE ALL ON FUNCTION public\.auth_kv_clear\(.*\) FROM authstore_user;$/m,
	'plain dump: the REVOKE made after CREATE EXTENSION');
like($plain, qr/^GRANT ALL ON FUNCTION public\.auth_kv_sweep\(.*\) TO authstore_user;$/m,
	'plain dump: the GRANT made after CREATE EXTENSION');
like($plain, qr/ordinary data/, 'plain dump: ordinary table data is there');

# What every restored database must look like.
sub check_restored
{
	my ($n, $db, $what) = @_;
	is($n->safe_psql($db, "SELECT extversion FROM pg_extension WHERE extname = 'authstore'"),
		$released[-1], "$what: extension $released[-1] is installed");
	is(row_counts($n, $db), '0|0|0', "$what: the storage tables exist and are empty");
	is(describe($n, $db), $src,
		"$what: every object, definition, ACL and init privilege as in the source");
	is( $n->safe_psql(
			$db, q{
			SELECT has_function_privilege('authstore_user', 'auth_kv_set(text,text,double precision)', 'EXECUTE')
			    || ',' || has_function_privilege('authstore_user', 'auth_token_consume(text,text)', 'EXECUTE')
			    || ',' || has_function_privilege('authstore_user', 'auth_kv_sweep(integer)', 'EXECUTE')
			    || ',' || has_function_privilege('authstore_user', 'auth_kv_clear(text)', 'EXECUTE')
			    || ',' || has_function_privilege('authstore_user', 'auth_set_durable(boolean)', 'EXECUTE')
			    || ',' || has_function_privilege('public', 'auth_kv_get(text)', 'EXECUTE')
			    || ',' || has_table_privilege('authstore_user', 'authstore.kv', 'SELECT')}),
		'true,true,true,false,false,false,false',
		"$what: authstore_user may run set and consume, sweep (granted), not clear (revoked) nor set_durable; PUBLIC nothing; no table access"
	);
	is($n->safe_psql($db, 'SELECT note FROM app_note'),
		'ordinary data', "$what: ordinary table data restored");
	every_function_works($n, $db, 'restored', "$what: every function works");
	return;
}

# 2a. Into a new database of the same cluster: authstore_user exists, and
#     the install script must accept that.
$node->safe_psql('postgres', 'CREATE DATABASE restored');
($ok, $stdout, $stderr) =
  run_client($node, 'pg_restore', '--exit-on-error', '-d', 'restored', $dump_fc);
ok($ok, 'same cluster: pg_restore succeeds although authstore_user exists');
is($stderr, '', 'same cluster: pg_restore prints no error or warning');
check_restored($node, 'restored', 'same cluster');

# The application role (a cluster-wide object) works in the restored
# database at once.
is( $node->safe_psql(
		'restored', qq{
		SELECT auth_kv_set('app', 'from myapp');
		SELECT auth_kv_get('app');
		SELECT count FROM auth_rl_hit('app', 60, 5);
		SELECT auth_token_issue('u', 'p', 60) AS t \\gset
		SELECT auth_token_consume(:'t', 'p');},
		extra_params => [ '-U', 'myapp' ]),
	"\nfrom myapp\n1\nu",
	'same cluster: myapp, member of authstore_user, uses the restored database');

# Plain format restores the same way.
$node->safe_psql('postgres', 'CREATE DATABASE restored_plain');
($ok, $stdout, $stderr) = run_client($node, 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
	'-d', 'restored_plain', '-f', $dump_plain);
ok($ok, 'same cluster, plain dump: psql restores it') or diag($stderr);
is($stderr, '', 'same cluster, plain dump: no error or warning');
check_restored($node, 'restored_plain', 'same cluster, plain dump');

# 2b. Into a fresh cluster, where no authstore_user (nor myapp) exists, and
#     the library is not preloaded.  The objects are owned by the bootstrap
#     superuser, which has the same name in both clusters here.
my $node2 = PostgreSQL::Test::Cluster->new('authstore_dump_target');
$node2->init;
$node2->start;
is($node2->safe_psql('postgres',
		q{SELECT count(*) FROM pg_roles WHERE rolname IN ('authstore_user', 'myapp')}),
	'0', 'fresh cluster: neither authstore_user nor myapp exists');
$node2->safe_psql('postgres', 'CREATE DATABASE restored');
($ok, $stdout, $stderr) =
  run_client($node2, 'pg_restore', '--exit-on-error', '-d', 'restored', $dump_fc);
ok($ok, 'fresh cluster: pg_restore succeeds without creating any role first')
  or diag($stderr);
is($stderr, '', 'fresh cluster: pg_restore prints no error or warning');
is($node2->safe_psql('postgres',
		q{SELECT rolcanlogin FROM pg_roles WHERE rolname = 'authstore_user'}),
	'f', 'fresh cluster: the install script created authstore_user (NOLOGIN)');
check_restored($node2, 'restored', 'fresh cluster');

# Application roles and their membership are global objects: they come from
# pg_dumpall --globals-only.  Loaded after the restore, the only errors are
# about roles that exist already (the bootstrap superuser, authstore_user).
my $globals = "$tempdir/globals.sql";
($ok, $stdout, $stderr) = run_client($node, 'pg_dumpall', '--globals-only', '-f', $globals);
ok($ok, 'pg_dumpall --globals-only succeeds');
($ok, $stdout, $stderr) =
  run_client($node2, 'psql', '-X', '-q', '-d', 'postgres', '-f', $globals);
my @errors = $stderr =~ /ERROR:  (.*)/g;
is_deeply(
	[ sort grep { !/^role "[^"]+" already exists$/ } @errors ],
	[], 'fresh cluster: globals load with only "role already exists" errors')
  or diag($stderr);
like($stderr, qr/ERROR:  role "authstore_user" already exists/,
	'fresh cluster: ... one of which is authstore_user, created by the restore');
is( $node2->safe_psql(
		'restored', q{
		SELECT auth_kv_set('app', 'from myapp');
		SELECT auth_kv_get('app');},
		extra_params => [ '-U', 'myapp' ]),
	"\nfrom myapp",
	'fresh cluster: myapp from the globals uses the restored database');
$node2->stop;

# 2c. Durable mode is a property of the storage tables, which are not
#     dumped: a restore is back to UNLOGGED tables.
$node->safe_psql('src', 'SELECT auth_set_durable(true)');
($ok, $stdout, $stderr) =
  run_client($node, 'pg_dump', '-Fp', '-f', "$tempdir/durable.sql", '-d', 'src');
ok($ok, 'durable source: pg_dump succeeds');
unlike(slurp_file("$tempdir/durable.sql"), qr/LOGGED|auth_set_durable|\Q$marker\E/,
	'durable source: the dump says nothing about durability and has no data');
$node->safe_psql('postgres', 'CREATE DATABASE restored_durable');
($ok, $stdout, $stderr) = run_client($node, 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
	'-d', 'restored_durable', '-f', "$tempdir/durable.sql");
ok($ok, 'durable source: restore succeeds');
is( $node->safe_psql(
		'restored_durable', q{
		SELECT string_agg(DISTINCT relpersistence::text, ',') FROM pg_class
		WHERE relnamespace = 'authstore'::regnamespace
		  AND relname !~ '^confinement'}),
	'u',
	'durable source: the restored tables are UNLOGGED (run auth_set_durable(true) again)');
$node->safe_psql('src', 'SELECT auth_set_durable(false)');

###########################################################################
# 3. DROP EXTENSION + CREATE EXTENSION and the per-backend plan cache.
###########################################################################

$node->safe_psql('postgres', 'CREATE DATABASE recreate');
$node->safe_psql('recreate', 'CREATE EXTENSION authstore');

# 3a. One session: every function runs (and caches its plans), the
#     extension is dropped and created again, every function runs again.
my ($sql1, $exp1) = every_function('one');
my ($sql2, $exp2) = every_function('two');
is( $node->safe_psql(
		'recreate', qq{
		SELECT auth_kv_set('kept', 'before drop');
		$sql1
		DROP EXTENSION authstore;
		CREATE EXTENSION authstore;
		SELECT 'after re-create=' || coalesce(auth_kv_get('kept'), 'NULL');
		$sql2
		SELECT auth_kv_set('kept', 'after re-create');
		SELECT auth_kv_get('kept');
		SELECT has_function_privilege('authstore_user', 'auth_kv_get(text)', 'EXECUTE');}),
	"\n$exp1\nafter re-create=NULL\n$exp2\n\nafter re-create\nt",
	'same session: every function works before DROP EXTENSION and after CREATE EXTENSION, on a new empty store'
);

# 3b. The same inside one transaction.
my ($sql3, $exp3) = every_function('three');
is( $node->safe_psql(
		'recreate', qq{
		BEGIN;
		SELECT auth_kv_set('kept', 'in transaction');
		DROP EXTENSION authstore;
		CREATE EXTENSION authstore;
		SELECT 'after re-create=' || coalesce(auth_kv_get('kept'), 'NULL');
		$sql3
		COMMIT;}),
	"\nafter re-create=NULL\n$exp3",
	'one transaction: DROP + CREATE EXTENSION, then every function works');

# 3c. Another session drops and re-creates the extension under a session
#     that has cached plans.
my $bg = $node->background_psql('recreate', on_error_stop => 0);
my ($sql4, $exp4) = every_function('bg1');
is($bg->query_safe($sql4), $exp4, 'other session: every function works (plans cached)');
$node->safe_psql('recreate', 'DROP EXTENSION authstore; CREATE EXTENSION authstore;');
my ($sql5, $exp5) = every_function('bg2');
is($bg->query_safe($sql5), $exp5,
	'other session: after DROP + CREATE EXTENSION elsewhere, every function still works');
$node->safe_psql('recreate', 'DROP EXTENSION authstore');
my ($res, $failed) = $bg->query("SELECT auth_kv_get('x')");
is($failed, 1, 'other session: after DROP EXTENSION elsewhere, a call fails');
like($bg->{stderr}, qr/ERROR:  function auth_kv_get\(unknown\) does not exist/,
	'... with "function does not exist", not a crash');
$bg->{stderr} = '';
$node->safe_psql('recreate', 'CREATE EXTENSION authstore');
my ($sql6, $exp6) = every_function('bg3');
is($bg->query_safe($sql6), $exp6, 'other session: and works again once re-created');
$bg->quit;

is($node->safe_psql('recreate', "SELECT count(*) FROM pg_roles WHERE rolname = 'authstore_user'"),
	'1', 'authstore_user survived the DROP EXTENSIONs, and is still one role');

# A backend is a "server process" up to 17 and is named by its type from 18 on.
unlike(slurp_file($node->logfile),
	qr/terminated by signal|(?:server process|client backend|walsender|autovacuum worker).*exited with exit code|PANIC/,
	'no server process crashed');

$node->stop;
done_testing();
