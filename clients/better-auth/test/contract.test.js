// The storage contract against a real authstore: every SecondaryStorage
// method, the TTL mapping, increment's exactness, consume against Better
// Auth's own memory store, schema qualification and the start-up check.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { authstore, AuthstoreError, rateRule } from "../src/index.js";
import { getCluster, makeDatabase, adminPool, connectionString } from "./helpers.js";

let cluster;
let conn;
let store;
let admin;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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

async function ttlOf(key) {
	return (await admin.query("SELECT auth_kv_ttl($1) AS t", [key])).rows[0].t;
}

test("get/set/delete/getAndDelete round trip", async () => {
	const s = store.secondaryStorage;
	assert.equal(await s.get("k1"), null);
	assert.equal(await s.set("k1", '{"a":1}'), undefined);
	assert.equal(await s.get("k1"), '{"a":1}');
	await s.set("k1", "v2", 60);
	assert.equal(await s.get("k1"), "v2");
	assert.equal(await s.getAndDelete("k1"), "v2");
	assert.equal(await s.getAndDelete("k1"), null);
	assert.equal(await s.get("k1"), null);
	await s.set("k2", "x");
	assert.equal(await s.delete("k2"), undefined);
	assert.equal(await s.get("k2"), null);
	assert.equal(await s.delete("k2"), undefined, "deleting a missing key is fine");
	// keys and values with quotes, unicode and a NUL-free long value
	const v = "é\"'\\".repeat(1000);
	await s.set("a'b\"c:ü", v);
	assert.equal(await s.get("a'b\"c:ü"), v);
});

test("set TTL: undefined/null never expire, >0 expires, 0 or negative leaves the key absent", async () => {
	const s = store.secondaryStorage;
	await s.set("t-undef", "x");
	await s.set("t-null", "x", null);
	assert.equal(await ttlOf("t-undef"), Infinity);
	assert.equal(await ttlOf("t-null"), Infinity);
	await s.set("t-pos", "x", 100);
	const t = await ttlOf("t-pos");
	assert.ok(t > 99 && t <= 100, `ttl ${t}`);
	// A live key set again with 0 or a negative TTL is gone, not immortal.
	for (const ttl of [0, -1, -0.5]) {
		await s.set("t-zero", "x", 100);
		await s.set("t-zero", "y", ttl);
		assert.equal(await s.get("t-zero"), null, `ttl ${ttl}`);
		assert.equal(await ttlOf("t-zero"), null, `ttl ${ttl}`);
	}
	// fractional seconds are kept
	await s.set("t-frac", "x", 0.3);
	assert.equal(await s.get("t-frac"), "x");
	await sleep(400);
	assert.equal(await s.get("t-frac"), null);
});

test("set TTL NaN/Infinity is a clear error and changes nothing", async () => {
	const s = store.secondaryStorage;
	await s.set("t-bad", "before", 100);
	for (const ttl of [NaN, Infinity, -Infinity, "10"]) {
		await assert.rejects(s.set("t-bad", "after", ttl), (e) => {
			assert.ok(e instanceof AuthstoreError);
			assert.equal(e.code, "AUTHSTORE_BAD_TTL");
			assert.match(e.message, /ttl must be a finite number/);
			assert.ok(!e.message.includes("t-bad"), "no key in the message");
			return true;
		});
	}
	assert.equal(await s.get("t-bad"), "before");
	await assert.rejects(s.increment("t-bad-incr", NaN), { code: "AUTHSTORE_BAD_TTL" });
	assert.equal(await s.get("t-bad-incr"), null);
});

test("increment: creates with the TTL, later increments keep it, exact or throws past 2^53-1", async () => {
	const s = store.secondaryStorage;
	assert.equal(await s.increment("c1", 60), 1);
	assert.equal(await s.increment("c1", 5), 2);
	assert.equal(typeof (await s.increment("c1", 5)), "number");
	const t = await ttlOf("c1");
	assert.ok(t > 59 && t <= 60, `the first increment's TTL stays: ${t}`);
	// fractional TTL (secondary-storage rate limiting passes the window)
	assert.equal(await s.increment("c-frac", 0.3), 1);
	await sleep(400);
	assert.equal(await s.increment("c-frac", 0.3), 1, "expired counter restarts");
	// ttl 0: like Redis INCR + EXPIRE 0, the new key is absent afterwards
	assert.equal(await s.increment("c-zero", 0), 1);
	assert.equal(await s.get("c-zero"), null);
	// undefined: no expiry
	assert.equal(await s.increment("c-none"), 1);
	assert.equal(await ttlOf("c-none"), Infinity);
	// exactness around 2^53
	await s.set("c-big", "9007199254740990");
	assert.equal(await s.increment("c-big", 60), 9007199254740991);
	await assert.rejects(s.increment("c-big", 60), (e) => e.code === "AUTHSTORE_NOT_EXACT" && /2\^53/.test(e.message));
	// not a number: the extension's error comes through
	await s.set("c-str", "abc");
	await assert.rejects(s.increment("c-str", 60), { code: "22P02" });
});

