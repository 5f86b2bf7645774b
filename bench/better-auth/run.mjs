// bench/better-auth/run.mjs: the same Better Auth server (better-auth/node on
// node:http, users in PostgreSQL) on
//   redis:     @better-auth/redis-storage + a private redis-server, and
//   authstore: @authstore/better-auth (this repository's package),
// driven by autocannon in a child process, interleaved in one run:
//   get-session: GET /api/auth/get-session with the cookies of N signed-in
//                users in rotation (one session lookup each);
//   sign-in:     POST /api/auth/sign-in/email for N users in rotation, with a
//                cheap password hash, so that storage, not scrypt, dominates
//                (each creates a session: its key and the user's list).
// Reports req/s, p99 latency, non-2xx responses, Better Auth's
// secondary-storage calls per request, and the storage round trips per
// request they became: Redis commands (INFO's total_commands_processed) and
// authstore statements (queries on the package's pool; its set/delete of
// active-sessions-<userId> make none).  Better Auth's rate limiter is off in
// both.  Users in rotation sign in again and again, so their session count
// grows during the run (on Redis the list loses entries under concurrency,
// which keeps its JSON shorter than the truth).
//
// Reuses clients/better-auth's test helpers and node_modules (pinned
// better-auth 1.7.29, @better-auth/redis-storage 1.7.5, pg, ioredis).  Run
// via bench/better-auth.sh; environment: AUTHSTORE_BENCH_ROUNDS (2),
// AUTHSTORE_BENCH_SECONDS (10), AUTHSTORE_BENCH_CONNECTIONS (16),
// AUTHSTORE_BENCH_USERS (500), AUTHSTORE_BENCH_POOL (10, the package's
// pool), AUTHSTORE_BENCH_PORT (a free port).

import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";

const here = dirname(fileURLToPath(import.meta.url));
const pkgDir = join(here, "../../clients/better-auth");
const helpers = await import(join(pkgDir, "test/helpers.js"));
const { authstore } = await import(join(pkgDir, "src/index.js"));
const req = createRequire(join(pkgDir, "package.json"));
const { redisStorage } = await import(req.resolve("@better-auth/redis-storage"));
const pg = (await import(req.resolve("pg"))).default;
const Redis = (await import(req.resolve("ioredis"))).default;

const ROUNDS = Number(process.env.AUTHSTORE_BENCH_ROUNDS || 2);
const SECONDS = Number(process.env.AUTHSTORE_BENCH_SECONDS || 10);
const CONNECTIONS = Number(process.env.AUTHSTORE_BENCH_CONNECTIONS || 16);
const USERS = Number(process.env.AUTHSTORE_BENCH_USERS || 500);
// the package's pool size (the users' pools stay at 10)
const POOL = Number(process.env.AUTHSTORE_BENCH_POOL || 10);
const PASSWORD = "correct horse battery staple";

// Counts the storage calls (round trips) the server makes.
function counted(storage) {
	const c = { calls: 0 };
	const wrapped = {};
	for (const m of ["get", "set", "delete", "getAndDelete", "increment"]) {
		if (typeof storage[m] === "function") {
			wrapped[m] = (...args) => {
				c.calls++;
				return storage[m](...args);
			};
		}
	}
	return { storage: wrapped, counter: c };
}

