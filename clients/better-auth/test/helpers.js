// Test helpers: a throwaway PostgreSQL cluster with authstore, a private
// redis-server, a database per test file, and a real Better Auth server over
// HTTP.  Everything listens on loopback or a unix socket and is stopped by
// the process that started it.
//
// When test.sh has started a cluster it passes AUTHSTORE_TEST_PGHOST (the
// socket directory) and AUTHSTORE_TEST_PGPORT; otherwise each test file
// starts its own cluster (PG_CONFIG picks the installation, default
// Debian's 15), so `node --test test/x.test.js` works alone too.

import { spawn, spawnSync, execFileSync } from "node:child_process";
import { mkdtempSync, appendFileSync, rmSync, chownSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import http from "node:http";
import net from "node:net";
import pg from "pg";

const isRoot = process.getuid?.() === 0;

function pgBin() {
	const pgConfig = process.env.PG_CONFIG || "/usr/lib/postgresql/15/bin/pg_config";
	return execFileSync(pgConfig, ["--bindir"], { encoding: "utf8" }).trim();
}

function asPostgres(cmd, args, opts = {}) {
	const full = isRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
	const r = spawnSync(full[0], full[1], { encoding: "utf8", ...opts });
	if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`);
	return r.stdout;
}

/** A free TCP port on loopback. */
export function freePort() {
	return new Promise((resolve, reject) => {
		const srv = net.createServer();
		srv.listen(0, "127.0.0.1", () => {
			const { port } = srv.address();
			srv.close(() => resolve(port));
		});
		srv.on("error", reject);
	});
}

/**
 * The cluster to use: test.sh's, or one started now (stopped by the
 * returned stop()).
 */
export async function getCluster() {
	if (process.env.AUTHSTORE_TEST_PGHOST) {
		return { host: process.env.AUTHSTORE_TEST_PGHOST, port: Number(process.env.AUTHSTORE_TEST_PGPORT), stop: async () => {} };
	}
	return startCluster(await freePort());
}

export async function startCluster(port) {
	const bin = pgBin();
	const dir = mkdtempSync(join(tmpdir(), "authstore-ba-"));
	chmodSync(dir, 0o755);
	if (isRoot) {
		const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }));
		const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }));
		chownSync(dir, uid, gid);
	}
	const data = join(dir, "data");
	asPostgres(join(bin, "initdb"), ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
	appendFileSync(
		join(data, "postgresql.conf"),
		[
			"listen_addresses = ''",
			`unix_socket_directories = '${dir}'`,
			`port = ${port}`,
			"shared_preload_libraries = 'authstore'",
			"fsync = off",
			"max_connections = 100",
			"",
		].join("\n"),
	);
	asPostgres(join(bin, "pg_ctl"), ["-D", data, "-l", join(dir, "log"), "-w", "start"]);
	return {
		host: dir,
		port,
		async stop() {
			try {
				asPostgres(join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "stop"]);
			} finally {
				rmSync(dir, { recursive: true, force: true });
			}
		},
	};
}

/** A superuser connection to database `db` of the cluster. */
export function adminPool(cluster, database = "postgres", extra = {}) {
	return new pg.Pool({ host: cluster.host, port: cluster.port, user: "postgres", database, max: 2, ...extra });
}

let dbCounter = 0;
/**
 * A new database in the cluster, with authstore created in `schema` (null:
 * not created), and a login role `app` (member of authstore_user unless
 * grant is false).  Returns connection settings for that role.
 */
export async function makeDatabase(cluster, { schema = "public", grant = true, role } = {}) {
	const name = `ba_${process.pid}_${++dbCounter}`;
	const user = role ?? `app_${process.pid}_${dbCounter}`;
	const admin = adminPool(cluster);
	await admin.query(`CREATE DATABASE ${name}`);
	await admin.query(`CREATE ROLE ${user} LOGIN`);
	await admin.end();
	const db = adminPool(cluster, name);
	if (schema !== null) {
		if (schema !== "public") await db.query(`CREATE SCHEMA "${schema}"`);
		await db.query(`CREATE EXTENSION authstore SCHEMA "${schema}"`);
		if (grant) {
			await db.query(`GRANT authstore_user TO ${user}`);
			if (schema !== "public") await db.query(`GRANT USAGE ON SCHEMA "${schema}" TO ${user}`);
		}
	}
	// Better Auth's own tables (users) go into public, owned by the app.
	await db.query(`GRANT ALL ON SCHEMA public TO ${user}`);
	await db.end();
	return { host: cluster.host, port: cluster.port, database: name, user };
}

export function connectionString(conn) {
	return `postgresql://${conn.user}@/${conn.database}?host=${encodeURIComponent(conn.host)}&port=${conn.port}`;
}

/** A redis-server of our own: loopback, given port, no persistence. */
export async function startRedis() {
	const port = await freePort();
	const dir = mkdtempSync(join(tmpdir(), "authstore-redis-"));
	const child = spawn(
		"redis-server",
		["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "yes"],
		{ stdio: ["ignore", "pipe", "pipe"] },
	);
	let out = "";
	child.stdout.on("data", (d) => (out += d));
	const deadline = Date.now() + 10000;
	for (;;) {
		if (/Ready to accept connections/.test(out)) break;
		if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start: ${out}`);
		await new Promise((r) => setTimeout(r, 50));
	}
	return {
		port,
		url: `redis://127.0.0.1:${port}`,
		async stop() {
			if (child.exitCode === null) {
				const done = new Promise((r) => child.once("exit", r));
				child.kill("SIGTERM");
				await done;
			}
			rmSync(dir, { recursive: true, force: true });
		},
	};
}

/**
 * A real Better Auth server (better-auth/node handler on node:http) with
 * users in `usersPool`'s database.  Returns its base URL and close().
 */
export async function startAuthServer({ usersPool, secondaryStorage, rateLimit, cheapHash = true, secret }) {
	const { betterAuth } = await import("better-auth");
	const { toNodeHandler } = await import("better-auth/node");
	const { getMigrations } = await import("better-auth/db/migration");
	const port = await freePort();
	const baseURL = `http://127.0.0.1:${port}`;
	const options = {
		baseURL,
		secret: secret ?? "a-test-secret-of-at-least-32-characters-000",
		database: usersPool,
		secondaryStorage,
		emailAndPassword: {
			enabled: true,
			...(cheapHash
				? { password: { hash: async (p) => `plain:${p}`, verify: async ({ hash, password }) => hash === `plain:${password}` } }
				: {}),
		},
		rateLimit: rateLimit ?? { enabled: false },
		logger: { disabled: true },
		telemetry: { enabled: false },
	};
	const { runMigrations } = await getMigrations(options);
	await runMigrations();
	const auth = betterAuth(options);
	const server = http.createServer(toNodeHandler(auth));
	await new Promise((r) => server.listen(port, "127.0.0.1", r));
	return {
		auth,
		baseURL,
		async close() {
			server.closeAllConnections?.();
			await new Promise((r) => server.close(r));
		},
	};
}

/** POST/GET against the auth server; returns { status, json, cookie, headers }. */
export async function call(baseURL, path, { method = "GET", body, cookie, headers = {} } = {}) {
	const res = await fetch(`${baseURL}/api/auth${path}`, {
		method,
		headers: {
			origin: baseURL,
			...(body ? { "content-type": "application/json" } : {}),
			...(cookie ? { cookie } : {}),
			...headers,
		},
		body: body ? JSON.stringify(body) : undefined,
	});
	const text = await res.text();
	let json = null;
	try {
		json = JSON.parse(text);
	} catch {
		json = text;
	}
	const setCookies = res.headers.getSetCookie?.() ?? [];
	const session = setCookies.map((c) => c.split(";")[0]).find((c) => c.startsWith("better-auth.session_token="));
	return { status: res.status, json, cookie: session, headers: res.headers };
}
