// authstore-import against a real redis-server: a real Better Auth server on
// @better-auth/redis-storage signs users in; after the import the same
// cookies work against a Better Auth server on authstore (nobody logged
// out) and every key's TTL agrees with Redis's within a second.  Also: the
// dry run writes nothing, re-runs are idempotent, non-string keys and keys
// that expire meanwhile are skipped and counted, RustAuth's layout, and the
// progress line on a terminal.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import pg from "pg";
import Redis from "ioredis";
import { redisStorage } from "@better-auth/redis-storage";
import { authstore } from "../src/index.js";
import { getCluster, makeDatabase, adminPool, connectionString, startRedis, startAuthServer, call } from "./helpers.js";

const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "bin", "authstore-import.js");

let cluster;
let redisSrv;
let redis;
before(async () => {
	cluster = await getCluster();
	redisSrv = await startRedis();
	redis = new Redis(redisSrv.url);
});
after(async () => {
	redis?.disconnect();
	await redisSrv?.stop();
	await cluster?.stop();
});

function runImport(args, env = {}) {
	const r = spawnSync(process.execPath, [bin, "--redis", redisSrv.url, ...args], {
		encoding: "utf8",
		env: { ...process.env, ...env },
	});
	return r;
}
function importJson(args) {
	const r = runImport([...args, "--json"]);
	assert.equal(r.status, 0, r.stderr);
	return JSON.parse(r.stdout);
}

test("Better Auth on Redis -> import -> the same cookies work on authstore, TTLs within a second", async (t) => {
	await redis.flushall();
	const conn = await makeDatabase(cluster);
	const url = connectionString(conn);
	const usersPool = new pg.Pool({ host: conn.host, port: conn.port, user: conn.user, database: conn.database, max: 5 });
	const admin = adminPool(cluster, conn.database);
	const a = authstore({ connectionString: url });
	const onRedis = await startAuthServer({ usersPool, secondaryStorage: redisStorage({ client: redis, keyPrefix: "ba:" }) });
	let onAuthstore;
	try {
		// 5 users, each signed up and signed in twice: 15 sessions
		const cookies = [];
		for (let u = 0; u < 5; u++) {
			const email = `imp${u}@example.com`;
			const password = "correct horse battery staple";
			const up = await call(onRedis.baseURL, "/sign-up/email", { method: "POST", body: { email, password, name: `U${u}` } });
			assert.equal(up.status, 200);
			cookies.push({ email, cookie: up.cookie });
			for (let i = 0; i < 2; i++) {
				const r = await call(onRedis.baseURL, "/sign-in/email", { method: "POST", body: { email, password } });
				assert.equal(r.status, 200);
				cookies.push({ email, cookie: r.cookie });
			}
		}
		// noise: a hash under the prefix, a key without TTL, keys outside it
		await redis.hset("ba:some-hash", "f", "v");
		await redis.rpush("ba:some-list", "x");
		await redis.set("ba:no-ttl", "forever");
		await redis.set("other-app:key", "not ours");
		const redisKeys = (await redis.keys("ba:*")).filter((k) => !["ba:some-hash", "ba:some-list"].includes(k));

		// the dry run counts and writes nothing
		const dry = importJson(["--database", url, "--key-prefix", "ba:", "--dry-run"]);
		assert.equal(dry.dryRun, true);
		assert.equal(dry.copied, redisKeys.length);
		assert.equal((await admin.query("SELECT count(*)::int AS n FROM auth_kv_keys('')")).rows[0].n, 0);

		const sum = importJson(["--database", url, "--key-prefix", "ba:"]);
		t.diagnostic(`import: ${JSON.stringify({ ...sum, text: undefined })}`);
		assert.equal(sum.scanned, redisKeys.length + 2);
		assert.equal(sum.copied, redisKeys.length);
		assert.equal(sum.withoutTtl, 1);
		assert.equal(sum.notString, 2);
		assert.deepEqual(sum.notStringTypes, { hash: 1, list: 1 });
		assert.equal(sum.expired, 0);

		// every key: same value, TTL within a second of Redis's
		let maxDiff = 0;
		for (const rk of redisKeys) {
			const k = rk.slice(3);
			const [v, pttl] = await Promise.all([redis.get(rk), redis.pttl(rk)]);
			const row = (await admin.query("SELECT auth_kv_get($1) AS v, auth_kv_ttl($1) AS t", [k])).rows[0];
			assert.equal(row.v, v, k);
			if (pttl === -1) assert.equal(row.t, Infinity);
			else {
				const d = Math.abs(row.t - pttl / 1000);
				maxDiff = Math.max(maxDiff, d);
				assert.ok(d < 1, `TTL differs by ${d} s`);
			}
		}
		t.diagnostic(`keys ${redisKeys.length}, largest TTL difference ${maxDiff.toFixed(3)} s`);
		assert.equal(await a.secondaryStorage.get("key"), null, "a key outside the prefix was not copied");

		// a Better Auth server on authstore accepts every cookie
		onAuthstore = await startAuthServer({ usersPool, secondaryStorage: a.secondaryStorage });
		let ok = 0;
		for (const { email, cookie } of cookies) {
			const g = await call(onAuthstore.baseURL, "/get-session", { cookie });
			if (g.status === 200 && g.json?.user?.email === email) ok++;
		}
		t.diagnostic(`sessions valid on authstore after the import: ${ok} of ${cookies.length}`);
		assert.equal(ok, cookies.length);
		const list = await call(onAuthstore.baseURL, "/list-sessions", { cookie: cookies[0].cookie });
		assert.equal(list.json.length, 3, "the user's session list came along");

		// a re-run is idempotent: same keys, same values
		const before2 = (await admin.query("SELECT k, auth_kv_get(k) AS v FROM auth_kv_keys('') AS k ORDER BY k")).rows;
		const again = importJson(["--database", url, "--key-prefix", "ba:"]);
		assert.equal(again.copied, sum.copied);
		const after2 = (await admin.query("SELECT k, auth_kv_get(k) AS v FROM auth_kv_keys('') AS k ORDER BY k")).rows;
		assert.deepEqual(after2, before2);
	} finally {
		await onRedis.close();
		await onAuthstore?.close();
		await a.close();
		await admin.end();
		await usersPool.end();
	}
});

