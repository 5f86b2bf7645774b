// Issue 12's concurrency scenario through a real Better Auth server over
// HTTP: one user signs up (1 session), then signs in 20 times at once (20
// more), then revokes the other sessions from the first.  Better Auth keeps
// `active-sessions-<userId>` by read-modify-write (get, filter, set), so
// concurrent sign-ins overwrite each other's entries; a session missing from
// the list is not revoked and stays valid.
//
// Per run it records: listed = sessions in /list-sessions (of 21), and
// still valid = sign-in sessions that /get-session accepts after
// /revoke-other-sessions (of 20).
//
// The package serves the list from the extension's owner index (exact by
// construction): 21 listed and 0 still valid in every run.  The plain adapter
// (the README's former paste-in) is the control: it must show a loss in at
// least one run, so the scenario can detect one.
// AUTHSTORE_CONCURRENCY_RUNS sets the runs per variant (default 5);
// AUTHSTORE_CONCURRENCY_HASH=scrypt uses Better Auth's default password hash
// instead of a cheap one (fewer overlapping writes, so fewer losses).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { authstore } from "../src/index.js";
import { getCluster, makeDatabase, connectionString, startAuthServer, call } from "./helpers.js";

const RUNS = Number(process.env.AUTHSTORE_CONCURRENCY_RUNS || 5);
const SIGNINS = 20;
const cheapHash = process.env.AUTHSTORE_CONCURRENCY_HASH !== "scrypt";

let cluster;
let conn;
let usersPool;
before(async () => {
	cluster = await getCluster();
	conn = await makeDatabase(cluster);
	usersPool = new pg.Pool({ host: conn.host, port: conn.port, user: conn.user, database: conn.database, max: 10 });
});
after(async () => {
	await usersPool?.end();
	await cluster?.stop();
});

// The adapter README.md carried before the package (unqualified calls, TTL
// 0 as "never"), kept as the control.
function plainAdapter(pool) {
	const one = async (sql, params) => (await pool.query(sql, params)).rows[0];
	return {
		get: async (key) => (await one("SELECT auth_kv_get($1) AS v", [key])).v,
		set: async (key, value, ttl) => {
			await pool.query("SELECT auth_kv_set($1, $2, $3)", [key, value, ttl ? ttl : null]);
		},
		delete: async (key) => {
			await pool.query("SELECT auth_kv_delete($1)", [key]);
		},
		getAndDelete: async (key) => (await one("SELECT auth_kv_take($1) AS v", [key])).v,
		increment: async (key, ttl) => Number((await one("SELECT auth_kv_incr($1, $2) AS n", [key, ttl])).n),
	};
}

async function scenario(server, tag, run) {
	const email = `u-${tag}-${run}-${process.pid}@example.com`;
	const password = "correct horse battery staple";
	const up = await call(server.baseURL, "/sign-up/email", { method: "POST", body: { email, password, name: "U" } });
	assert.equal(up.status, 200, JSON.stringify(up.json));
	const first = up.cookie;
	assert.ok(first, "sign-up set a session cookie");
	const ins = await Promise.all(
		Array.from({ length: SIGNINS }, () => call(server.baseURL, "/sign-in/email", { method: "POST", body: { email, password } })),
	);
	for (const r of ins) assert.equal(r.status, 200, JSON.stringify(r.json));
	const cookies = ins.map((r) => r.cookie);
	assert.equal(new Set(cookies).size, SIGNINS);
	const list = await call(server.baseURL, "/list-sessions", { cookie: first });
	assert.equal(list.status, 200);
	const listed = list.json.length;
	const rev = await call(server.baseURL, "/revoke-other-sessions", { method: "POST", body: {}, cookie: first });
	assert.equal(rev.status, 200, JSON.stringify(rev.json));
	let stillValid = 0;
	for (const c of cookies) {
		const g = await call(server.baseURL, "/get-session", { cookie: c });
		if (g.status === 200 && g.json && g.json.session) stillValid++;
	}
	const me = await call(server.baseURL, "/get-session", { cookie: first });
	assert.ok(me.json?.session, "the revoking session itself is still valid");
	return { listed, stillValid };
}

async function measure(t, secondaryStorage, tag) {
	const server = await startAuthServer({ usersPool, secondaryStorage, cheapHash });
	const runs = [];
	try {
		for (let i = 0; i < RUNS; i++) runs.push(await scenario(server, tag, i));
	} finally {
		await server.close();
	}
	const line = runs.map((r) => `${r.listed}/${SIGNINS + 1} listed, ${r.stillValid} still valid`).join("; ");
	t.diagnostic(`${tag}${cheapHash ? "" : " (scrypt)"}: ${line}`);
	return runs;
}

test("plain adapter (control): concurrent sign-ins lose list entries, lost sessions survive revoke", async (t) => {
	const pool = new pg.Pool({ host: conn.host, port: conn.port, user: conn.user, database: conn.database, max: 10 });
	try {
		const runs = await measure(t, plainAdapter(pool), "plain-adapter");
		assert.ok(
			runs.some((r) => r.listed < SIGNINS + 1 && r.stillValid > 0),
			"no run lost a session: the scenario could not detect the hole",
		);
		// Whatever is listed is revoked: listed + still valid = 21.
		for (const r of runs) assert.equal(r.listed + r.stillValid, SIGNINS + 1);
	} finally {
		await pool.end();
	}
});

test("package: 21 of 21 listed and 0 still valid after revoke-other-sessions, every run", async (t) => {
	const a = authstore({ connectionString: connectionString(conn) });
	try {
		const runs = await measure(t, a.secondaryStorage, "package");
		for (const r of runs) assert.deepEqual(r, { listed: SIGNINS + 1, stillValid: 0 });
	} finally {
		await a.close();
	}
});