// Better Auth 1.7.29's memory store (api/rate-limiter/index.mjs), copied
// decision for decision, as the reference consume is compared with.
function memoryStore() {
	const memory = new Map();
	return {
		consume(key, rule, now) {
			const windowInMs = rule.window * 1e3;
			const e = memory.get(key);
			const data = e && now < e.expiresAt ? e.data : undefined;
			let allowed;
			let next;
			if (!data) {
				allowed = true;
				next = { count: 1, lastRequest: now };
			} else if (now - data.lastRequest >= windowInMs) {
				allowed = true;
				next = { count: 1, lastRequest: now };
			} else if (data.count >= rule.max) {
				allowed = false;
			} else {
				allowed = true;
				next = { count: data.count + 1, lastRequest: now };
			}
			if (allowed) memory.set(key, { data: next, expiresAt: now + rule.window * 1e3 });
			return allowed;
		},
	};
}

test("consume matches Better Auth's memory store: max 0, negative, fractional, fractional windows", async () => {
	const rules = [
		{ window: 10, max: 3 },
		{ window: 10, max: 0 },
		{ window: 10, max: -2 },
		{ window: 10, max: 0.5 },
		{ window: 10, max: 1.5 },
		{ window: 10, max: 2.0001 },
		{ window: 0.25, max: 2 },
		{ window: 0, max: 1 },
		{ window: -5, max: 1 },
		{ window: NaN, max: 1 },
		{ window: 10, max: NaN },
		{ window: 10, max: Infinity },
		{ window: 10, max: 1e12 },
	];
	for (const [i, rule] of rules.entries()) {
		const mem = memoryStore();
		const key = `rl-${i}`;
		const got = [];
		const want = [];
		for (let n = 0; n < 6; n++) {
			const r = await store.rateLimitStorage.consume(key, rule);
			want.push(mem.consume(key, rule, Date.now()));
			got.push(r.allowed);
			if (!r.allowed) {
				assert.ok(Number.isInteger(r.retryAfter) && r.retryAfter >= 1 && r.retryAfter <= Math.ceil(rule.window), `retryAfter ${r.retryAfter}`);
			} else {
				assert.equal(r.retryAfter, null);
			}
		}
		assert.deepEqual(got, want, `rule ${JSON.stringify(rule)} (${String(rule.window)}, ${String(rule.max)})`);
	}
	// a fractional window frees up after it has passed
	const rule = { window: 0.3, max: 1 };
	assert.equal((await store.rateLimitStorage.consume("rl-w", rule)).allowed, true);
	const denied = await store.rateLimitStorage.consume("rl-w", rule);
	assert.deepEqual(denied, { allowed: false, retryAfter: 1 });
	await sleep(350);
	assert.equal((await store.rateLimitStorage.consume("rl-w", rule)).allowed, true);
});

test("rateRule maps rules auth_rl_hit refuses", () => {
	assert.deepEqual(rateRule({ window: 10, max: 0 }), { window: 10, max: 1 });
	assert.deepEqual(rateRule({ window: 1.5, max: 2.2 }), { window: 1.5, max: 3 });
	assert.equal(rateRule({ window: 0, max: 3 }), null);
	assert.throws(() => rateRule({ window: Infinity, max: 3 }), { code: "AUTHSTORE_BAD_RULE" });
});