// CPU time so far, in µs: this process (the Better Auth servers), every
// child of the cluster's postmaster (backends, the sweeper, ...), and Redis.
const TICK_US = 1e6 / 100; // Linux USER_HZ
function pgCpu(cluster) {
	const pm = readFileSync(join(cluster.host, "data", "postmaster.pid"), "utf8").split("\n")[0].trim();
	let total = 0;
	for (const pid of readdirSync("/proc")) {
		if (!/^\d+$/.test(pid)) continue;
		let stat;
		try {
			stat = readFileSync(`/proc/${pid}/stat`, "utf8");
		} catch {
			continue;
		}
		const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
		// fields after the name: state(0) ppid(1) ... utime(11) stime(12)
		// cutime(13) cstime(14); the postmaster's c*time hold the children
		// that exited (autovacuum workers, closed connections)
		if (f[1] === pm) total += (Number(f[11]) + Number(f[12])) * TICK_US;
		if (pid === pm) total += (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * TICK_US;
	}
	return total;
}
async function cpuNow(cluster, redis) {
	const u = process.cpuUsage();
	const info = await redis.info("cpu");
	const r = (k) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)[1]);
	return { server: u.user + u.system, pg: pgCpu(cluster), redis: (r("used_cpu_user") + r("used_cpu_sys")) * 1e6 };
}

// Asynchronously: the servers run in this process and must keep serving.
async function load(cfg) {
	const { stdout } = await promisify(execFile)(process.execPath, [join(here, "load.mjs"), JSON.stringify(cfg)], {
		encoding: "utf8",
		maxBuffer: 64 << 20,
	});
	return JSON.parse(stdout);
}

const cluster = process.env.AUTHSTORE_BENCH_PORT
	? await helpers.startCluster(Number(process.env.AUTHSTORE_BENCH_PORT))
	: await helpers.getCluster();
