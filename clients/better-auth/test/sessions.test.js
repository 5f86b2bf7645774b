// Exact session lists: session keys are stored with their user as owner
// (auth_kv_set_owned), and `active-sessions-<userId>` is built from the
// extension's owner index (auth_kv_owner_keys) in the form Better Auth
// writes it; Better Auth's own set/delete of the list key change nothing.
// Also: exactSessionLists false stores the list as a plain key, and an
// extension older than 0.2.0 gets a plain-words error.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { authstore, sessionOwner, SESSION_LIST_PREFIX } from "../src/index.js";
import { getCluster, makeDatabase, adminPool, connectionString } from "./helpers.js";

let cluster;
let conn;
let store;
let admin;

before(async () => {
	cluster = await getCluster();
	conn = await makeDatabase(cluster);
	store = authstore({ connectionString: connectionString(conn) });
	admin = adminPool(cluster, conn.database);
});
after(async () => {
	await store?.close();
	await admin?.end();
	await cluster?.stop();
});

// A value as Better Auth stores it under a session token's key.
function sessionValue(token, userId, expiresAt) {
	return JSON.stringify({
		session: { id: "s-" + token, token, userId, expiresAt: new Date(expiresAt).toISOString(), createdAt: new Date().toISOString() },
		user: { id: userId, email: `${userId}@example.com` },
	});
}

async function owners() {
	return (await admin.query("SELECT key, owner FROM authstore.kv ORDER BY key")).rows;
}

test("sessionOwner: only a session value stored under its own token", () => {
	assert.equal(sessionOwner("t1", sessionValue("t1", "u1", Date.now())), "u1");
	assert.equal(sessionOwner("t2", sessionValue("t1", "u1", Date.now())), null, "token differs from the key");
	assert.equal(sessionOwner("t1", '{"session":'), null, "not JSON");
	assert.equal(sessionOwner("t1", '{"session":{"token":"t1","userId":7}}'), null, "userId not a string");
	assert.equal(sessionOwner("t1", '{"session":{"token":"t1","userId":""}}'), null, "empty userId");
	assert.equal(sessionOwner("t1", '{"user":{"id":"u1"},"session":{"token":"t1","userId":"u1"}}'), null, "other layouts stay plain");
	assert.equal(sessionOwner("verification:x", '{"value":"1"}'), null);
});

test("the list is built from the user's live session keys; set/delete of it change nothing", async () => {
	const s = store.secondaryStorage;
	const now = Date.now();
	const list = `${SESSION_LIST_PREFIX}u1`;
	assert.equal(await s.get(list), null, "no sessions: no list");
	await s.set("tokA", sessionValue("tokA", "u1", now + 3600e3), 3600);
	await s.set("tokB", sessionValue("tokB", "u1", now + 60e3), 60);
	await s.set("tokC", sessionValue("tokC", "u2", now + 3600e3), 3600);
	await s.set("plain", '{"a":1}', 60);
	assert.deepEqual(await owners(), [
		{ key: "plain", owner: null },
		{ key: "tokA", owner: "u1" },
		{ key: "tokB", owner: "u1" },
		{ key: "tokC", owner: "u2" },
	]);
	const got = JSON.parse(await s.get(list));
	assert.deepEqual(
		got.map((e) => e.token),
		["tokB", "tokA"],
		"sorted by expiry, as Better Auth sorts it",
	);
	for (const e of got) assert.equal(typeof e.expiresAt, "number");
	assert.ok(Math.abs(got[0].expiresAt - (now + 60e3)) < 2000, "expiresAt is the key's expiry in ms");
	assert.ok(Math.abs(got[1].expiresAt - (now + 3600e3)) < 2000);
	// Better Auth's writes of the list are harmless: a stale list does not
	// hide a session, an empty one does not drop them, delete removes nothing
	await s.set(list, JSON.stringify([{ token: "tokA", expiresAt: now + 3600e3 }]), 3600);
	await s.delete(list);
	await s.set(list, "[]", 0);
	assert.deepEqual(JSON.parse(await s.get(list)).map((e) => e.token), ["tokB", "tokA"]);
	assert.equal(await s.getAndDelete(list), await s.get(list), "getAndDelete of the list reads it");
	assert.equal((await admin.query("SELECT count(*)::int AS n FROM authstore.kv WHERE key LIKE 'active-sessions-%'")).rows[0].n, 0, "no list key is stored");
	// a session deleted or expired leaves the list
	await s.delete("tokB");
	assert.deepEqual(JSON.parse(await s.get(list)).map((e) => e.token), ["tokA"]);
	await s.set("tokA", sessionValue("tokA", "u1", now), 0);
	assert.equal(await s.get(list), null);
	// the other user's list, and an empty user id
	assert.deepEqual(JSON.parse(await s.get(`${SESSION_LIST_PREFIX}u2`)).map((e) => e.token), ["tokC"]);
	assert.equal(await s.get(SESSION_LIST_PREFIX), null);
	// a session value read back is the value stored
	assert.equal(JSON.parse(await s.get("tokC")).session.userId, "u2");
});

