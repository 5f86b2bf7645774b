-- confine: least privilege per service (issue 13, finding 6).  A role that
-- may only rate-limit, and a role confined to key prefixes, token subjects
-- and purposes; it can neither list, read, write nor clear outside them.
-- The suite runs this with the direct path on and off.
SET authstore.test_clock = 4102444800;
SELECT auth_kv_clear('');
DELETE FROM authstore.rate_limit;
DELETE FROM authstore.token;
CREATE ROLE regress_svc_rl;
CREATE ROLE regress_svc_sess;
CREATE ROLE regress_svc_plain;
GRANT authstore_ratelimit TO regress_svc_rl;
GRANT authstore_user TO regress_svc_sess, regress_svc_plain;
INSERT INTO authstore.confinement
	VALUES ('regress_svc_sess', '{sess:,rl:sess:}', '{user:}', '{reset}');
SELECT auth_kv_set('other:1', 'not yours'), auth_kv_set('sess:0', 'v0');

-- (a) the rate limiter alone
SET ROLE regress_svc_rl;
SELECT allowed, count FROM auth_rl_hit('rl:login:1', 60, 5);
SELECT auth_rl_reset('rl:login:1');
SELECT auth_kv_get('other:1');
SELECT * FROM auth_kv_keys('');
SELECT auth_token_issue('u', 'reset', 60);
RESET ROLE;

-- (b) confined to prefixes: everything inside works ...
SET ROLE regress_svc_sess;
SELECT auth_kv_set('sess:1', 'v1', 60);
SELECT auth_kv_get('sess:1'), auth_kv_ttl('sess:1') > 0 AS has_ttl;
SELECT auth_kv_set_if_not_exists('sess:2', 'v2'), auth_kv_incr('sess:n');
SELECT auth_kv_expire('sess:2', 30), auth_kv_take('sess:2'), auth_kv_delete('sess:n');
SELECT * FROM auth_kv_keys('sess:');
SELECT * FROM auth_kv_keys('sess:', NULL, 1);
SELECT allowed FROM auth_rl_hit('rl:sess:1', 60, 5);
SELECT auth_token_issue('user:1', 'reset', 60) AS tok \gset
SELECT auth_token_verify(:'tok', 'reset');
SELECT auth_token_consume(:'tok', 'reset');
SELECT auth_token_revoke('user:1', 'reset');
-- ... and nothing outside: no read, write, list or clear
SELECT auth_kv_get('other:1');
SELECT auth_kv_set('other:1', 'x');
SELECT auth_kv_take('other:1');
SELECT auth_kv_delete('other:1');
SELECT auth_kv_incr('other:n');
SELECT auth_kv_ttl('other:1');
SELECT auth_kv_expire('other:1', 0);
SELECT auth_kv_set_if_not_exists('other:2', 'x');
SELECT * FROM auth_kv_keys();
SELECT * FROM auth_kv_keys('');
SELECT * FROM auth_kv_keys('se');
SELECT * FROM auth_kv_keys('', 'sess:', 10);
SELECT auth_kv_clear('');
SELECT auth_kv_clear('other:');
SELECT * FROM auth_rl_hit('rl:login:1', 60, 5);
SELECT auth_rl_reset('rl:login:1');
SELECT auth_token_issue('admin', 'reset', 60);
SELECT auth_token_issue('user:1', 'login', 60);
SELECT auth_token_revoke('admin', 'reset');
SELECT auth_token_revoke('user:1');
SELECT auth_token_verify('x', 'login');
RESET ROLE;

-- a token of another subject: the confined role neither sees nor consumes it
SET ROLE regress_svc_plain;
SELECT auth_token_issue('admin', 'reset', 60) AS admin_tok \gset
RESET ROLE;
SET ROLE regress_svc_sess;
SELECT auth_token_verify(:'admin_tok', 'reset') IS NULL AS verify_hidden;
SELECT auth_token_consume(:'admin_tok', 'reset') IS NULL AS consume_hidden;
RESET ROLE;
SET ROLE regress_svc_plain;
SELECT auth_token_verify(:'admin_tok', 'reset') AS still_valid;
-- an unconfined role is unchanged
SELECT auth_kv_get('other:1'), auth_kv_get('sess:1');
SELECT count(*) FROM auth_kv_keys('');
RESET ROLE;

-- a confined login cannot shed its confinement with SET ROLE to a role it
-- is a member of: both the session user and the current role are checked
SET SESSION AUTHORIZATION regress_svc_sess;
SET ROLE authstore_user;
SELECT current_user, session_user;
SELECT auth_kv_get('other:1');
SELECT * FROM auth_kv_keys('');
SELECT auth_token_verify(:'admin_tok', 'reset') IS NULL AS verify_hidden;
SELECT auth_kv_get('sess:0');
RESET ROLE;
RESET SESSION AUTHORIZATION;

-- a change applies from the next transaction on
UPDATE authstore.confinement SET key_prefixes = '{sess:,other:}'
 WHERE role = 'regress_svc_sess'::regrole;
SET ROLE regress_svc_sess;
SELECT auth_kv_get('other:1');
RESET ROLE;
DELETE FROM authstore.confinement;
SET ROLE regress_svc_sess;
SELECT count(*) FROM auth_kv_keys('');
RESET ROLE;

-- A backend that used authstore before ALTER EXTENSION UPDATE from 0.1.0
-- created the table sees confinements inserted afterwards (it cached "no
-- table" for the role, so it must not wait for an invalidation naming it).
SELECT current_database() AS regdb \gset
CREATE DATABASE regress_authstore_confine_update;
\c regress_authstore_confine_update
SET client_min_messages = warning;
CREATE EXTENSION authstore VERSION '0.1.0';
RESET client_min_messages;
SET ROLE regress_svc_sess;
SELECT auth_kv_set('other:1', 'v'), auth_kv_get('other:1');
RESET ROLE;
ALTER EXTENSION authstore UPDATE;
INSERT INTO authstore.confinement VALUES ('regress_svc_sess', '{sess:}', NULL, NULL);
SET ROLE regress_svc_sess;
SELECT auth_kv_get('other:1');
RESET ROLE;
\c :regdb
DROP DATABASE regress_authstore_confine_update;

DROP ROLE regress_svc_rl, regress_svc_sess, regress_svc_plain;
SELECT auth_kv_clear('');
DELETE FROM authstore.rate_limit;
DELETE FROM authstore.token;
