-- owner: keys with an owner (issue 12).  auth_kv_set_owned() stores a key
-- with its owner, auth_kv_owner_keys() lists the owner's live keys with
-- their expiry, auth_kv_owner_delete() deletes them all.  The other writes
-- leave the owner as it is.  The suite runs this with the direct path on
-- and off.  The clock is pinned at T0 = 2100-01-01 and moved by hand.
SET authstore.test_clock = 4102444800;
SELECT auth_kv_clear('');
-- the functions' statements, planned in this session, use the owner index
-- even on a tiny table: the index's upkeep by both paths is tested too
SET enable_seqscan = off;

-- run a statement, report "SQLSTATE: message" or "ok"
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- what the table holds, owner included
CREATE FUNCTION pg_temp.rows() RETURNS TABLE (key text, value text, ttl double precision, owner text)
LANGUAGE sql AS $$
	SELECT key, value,
		   extract(epoch FROM expires_at) - 4102444800 AS ttl, owner
	  FROM authstore.kv ORDER BY key
$$;

-- two users' sessions, one key without an owner, one that never expires
SELECT auth_kv_set_owned('sess:a1', 'A1', 'user:a', 60),
	   auth_kv_set_owned('sess:a2', 'A2', 'user:a', 120),
	   auth_kv_set_owned('sess:a3', 'A3', 'user:a'),
	   auth_kv_set_owned('sess:b1', 'B1', 'user:b', 60),
	   auth_kv_set('plain', 'P', 60);
SELECT * FROM pg_temp.rows();
SELECT key, extract(epoch FROM expires_at) - 4102444800 AS ttl
  FROM auth_kv_owner_keys('user:a');
SELECT * FROM auth_kv_owner_keys('user:b');
SELECT * FROM auth_kv_owner_keys('user:nobody');
-- the owner is matched exactly, bytewise
SELECT count(*) FROM auth_kv_owner_keys('user:');
SELECT count(*) FROM auth_kv_owner_keys('USER:A');
-- the owned keys read like any other
SELECT auth_kv_get('sess:a1'), auth_kv_ttl('sess:a1'), auth_kv_ttl('sess:a3');

-- set_owned overwrites value, expiry and owner; a NULL owner removes it
SELECT auth_kv_set_owned('sess:b1', 'B1 moved', 'user:a', 30);
SELECT auth_kv_set_owned('plain', 'P owned', 'user:b', 60);
SELECT auth_kv_set_owned('sess:a3', 'A3 unowned', NULL, 60);
SELECT * FROM pg_temp.rows();
SELECT key FROM auth_kv_owner_keys('user:a');
SELECT key FROM auth_kv_owner_keys('user:b');

-- the other writes leave the owner as it is
SELECT auth_kv_set('sess:a1', 'A1 set', 90);
SELECT auth_kv_expire('sess:a2', 100);
SELECT auth_kv_compare_and_set('sess:b1', 'B1 moved', 'B1 cas', 45);
SELECT auth_kv_set_owned('ctr', '5', 'user:b', 60), auth_kv_incr('ctr', 10);
SELECT * FROM pg_temp.rows();

-- expired keys are not listed, nor counted by the delete
SET authstore.test_clock = 4102444850;
SELECT key, extract(epoch FROM expires_at) - 4102444800 AS ttl
  FROM auth_kv_owner_keys('user:a');
SELECT key FROM auth_kv_owner_keys('user:b');
SET authstore.test_clock = 4102444870;
SELECT key FROM auth_kv_owner_keys('user:b');

-- a TTL of 0 leaves the key absent (and unlisted), as auth_kv_set() does;
-- negative, NaN and infinite TTLs are refused, and nothing is lost
SELECT auth_kv_set_owned('sess:a2', 'gone', 'user:a', 0);
SELECT auth_kv_get('sess:a2');
SELECT auth_kv_set_owned('sess:new', 'x', 'user:a', 0);
SELECT key FROM auth_kv_owner_keys('user:a');
SELECT pg_temp.try($$SELECT auth_kv_set_owned('sess:a1', 'x', 'user:a', -1)$$);
SELECT pg_temp.try($$SELECT auth_kv_set_owned('sess:a1', 'x', 'user:a', 'NaN')$$);
SELECT pg_temp.try($$SELECT auth_kv_set_owned('sess:a1', 'x', 'user:a', 'Infinity')$$);
SELECT auth_kv_get('sess:a1');

-- bad input: clear errors, and the messages never contain the owner
SELECT pg_temp.try($$SELECT auth_kv_set_owned('k', 'v', '', 60)$$);
SELECT pg_temp.try($$SELECT auth_kv_set_owned(NULL, 'v', 'user:a', 60)$$);
SELECT pg_temp.try($$SELECT auth_kv_set_owned('k', NULL, 'user:a', 60)$$);
SELECT pg_temp.try($$SELECT * FROM auth_kv_owner_keys(NULL)$$);
SELECT pg_temp.try($$SELECT * FROM auth_kv_owner_keys('')$$);
SELECT pg_temp.try($$SELECT auth_kv_owner_delete(NULL)$$);
SELECT pg_temp.try($$SELECT auth_kv_owner_delete('')$$);
SELECT pg_temp.try(format('SELECT auth_kv_owner_delete(%L)', repeat('o', 5000)));
SELECT count(*) AS unchanged FROM authstore.kv;

