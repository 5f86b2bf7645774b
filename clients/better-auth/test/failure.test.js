// Failure policy: consume never throws into Better Auth (fail-closed by
// default, failOpen on request), errors are logged once per interval with
// the cause, and the pool the package creates has timeouts, so neither a
// refused connection, a silent server nor a blocked statement takes the app
// down or hangs it.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import pg from "pg";
import { authstore, DEFAULT_POOL_OPTIONS } from "../src/index.js";
import { getCluster, makeDatabase, adminPool, connectionString, freePort, startAuthServer, call } from "./helpers.js";

let cluster;
let conn;
before(async () => {
	cluster = await getCluster();
	conn = await makeDatabase(cluster);
});
after(async () => {
	await cluster?.stop();
});

function captureLogger() {
	const lines = [];
	return { lines, error: (msg, cause) => lines.push({ msg, cause }) };
}

test("refused connection: consume denies with retryAfter = window, logs once per interval with the cause", async () => {
	const port = await freePort(); // nobody listens there
	const logger = captureLogger();
	const a = authstore({ connectionString: `postgresql://x@127.0.0.1:${port}/x`, logger, logIntervalMs: 300 });
	try {
		for (let i = 0; i < 5; i++) {
			assert.deepEqual(await a.rateLimitStorage.consume("k", { window: 10, max: 3 }), { allowed: false, retryAfter: 10 });
		}
		assert.deepEqual(await a.rateLimitStorage.consume("k", { window: 2.5, max: 3 }), { allowed: false, retryAfter: 3 });
		assert.equal(logger.lines.length, 1, "one line per interval");
		assert.match(logger.lines[0].msg, /rate limiting failed, denying the request \(fail-closed\); cause: ECONNREFUSED/);
		assert.ok(logger.lines[0].cause instanceof Error);
		await new Promise((r) => setTimeout(r, 350));
		await a.rateLimitStorage.consume("k", { window: 10, max: 3 });
		assert.equal(logger.lines.length, 2);
		assert.match(logger.lines[1].msg, /\(5 more since the last report\)/);
		// the storage methods themselves reject (Better Auth reports those)
		await assert.rejects(a.secondaryStorage.get("k"), { code: "ECONNREFUSED" });
	} finally {
		await a.close();
	}
});

test("failOpen allows and says so", async () => {
	const port = await freePort();
	const logger = captureLogger();
	const a = authstore({ connectionString: `postgresql://x@127.0.0.1:${port}/x`, logger, failOpen: true });
	try {
		assert.deepEqual(await a.rateLimitStorage.consume("k", { window: 10, max: 3 }), { allowed: true, retryAfter: null });
		assert.match(logger.lines[0].msg, /allowing the request \(failOpen\)/);
	} finally {
		await a.close();
	}
});

test("the package's pool has connection and statement timeouts; options override them", async () => {
	const a = authstore({ connectionString: connectionString(conn) });
	const b = authstore({ connectionString: connectionString(conn), poolOptions: { statement_timeout: 1234, max: 3 } });
	try {
		for (const k of ["connectionTimeoutMillis", "statement_timeout", "query_timeout"]) {
			assert.equal(a.pool.options[k], DEFAULT_POOL_OPTIONS[k], k);
			assert.ok(DEFAULT_POOL_OPTIONS[k] > 0 && DEFAULT_POOL_OPTIONS[k] <= 10000, k);
		}
		assert.equal((await a.pool.query("SHOW statement_timeout")).rows[0].statement_timeout, "5s");
		assert.equal((await b.pool.query("SHOW statement_timeout")).rows[0].statement_timeout, "1234ms");
		assert.equal(b.pool.options.max, 3);
	} finally {
		await a.close();
		await b.close();
	}
});

test("a server that accepts TCP and never answers: consume denies after the connection timeout", async () => {
	const sockets = [];
	const silent = net.createServer((s) => sockets.push(s));
	await new Promise((r) => silent.listen(0, "127.0.0.1", r));
	const logger = captureLogger();
	const a = authstore({
		connectionString: `postgresql://x@127.0.0.1:${silent.address().port}/x`,
		poolOptions: { connectionTimeoutMillis: 300 },
		logger,
	});
	try {
		const t0 = Date.now();
		assert.deepEqual(await a.rateLimitStorage.consume("k", { window: 7, max: 3 }), { allowed: false, retryAfter: 7 });
		const took = Date.now() - t0;
		assert.ok(took >= 250 && took < 3000, `took ${took} ms`);
		assert.match(logger.lines[0].msg, /cause: .*timeout/i);
	} finally {
		await a.close();
		for (const s of sockets) s.destroy();
		silent.close();
	}
});