test("ownerPrefix: owners are prefixed, lists found under the prefix", async () => {
	const c = await makeDatabase(cluster);
	const a = authstore({ connectionString: connectionString(c), ownerPrefix: "ba:" });
	const db = adminPool(cluster, c.database);
	try {
		await a.secondaryStorage.set("t1", sessionValue("t1", "u9", Date.now() + 600e3), 600);
		assert.deepEqual((await db.query("SELECT owner FROM authstore.kv")).rows, [{ owner: "ba:u9" }]);
		assert.deepEqual(JSON.parse(await a.secondaryStorage.get(`${SESSION_LIST_PREFIX}u9`)).map((e) => e.token), ["t1"]);
	} finally {
		await a.close();
		await db.end();
	}
});

test("exactSessionLists false: the list is a plain key, as on Redis", async () => {
	const c = await makeDatabase(cluster);
	const a = authstore({ connectionString: connectionString(c), exactSessionLists: false });
	const db = adminPool(cluster, c.database);
	try {
		const list = `${SESSION_LIST_PREFIX}u1`;
		await a.secondaryStorage.set("t1", sessionValue("t1", "u1", Date.now() + 600e3), 600);
		await a.secondaryStorage.set(list, "[stored]", 600);
		assert.equal(await a.secondaryStorage.get(list), "[stored]");
		assert.deepEqual((await db.query("SELECT key, owner FROM authstore.kv ORDER BY key")).rows, [
			{ key: list, owner: null },
			{ key: "t1", owner: null },
		]);
	} finally {
		await a.close();
		await db.end();
	}
});

test("extension 0.1.0: exact session lists say to update it; exactSessionLists false works", async () => {
	const c = await makeDatabase(cluster, { schema: null });
	const db = adminPool(cluster, c.database);
	await db.query("CREATE EXTENSION authstore VERSION '0.1.0'");
	await db.query(`GRANT authstore_user TO ${c.user}`);
	const a = authstore({ connectionString: connectionString(c) });
	const b = authstore({ connectionString: connectionString(c), exactSessionLists: false });
	try {
		await assert.rejects(a.ready(), (e) => {
			assert.equal(e.code, "AUTHSTORE_OLD_VERSION");
			assert.match(e.message, /is version 0\.1\.0; exact session lists need 0\.2\.0 or later.*ALTER EXTENSION authstore UPDATE/);
			return true;
		});
		await b.secondaryStorage.set("k", "v", 60);
		assert.equal(await b.secondaryStorage.get("k"), "v");
		await db.query("ALTER EXTENSION authstore UPDATE");
		await a.secondaryStorage.set("t1", sessionValue("t1", "u1", Date.now() + 600e3), 600);
		assert.deepEqual(JSON.parse(await a.secondaryStorage.get(`${SESSION_LIST_PREFIX}u1`)).map((e) => e.token), ["t1"]);
	} finally {
		await a.close();
		await b.close();
		await db.end();
	}
});