test("calls are schema-qualified: extension in schema auth, a search_path without it", async () => {
	const c2 = await makeDatabase(cluster, { schema: "auth" });
	const a = authstore({
		connectionString: connectionString(c2),
		schema: "auth",
		poolOptions: { options: "-c search_path=public" },
	});
	try {
		await a.secondaryStorage.set("q", "v", 10);
		assert.equal(await a.secondaryStorage.get("q"), "v");
		assert.equal(await a.secondaryStorage.increment("n", 10), 1);
		assert.equal((await a.rateLimitStorage.consume("r", { window: 10, max: 1 })).allowed, true);
		assert.deepEqual(await a.ready(), { schema: "auth", version: (await a.ready()).version });
	} finally {
		await a.close();
	}
	// The wrong schema option is named in plain words.
	const b = authstore({ connectionString: connectionString(c2) });
	try {
		await assert.rejects(b.secondaryStorage.get("q"), (e) => {
			assert.equal(e.code, "AUTHSTORE_WRONG_SCHEMA");
			assert.match(e.message, /in schema "auth".*pass \{ schema: "auth" \}/);
			return true;
		});
	} finally {
		await b.close();
	}
});

test("start-up check: not installed, no privilege, then fixed without restarting", async () => {
	const none = await makeDatabase(cluster, { schema: null });
	const a = authstore({ connectionString: connectionString(none), logger: { error() {} } });
	try {
		await assert.rejects(a.ready(), (e) => {
			assert.equal(e.code, "AUTHSTORE_NOT_INSTALLED");
			assert.match(e.message, /extension is not installed in database "ba_.*CREATE EXTENSION authstore SCHEMA "public"/);
			return true;
		});
		await assert.rejects(a.secondaryStorage.get("x"), { code: "AUTHSTORE_NOT_INSTALLED" });
		// consume does not throw: it denies (fail-closed)
		assert.deepEqual(await a.rateLimitStorage.consume("x", { window: 10, max: 5 }), { allowed: false, retryAfter: 10 });
		// installed now: the next call succeeds (the failed check is not cached)
		const db = adminPool(cluster, none.database);
		await db.query("CREATE EXTENSION authstore");
		await db.end();
		await assert.rejects(a.secondaryStorage.get("x"), { code: "AUTHSTORE_PERMISSION" });
		const db2 = adminPool(cluster, none.database);
		await db2.query(`GRANT authstore_user TO ${none.user}`);
		await db2.end();
		assert.equal(await a.secondaryStorage.get("x"), null);
	} finally {
		await a.close();
	}
	const nousage = await makeDatabase(cluster, { schema: "auth", grant: false });
	const c = authstore({ connectionString: connectionString(nousage), schema: "auth" });
	try {
		await assert.rejects(c.ready(), (e) => {
			assert.equal(e.code, "AUTHSTORE_PERMISSION");
			assert.match(e.message, /may not use schema "auth".*GRANT USAGE ON SCHEMA "auth"/);
			return true;
		});
	} finally {
		await c.close();
	}
	const nogrant = await makeDatabase(cluster, { grant: false });
	const b = authstore({ connectionString: connectionString(nogrant) });
	try {
		await assert.rejects(b.ready(), (e) => {
			assert.equal(e.code, "AUTHSTORE_PERMISSION");
			assert.match(e.message, new RegExp(`role "${nogrant.user}" may not use the authstore extension.*GRANT authstore_user TO "${nogrant.user}"`));
			return true;
		});
	} finally {
		await b.close();
	}
});

test("a pool of yours is used and left open", async () => {
	const pool = new pg.Pool({ host: conn.host, port: conn.port, user: conn.user, database: conn.database, max: 2 });
	const a = authstore({ pool });
	await a.secondaryStorage.set("mine", "v");
	assert.equal(await a.secondaryStorage.get("mine"), "v");
	await a.close();
	assert.equal((await pool.query("SELECT 1 AS x")).rows[0].x, 1, "close() did not end a pool it did not create");
	await pool.end();
});

test("no pool, no connectionString: reads AUTHSTORE_DATABASE_URL, not DATABASE_URL", async () => {
	const saved = { a: process.env.AUTHSTORE_DATABASE_URL, d: process.env.DATABASE_URL };
	try {
		delete process.env.AUTHSTORE_DATABASE_URL;
		process.env.DATABASE_URL = connectionString(conn);
		assert.throws(() => authstore(), (e) => e.code === "AUTHSTORE_BAD_OPTION" && /AUTHSTORE_DATABASE_URL/.test(e.message));
		process.env.AUTHSTORE_DATABASE_URL = connectionString(conn);
		const a = authstore();
		assert.equal(await a.secondaryStorage.get("mine"), "v");
		await a.close();
	} finally {
		if (saved.a === undefined) delete process.env.AUTHSTORE_DATABASE_URL;
		else process.env.AUTHSTORE_DATABASE_URL = saved.a;
		if (saved.d === undefined) delete process.env.DATABASE_URL;
		else process.env.DATABASE_URL = saved.d;
	}
});