test("keys that expire between SCAN and read are skipped and counted", async () => {
	await redis.flushall();
	const conn = await makeDatabase(cluster);
	// 2 s: the command must start and SCAN before they expire, even on a
	// busy machine (300 ms was not enough while other tests ran)
	await redis.set("better-auth:short1", "x", "PX", 2000);
	await redis.set("better-auth:short2", "x", "PX", 2000);
	await redis.set("better-auth:long", "y", "EX", 100);
	const sum = importJson(["--database", connectionString(conn), "--pause-after-scan-ms", "3000"]);
	assert.equal(sum.scanned, 3);
	assert.equal(sum.expired, 2);
	assert.equal(sum.copied, 1);
	const a = authstore({ connectionString: connectionString(conn) });
	assert.equal(await a.secondaryStorage.get("long"), "y");
	assert.equal(await a.secondaryStorage.get("short1"), null);
	await a.close();
});

test("RustAuth layout: secondary: keys copied, rate-limit: keys skipped and counted", async () => {
	await redis.flushall();
	const conn = await makeDatabase(cluster);
	await redis.set("secondary:tok1", '{"s":1}', "EX", 500);
	await redis.set("secondary:active-sessions-u1", "[]");
	await redis.set("rate-limit:1.2.3.4|/sign-in", '{"count":1}', "EX", 10);
	await redis.set("better-auth:x", "not this layout");
	const sum = importJson(["--database", connectionString(conn), "--layout", "rustauth"]);
	assert.equal(sum.copied, 2);
	assert.equal(sum.rateLimit, 1);
	assert.equal(sum.scanned, 3);
	const admin = adminPool(cluster, conn.database);
	const rows = (await admin.query("SELECT k, auth_kv_ttl(k) AS t FROM auth_kv_keys('') AS k ORDER BY k")).rows;
	await admin.end();
	assert.deepEqual(rows.map((r) => r.k), ["active-sessions-u1", "tok1"]);
	assert.equal(rows[0].t, Infinity);
	assert.ok(rows[1].t > 498 && rows[1].t <= 500);
});

test("command line: summary line, progress on a terminal, plain errors", async () => {
	await redis.flushall();
	const conn = await makeDatabase(cluster);
	for (let i = 0; i < 30; i++) await redis.set(`better-auth:k${i}`, "v", "EX", 100);
	const plain = runImport(["--database", connectionString(conn), "--batch", "10"]);
	assert.equal(plain.status, 0, plain.stderr);
	assert.match(plain.stdout, /^authstore-import: scanned 30 keys \(better-auth layout\); copied 30 \(30 with TTL, 0 without\); skipped 0 expired meanwhile, 0 not strings, 0 rate-limit state, 0 not UTF-8 text\n$/);
	assert.equal(plain.stderr, "", "no progress line when stderr is not a terminal");
	// under a pseudo-terminal (script(1)) the progress line appears
	const cmd = `${process.execPath} ${bin} --redis ${redisSrv.url} --database '${connectionString(conn)}' --batch 10 --dry-run`;
	const tty = spawnSync("script", ["-qec", cmd, "/dev/null"], { encoding: "utf8" });
	assert.equal(tty.status, 0, tty.stdout);
	assert.match(tty.stdout, /\rscanned \d+, would copy \d+, skipped 0/);
	assert.match(tty.stdout, /DRY RUN, nothing written/);
	// usage and connection errors in plain words
	const bad = runImport(["--layout", "memcached", "--database", "x"]);
	assert.equal(bad.status, 2);
	assert.match(bad.stderr, /--layout must be better-auth or rustauth/);
	const nodb = runImport([], { AUTHSTORE_DATABASE_URL: "" });
	assert.equal(nodb.status, 2);
	assert.match(nodb.stderr, /give --database or set AUTHSTORE_DATABASE_URL/);
	const none = await makeDatabase(cluster, { schema: null });
	const noext = runImport(["--database", connectionString(none)]);
	assert.equal(noext.status, 1);
	assert.match(noext.stderr, /the authstore extension is not installed in database/);
});