-- the index holds exactly the owned rows after these inserts, HOT and
-- non-HOT updates (amcheck's heapallindexed compares index and heap)
CREATE EXTENSION amcheck;
SELECT bt_index_check('authstore.kv_owner_idx'::regclass, true);
DROP EXTENSION amcheck;

-- delete all of an owner's keys: the live ones are counted, the expired
-- ones go too; other owners' keys and unowned keys stay
SELECT auth_kv_set_owned('sess:a4', 'A4', 'user:a', 10);
SELECT auth_kv_set_owned('sess:a5', 'A5', 'user:a', 1000);
SET authstore.test_clock = 4102444885;
SELECT * FROM pg_temp.rows();
SELECT auth_kv_owner_delete('user:a') AS live_deleted;
SELECT * FROM pg_temp.rows();
SELECT auth_kv_owner_delete('user:a') AS again;
SELECT auth_kv_owner_delete('user:nobody') AS nobody;

-- confinement: the owner is a subject; a confined role sees and deletes
-- only the owner's keys under its key prefixes
SET authstore.test_clock = 4102444800;
SELECT auth_kv_clear('');
CREATE ROLE regress_owner_svc;
CREATE ROLE regress_owner_nosub;
GRANT authstore_user TO regress_owner_svc, regress_owner_nosub;
INSERT INTO authstore.confinement VALUES
	('regress_owner_svc', '{svc:}', '{user:}', NULL),
	('regress_owner_nosub', '{svc:}', NULL, NULL);
SELECT auth_kv_set_owned('svc:s1', 'mine', 'user:1', 60),
	   auth_kv_set_owned('other:s1', 'not mine', 'user:1', 60);
SET ROLE regress_owner_svc;
SELECT auth_kv_set_owned('svc:s2', 'mine too', 'user:1', 60);
SELECT key FROM auth_kv_owner_keys('user:1');
SELECT pg_temp.try($$SELECT auth_kv_set_owned('other:s2', 'x', 'user:1', 60)$$);
SELECT pg_temp.try($$SELECT auth_kv_set_owned('svc:s3', 'x', 'admin', 60)$$);
SELECT pg_temp.try($$SELECT * FROM auth_kv_owner_keys('admin')$$);
SELECT pg_temp.try($$SELECT auth_kv_owner_delete('admin')$$);
SELECT auth_kv_owner_delete('user:1') AS deleted_mine;
RESET ROLE;
SELECT * FROM pg_temp.rows();
SET ROLE regress_owner_nosub;
SELECT pg_temp.try($$SELECT * FROM auth_kv_owner_keys('user:1')$$);
SELECT auth_kv_set_owned('svc:s4', 'no owner', NULL, 60);
RESET ROLE;
SELECT * FROM pg_temp.rows();
-- a confined login that sets a role confined elsewhere sees by owner only
-- keys under a prefix of both: svc:inner: (svc: and svc:inner:), not
-- svc:outer: (only the login's) or other: (only the role's)
CREATE ROLE regress_owner_inner;
GRANT authstore_user TO regress_owner_inner;
GRANT regress_owner_inner TO regress_owner_svc;
INSERT INTO authstore.confinement VALUES
	('regress_owner_inner', '{svc:inner:,other:}', '{user:}', NULL);
SELECT auth_kv_set_owned('svc:inner:1', 'both', 'user:2', 60),
	   auth_kv_set_owned('svc:outer:1', 'login only', 'user:2', 60),
	   auth_kv_set_owned('other:1', 'role only', 'user:2', 60);
SET SESSION AUTHORIZATION regress_owner_svc;
SELECT key FROM auth_kv_owner_keys('user:2');
SET ROLE regress_owner_inner;
SELECT key FROM auth_kv_owner_keys('user:2');
SELECT auth_kv_owner_delete('user:2') AS deleted_both;
RESET ROLE;
RESET SESSION AUTHORIZATION;
SELECT key FROM auth_kv_owner_keys('user:2');
SELECT auth_kv_owner_delete('user:2') AS deleted_rest;
DELETE FROM authstore.confinement WHERE role = 'regress_owner_inner'::regrole;
DROP ROLE regress_owner_inner;
-- a confined role with no key prefixes sees nothing by owner
UPDATE authstore.confinement SET key_prefixes = NULL
 WHERE role = 'regress_owner_svc'::regrole;
SET ROLE regress_owner_svc;
SELECT count(*) FROM auth_kv_owner_keys('user:1');
SELECT auth_kv_owner_delete('user:1') AS deleted_none;
RESET ROLE;
SELECT count(*) FROM authstore.kv;
DELETE FROM authstore.confinement;
DROP ROLE regress_owner_svc, regress_owner_nosub;

-- PUBLIC has no access; authstore_user has
CREATE ROLE regress_owner_public;
SET ROLE regress_owner_public;
SELECT pg_temp.try($$SELECT auth_kv_set_owned('k', 'v', 'o', 60)$$);
SELECT pg_temp.try($$SELECT * FROM auth_kv_owner_keys('o')$$);
SELECT pg_temp.try($$SELECT auth_kv_owner_delete('o')$$);
RESET ROLE;
DROP ROLE regress_owner_public;

-- the owner index serves the list and the delete (as the functions query)
CREATE FUNCTION pg_temp.uses_owner_idx(q text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	line text;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
		IF line ~ 'kv_owner_idx' THEN
			RETURN true;
		END IF;
	END LOOP;
	RETURN false;
END
$$;
SELECT pg_temp.uses_owner_idx($$SELECT key, expires_at FROM authstore.kv
 WHERE owner OPERATOR(pg_catalog.=) 'user:1' ORDER BY key$$) AS list_uses_index,
	   pg_temp.uses_owner_idx($$DELETE FROM authstore.kv
 WHERE owner OPERATOR(pg_catalog.=) 'user:1'$$) AS delete_uses_index;
RESET enable_seqscan;
SELECT auth_kv_clear('');