test("a blocked statement: statement_timeout ends it and consume denies", async () => {
	const admin = adminPool(cluster, conn.database);
	const locker = await admin.connect();
	const logger = captureLogger();
	const a = authstore({ connectionString: connectionString(conn), poolOptions: { statement_timeout: 300 }, logger });
	try {
		await a.ready();
		await locker.query("BEGIN");
		await locker.query("LOCK TABLE authstore.rate_limit IN ACCESS EXCLUSIVE MODE");
		const t0 = Date.now();
		assert.deepEqual(await a.rateLimitStorage.consume("k", { window: 10, max: 3 }), { allowed: false, retryAfter: 10 });
		assert.ok(Date.now() - t0 < 3000);
		assert.match(logger.lines[0].msg, /cause: 57014 canceling statement due to statement timeout/);
		await locker.query("ROLLBACK");
		assert.deepEqual(await a.rateLimitStorage.consume("k", { window: 10, max: 3 }), { allowed: true, retryAfter: null });
	} finally {
		locker.release();
		await admin.end();
		await a.close();
	}
});

test("a real Better Auth server whose database is gone answers 429 (or 200 with failOpen) and stays up", async () => {
	const usersPool = new pg.Pool({ host: conn.host, port: conn.port, user: conn.user, database: conn.database, max: 2 });
	const dead = `postgresql://x@127.0.0.1:${await freePort()}/x`;
	const closed = authstore({ connectionString: dead, logger: captureLogger() });
	const open = authstore({ connectionString: dead, logger: captureLogger(), failOpen: true });
	const good = authstore({ connectionString: connectionString(conn) });
	const unhandled = [];
	const onUnhandled = (e) => unhandled.push(e);
	process.on("unhandledRejection", onUnhandled);
	const s1 = await startAuthServer({
		usersPool,
		secondaryStorage: good.secondaryStorage,
		rateLimit: { enabled: true, customStorage: closed.rateLimitStorage, window: 10, max: 100 },
	});
	const s2 = await startAuthServer({
		usersPool,
		secondaryStorage: good.secondaryStorage,
		rateLimit: { enabled: true, customStorage: open.rateLimitStorage, window: 10, max: 100 },
	});
	try {
		for (let i = 0; i < 3; i++) {
			const r = await call(s1.baseURL, "/ok", { headers: { "x-forwarded-for": "203.0.113.9" } });
			assert.equal(r.status, 429);
			assert.equal(r.headers.get("x-retry-after"), "10");
		}
		const r2 = await call(s2.baseURL, "/ok", { headers: { "x-forwarded-for": "203.0.113.9" } });
		assert.equal(r2.status, 200);
		assert.equal(unhandled.length, 0);
	} finally {
		process.off("unhandledRejection", onUnhandled);
		await s1.close();
		await s2.close();
		await closed.close();
		await open.close();
		await good.close();
		await usersPool.end();
	}
});

test("an idle connection of the package's pool killed by the server is logged, not a crash", async () => {
	const logger = captureLogger();
	const a = authstore({ connectionString: connectionString(conn), logger, poolOptions: { application_name: "authstore-idle-kill" } });
	const admin = adminPool(cluster, conn.database);
	try {
		assert.equal(await a.secondaryStorage.get("idle"), null); // leaves an idle connection in the pool
		const killed = await admin.query(
			"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'authstore-idle-kill'",
		);
		assert.ok(killed.rows.length >= 1);
		for (let i = 0; i < 50 && logger.lines.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
		assert.equal(logger.lines.length, 1);
		assert.match(logger.lines[0].msg, /an idle connection failed; cause: 57P01/);
		assert.equal(await a.secondaryStorage.get("idle"), null, "the pool goes on with a new connection");
	} finally {
		await admin.end();
		await a.close();
	}
});