const redisSrv = await helpers.startRedis();
const redis = new Redis(redisSrv.url);
const variants = [];
try {
	const connA = await helpers.makeDatabase(cluster);
	const connR = await helpers.makeDatabase(cluster, { schema: null });
	const pools = [];
	const mkPool = (conn) => {
		const p = new pg.Pool({ host: conn.host, port: conn.port, user: conn.user, database: conn.database, max: 10 });
		pools.push(p);
		return p;
	};
	const a = authstore({ connectionString: helpers.connectionString(connA), poolOptions: { max: POOL } });
	await a.ready();
	// round trips to authstore: every query on the package's pool
	const aTrips = { n: 0 };
	const query = a.pool.query.bind(a.pool);
	a.pool.query = (...args) => {
		aTrips.n++;
		return query(...args);
	};
	const redisTrips = async () => Number(/total_commands_processed:(\d+)/.exec(await redis.info("stats"))[1]);
	const defs = [
		// (the INFO command itself counts as one)
		{ name: "redis", conn: connR, storage: redisStorage({ client: redis, keyPrefix: "better-auth:" }), trips: async () => (await redisTrips()) - 1 },
		{ name: "authstore", conn: connA, storage: a.secondaryStorage, trips: async () => aTrips.n },
	];
	for (const d of defs) {
		const { storage, counter } = counted(d.storage);
		const server = await helpers.startAuthServer({ usersPool: mkPool(d.conn), secondaryStorage: storage, cheapHash: true });
		// users, each signed in once: their cookies drive get-session
		const users = [];
		const cookies = [];
		for (let i = 0; i < USERS; i++) {
			const email = `bench-${d.name}-${i}@example.com`;
			const r = await helpers.call(server.baseURL, "/sign-up/email", { method: "POST", body: { email, password: PASSWORD, name: "B" } });
			if (r.status !== 200 || !r.cookie) throw new Error(`sign-up failed on ${d.name}: ${r.status}`);
			users.push(email);
			cookies.push(r.cookie);
		}
		variants.push({ ...d, server, counter, users, cookies, results: { "get-session": [], "sign-in": [] } });
	}

	const workloads = [
		{ name: "get-session", cfg: (v) => ({ url: `${v.server.baseURL}/api/auth/get-session`, cookies: v.cookies }) },
		{ name: "sign-in", cfg: (v) => ({ url: `${v.server.baseURL}/api/auth/sign-in/email`, users: v.users, password: PASSWORD }) },
	];
	// a short warm-up of each, then the rounds, interleaved
	for (const w of workloads) for (const v of variants) await load({ ...w.cfg(v), origin: v.server.baseURL, connections: CONNECTIONS, duration: 2 });
	for (let round = 0; round < ROUNDS; round++) {
		for (const w of workloads) {
			const order = round % 2 === 0 ? variants : [...variants].reverse();
			for (const v of order) {
				const before = v.counter.calls;
				const tripsBefore = await v.trips();
				const cpuBefore = await cpuNow(cluster, redis);
				const r = await load({ ...w.cfg(v), origin: v.server.baseURL, connections: CONNECTIONS, duration: SECONDS });
				const calls = v.counter.calls - before;
				const trips = (await v.trips()) - tripsBefore;
				const cpuAfter = await cpuNow(cluster, redis);
				const per = (k) => (r.requests.total ? (cpuAfter[k] - cpuBefore[k]) / r.requests.total : NaN);
				const done = r.requests.total;
				const row = {
					round,
					rps: r.requests.average,
					p99: r.latency.p99,
					p50: r.latency.p50,
					non2xx: r.non2xx,
					errors: r.errors + r.timeouts,
					callsPerReq: done ? calls / done : NaN,
					tripsPerReq: done ? trips / done : NaN,
					// CPU µs per request: the Node server, PostgreSQL (users for
					// both, plus authstore's calls), Redis
					cpuServer: per("server"),
					cpuPg: per("pg"),
					cpuRedis: per("redis"),
				};
				v.results[w.name].push(row);
				console.error(`# ${w.name} ${v.name} round ${round}: ${row.rps.toFixed(0)} req/s, p50 ${row.p50} ms, p99 ${row.p99} ms, non-2xx ${row.non2xx}, errors ${row.errors}, ${row.callsPerReq.toFixed(2)} storage calls and ${row.tripsPerReq.toFixed(2)} round trips per request; CPU µs/request: server ${row.cpuServer.toFixed(0)}, PostgreSQL ${row.cpuPg.toFixed(0)}, Redis ${row.cpuRedis.toFixed(0)}`);
			}
		}
	}

	// Summary: mean of the rounds' req/s, worst p99.
	const lines = [];
	lines.push(`| workload | system | req/s (mean of ${ROUNDS}) | p99 ms (worst) | storage calls / request | round trips / request | CPU µs / request: server, PostgreSQL, Redis | non-2xx |`);
	lines.push("| --- | --- | --- | --- | --- | --- | --- | --- |");
	const summary = {};
	for (const w of workloads) {
		for (const v of variants) {
			const rs = v.results[w.name];
			const rps = rs.reduce((s, r) => s + r.rps, 0) / rs.length;
			const p99 = Math.max(...rs.map((r) => r.p99));
			const cpr = rs.reduce((s, r) => s + r.callsPerReq, 0) / rs.length;
			const tpr = rs.reduce((s, r) => s + r.tripsPerReq, 0) / rs.length;
			const bad = rs.reduce((s, r) => s + r.non2xx + r.errors, 0);
			const mean = (k) => (rs.reduce((s, r) => s + r[k], 0) / rs.length).toFixed(0);
			summary[`${w.name}/${v.name}`] = rps;
			lines.push(`| ${w.name} | ${v.name} | ${rps.toFixed(0)} | ${p99} | ${cpr.toFixed(2)} | ${tpr.toFixed(2)} | ${mean("cpuServer")}, ${mean("cpuPg")}, ${mean("cpuRedis")} | ${bad} |`);
		}
		lines.push(`| ${w.name} | authstore / redis | ${(summary[`${w.name}/authstore`] / summary[`${w.name}/redis`]).toFixed(3)} | | | | | |`);
	}
	console.log(lines.join("\n"));
	console.log(`(${CONNECTIONS} connections, ${SECONDS} s per run, ${USERS} users, package pool ${POOL}, Node ${process.version}, ${ROUNDS} rounds interleaved)`);
	for (const v of variants) await v.server.close();
	for (const p of pools) await p.end();
	await a.close();
} finally {
	redis.disconnect();
	await redisSrv.stop();
	await cluster.stop();
}
