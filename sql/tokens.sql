-- tokens: one-time tokens; only SHA-256 of a token is stored, a token is
-- consumed at most once, a wrong purpose neither reveals nor burns it, and
-- malformed tokens are simply not found.
SET authstore.test_clock = 4102444800;
DELETE FROM authstore.token;

SELECT auth_token_issue('user:1', 'password-reset', 600) AS tok \gset
SELECT auth_token_issue('user:1', 'email-verify', 600) AS tok_email \gset
SELECT auth_token_issue('user:2', 'password-reset', 600) AS tok_other \gset

-- shape: 43 URL-safe base64 characters (256 bits), all different
SELECT length(:'tok') AS length, :'tok' ~ '^[A-Za-z0-9_-]{43}$' AS url_safe,
       :'tok' <> :'tok_email' AND :'tok' <> :'tok_other' AS distinct_tokens;

-- the table holds SHA-256 of the token and nothing that contains the token
SELECT count(*) AS rows,
       count(*) FILTER (WHERE hash = sha256(convert_to(:'tok', 'UTF8'))) AS hash_of_tok,
       count(*) FILTER (WHERE t::text LIKE '%' || :'tok' || '%'
                           OR position(convert_to(:'tok', 'UTF8') IN hash) > 0
                           OR position(decode(translate(:'tok', '-_', '+/') || '=', 'base64') IN hash) > 0)
         AS rows_holding_raw_token
  FROM authstore.token AS t;

-- verify consumes nothing; a wrong purpose is not found and burns nothing
SELECT auth_token_verify(:'tok', 'password-reset');
SELECT auth_token_verify(:'tok', 'password-reset');
SELECT auth_token_verify(:'tok', 'email-verify') IS NULL AS wrong_purpose_verify;
SELECT auth_token_consume(:'tok', 'email-verify') IS NULL AS wrong_purpose_consume;

-- consume inside a rolled-back transaction leaves the token valid
BEGIN;
SELECT auth_token_consume(:'tok', 'password-reset');
ROLLBACK;
SELECT auth_token_verify(:'tok', 'password-reset') AS still_valid;

-- consume: once
SELECT auth_token_consume(:'tok', 'password-reset');
SELECT auth_token_consume(:'tok', 'password-reset') IS NULL AS second_consume;
SELECT auth_token_verify(:'tok', 'password-reset') IS NULL AS gone;

-- malformed tokens are simply not found: NULL, no error
SELECT label, auth_token_verify(t, 'email-verify') IS NULL AS verify_null,
       auth_token_consume(t, 'email-verify') IS NULL AS consume_null
  FROM (VALUES ('null', NULL), ('empty', ''), ('one char', 'x'),
               ('one char short', left(:'tok_email', 42)),
               ('one char long', :'tok_email' || 'A'),
               ('standard base64 +', overlay(:'tok_email' placing '+' from 5)),
               ('padding =', overlay(:'tok_email' placing '=' from 43)),
               ('non-ASCII', overlay(:'tok_email' placing 'é' from 1)),
               ('well-formed, unknown', repeat('A', 43)),
               ('100 kB', repeat('A', 100000))) AS v(label, t);
-- none of that burnt the real token
SELECT auth_token_verify(:'tok_email', 'email-verify');

-- expiry: live until exactly expires_at; expired tokens cannot be consumed
SELECT auth_token_issue('user:3', 'magic-link', 10) AS tok_short \gset
SET authstore.test_clock = 4102444809.5;
SELECT auth_token_verify(:'tok_short', 'magic-link');
SET authstore.test_clock = 4102444810;
SELECT auth_token_verify(:'tok_short', 'magic-link') IS NULL AS expired_verify;
SELECT auth_token_consume(:'tok_short', 'magic-link') IS NULL AS expired_consume;
-- the sweep removes expired tokens and nothing else
SELECT auth_kv_sweep();
SELECT count(*) AS tokens_left FROM authstore.token;
SET authstore.test_clock = 4102444800;

-- revoke: every live token of a subject, or of one purpose
SELECT auth_token_issue('user:4', 'password-reset', 600) AS r1 \gset
SELECT auth_token_issue('user:4', 'password-reset', 600) AS r2 \gset
SELECT auth_token_issue('user:4', 'email-verify', 600) AS r3 \gset
SELECT auth_token_revoke('user:4', 'password-reset') AS revoked_reset;
SELECT auth_token_verify(:'r1', 'password-reset') IS NULL AS r1_gone,
       auth_token_verify(:'r2', 'password-reset') IS NULL AS r2_gone,
       auth_token_verify(:'r3', 'email-verify') IS NOT NULL AS r3_kept;
SELECT auth_token_revoke('user:4') AS revoked_all;
SELECT auth_token_revoke('user:4') AS revoked_again;
SELECT auth_token_revoke('nobody') AS revoked_nobody;

-- bad input where something would be stored or removed: clear errors
SELECT auth_token_issue(NULL, 'p', 60);
SELECT auth_token_issue('s', NULL, 60);
SELECT auth_token_issue('s', 'p', NULL);
SELECT auth_token_issue('', 'p', 60);
SELECT auth_token_issue('s', '', 60);
SELECT auth_token_issue('s', 'p', 0);
SELECT auth_token_issue('s', 'p', -1);
SELECT auth_token_issue('s', 'p', 'NaN');
SELECT auth_token_issue('s', 'p', 'Infinity');
SELECT auth_token_issue('s', 'p', 0.0000001);
SELECT auth_token_issue(repeat('s', 1025), 'p', 60);
SELECT auth_token_verify(:'tok_email', NULL);
SELECT auth_token_revoke(NULL);
SELECT auth_token_revoke('user:1', '');
SELECT count(*) AS tokens_after_errors FROM authstore.token;

DELETE FROM authstore.token;
