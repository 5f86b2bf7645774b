// @authstore/better-auth: Better Auth's secondaryStorage and
// rateLimit.customStorage on the authstore PostgreSQL extension.
//
// This file owns the mapping from Better Auth's storage contract to the
// extension's SQL API (auth_kv_*, auth_rl_hit), the failure policy of the
// rate limiter (consume never throws into Better Auth), the start-up check
// that the extension is there and executable, and the pool the package
// creates when it is given a connection string.

import pg from "pg";

/** Environment variable read when neither `pool` nor `connectionString` is given. */
export const ENV_VAR = "AUTHSTORE_DATABASE_URL";

/**
 * Settings of the pool the package creates itself (not of a pool you pass).
 * Every call is one short statement, so a few seconds is generous; without
 * them a database that accepts TCP and never answers hangs every request.
 */
export const DEFAULT_POOL_OPTIONS = Object.freeze({
	max: 10,
	connectionTimeoutMillis: 5000, // waiting for a connection (connect or pool queue)
	statement_timeout: 5000, // server side, per statement
	query_timeout: 10000, // client side: the server never answered
	idleTimeoutMillis: 30000,
	application_name: "authstore-better-auth",
});

// The largest integer a JS number holds exactly; past it increment throws.
const MAX_EXACT = 9007199254740991n;
const INT4_MAX = 2147483647;

// The functions the package calls, with the argument types the privilege
// check names.
const FUNCTIONS = [
	"auth_kv_get(text)",
	"auth_kv_set(text, text, double precision)",
	"auth_kv_delete(text)",
	"auth_kv_take(text)",
	"auth_kv_incr(text, double precision)",
	"auth_rl_hit(text, double precision, integer)",
];
// And for exact session lists (extension 0.2.0 and later).
const OWNER_FUNCTIONS = ["auth_kv_set_owned(text, text, text, double precision)", "auth_kv_owner_keys(text)"];

/** The key under which Better Auth keeps a user's list of sessions. */
export const SESSION_LIST_PREFIX = "active-sessions-";

// The latest expiry a JS Date holds: the list entry of a key that never expires.
const NEVER_MS = 8.64e15;

/*
 * The user a value stored under key belongs to, when it is a Better Auth
 * session (the JSON {"session": {..., "token": key, "userId": ...}, "user":
 * ...} the session token's key holds), else null.  Cheap for other values:
 * only one starting with {"session": is parsed.
 */
export function sessionOwner(key, value) {
	if (!value.startsWith('{"session":')) return null;
	let parsed;
	try {
		parsed = JSON.parse(value);
	} catch {
		return null;
	}
	const session = parsed?.session;
	if (!session || session.token !== key || typeof session.userId !== "string" || session.userId === "") return null;
	return session.userId;
}

// "0.2.0" >= "0.2.0": dotted numbers compared as such.
function versionAtLeast(version, wanted) {
	const a = String(version).split(".").map(Number);
	const b = wanted.split(".").map(Number);
	for (let i = 0; i < b.length; i++) {
		if ((a[i] || 0) !== b[i]) return (a[i] || 0) > b[i];
	}
	return true;
}

/** An error of this package; `code` says which (see index.d.ts). */
export class AuthstoreError extends Error {
	constructor(code, message, options) {
		super(message, options);
		this.name = "AuthstoreError";
		this.code = code;
	}
}

/** "name" as a quoted SQL identifier. */
export function quoteIdent(name) {
	return '"' + String(name).replace(/"/g, '""') + '"';
}

function describe(v) {
	if (typeof v === "number") return String(v);
	if (v === null) return "null";
	return typeof v;
}

/*
 * Better Auth's TTL (seconds) as the extension's ttl_seconds: no TTL means no
 * expiry; 0 or less means the key is absent at once (the extension does that
 * for 0, and refuses negatives, so they become 0).  NaN and Infinity are
 * errors here rather than silently "never expires".
 */
export function ttlSeconds(ttl, method) {
	if (ttl === undefined || ttl === null) return null;
	if (typeof ttl !== "number" || !Number.isFinite(ttl)) {
		throw new AuthstoreError(
			"AUTHSTORE_BAD_TTL",
			`authstore: ${method}: ttl must be a finite number of seconds, undefined or null; got ${describe(ttl)}`,
		);
	}
	return ttl > 0 ? ttl : 0;
}

function checkKey(key, method) {
	if (typeof key !== "string") {
		throw new AuthstoreError("AUTHSTORE_BAD_ARGUMENT", `authstore: ${method}: key must be a string; got ${describe(key)}`);
	}
}

/**
 * The rule Better Auth's own memory store would apply, as auth_rl_hit's
 * arguments, or null when that store allows every request (so no call is
 * needed).  The memory store starts a new window when elapsed >= window and
 * denies when count >= max after the first request, so:
 *   - a window that is NaN, 0, negative or under a microsecond never holds a
 *     request back;
 *   - max NaN or +Infinity never denies;
 *   - max <= 1 (0, negative, fractional) behaves as 1, and a fractional max
 *     as its ceiling (max 1.5 allows two requests: 1 < 1.5, then 2 >= 1.5).
 * auth_rl_hit refuses max 0, hence the mapping here.
 */
export function rateRule(rule) {
	const window = rule?.window;
	const max = rule?.max;
	if (typeof window !== "number" || typeof max !== "number") {
		throw new AuthstoreError(
			"AUTHSTORE_BAD_RULE",
			`authstore: consume: rule.window and rule.max must be numbers; got ${describe(window)} and ${describe(max)}`,
		);
	}
	if (Number.isNaN(window) || window < 1e-6) return null;
	if (window === Infinity) {
		throw new AuthstoreError("AUTHSTORE_BAD_RULE", "authstore: consume: rule.window must be finite; got Infinity");
	}
	if (Number.isNaN(max) || max === Infinity) return null;
	const m = Math.min(INT4_MAX, Math.max(1, Math.ceil(max)));
	return { window, max: m };
}

function toSafeNumber(text) {
	const n = BigInt(text);
	if (n > MAX_EXACT || n < -MAX_EXACT) {
		throw new AuthstoreError(
			"AUTHSTORE_NOT_EXACT",
			"authstore: increment: the counter is past 2^53 - 1 and cannot be returned exactly as a JavaScript number",
		);
	}
	return Number(n);
}

/**
 * Create the storages.  See index.d.ts for the options.
 */
export function authstore(options = {}) {
	const schema = options.schema ?? "public";
	if (typeof schema !== "string" || schema === "") {
		throw new AuthstoreError("AUTHSTORE_BAD_OPTION", "authstore: schema must be a non-empty string (the schema the extension was created in)");
	}
	const logger = options.logger ?? console;
	const logIntervalMs = options.logIntervalMs ?? 60000;
	const failOpen = options.failOpen === true;
	const exactSessionLists = options.exactSessionLists !== false;
	const ownerPrefix = options.ownerPrefix ?? "";
	if (typeof ownerPrefix !== "string") {
		throw new AuthstoreError("AUTHSTORE_BAD_OPTION", "authstore: ownerPrefix must be a string");
	}

	let pool = options.pool;
	let ownPool = false;
	if (!pool) {
		const connectionString = options.connectionString ?? process.env[ENV_VAR];
		if (!connectionString) {
			throw new AuthstoreError(
				"AUTHSTORE_BAD_OPTION",
				`authstore: pass { pool } or { connectionString }, or set ${ENV_VAR} (it is not read from DATABASE_URL)`,
			);
		}
		pool = new pg.Pool({ ...DEFAULT_POOL_OPTIONS, ...options.poolOptions, connectionString });
		ownPool = true;
		// An idle client that loses its connection emits 'error' on the
		// pool; with no listener that would end the process.
		pool.on("error", (err) => report("pool", "an idle connection failed", err));
	} else if (typeof pool.query !== "function") {
		throw new AuthstoreError("AUTHSTORE_BAD_OPTION", "authstore: pool must be a pg.Pool (or have a query method)");
	}

	// Rate-limited error log: the first failure of a kind is logged at once,
	// later ones at most once per interval with a count of the ones between.
	const logState = new Map();
	function report(kind, what, err) {
		const now = Date.now();
		let s = logState.get(kind);
		if (!s) {
			s = { last: -Infinity, suppressed: 0 };
			logState.set(kind, s);
		}
		if (now - s.last < logIntervalMs) {
			s.suppressed++;
			return;
		}
		const more = s.suppressed ? ` (${s.suppressed} more since the last report)` : "";
		s.last = now;
		s.suppressed = 0;
		const cause = err ? `${err.code ? err.code + " " : ""}${err.message}` : "unknown";
		try {
			logger.error(`authstore: ${what}${more}; cause: ${cause}`, err);
		} catch {
			// a broken logger must not turn into a failed request
		}
	}

	const s = quoteIdent(schema);
	const q = (name, text) => ({ name: `authstore:${name}:${schema}`, text });
	const SQL = {
		get: q("get", `SELECT ${s}.auth_kv_get($1) AS v`),
		set: q("set", `SELECT ${s}.auth_kv_set($1, $2, $3::double precision)`),
		del: q("del", `SELECT ${s}.auth_kv_delete($1)`),
		take: q("take", `SELECT ${s}.auth_kv_take($1) AS v`),
		incr: q("incr", `SELECT ${s}.auth_kv_incr($1, $2::double precision)::text AS n`),
		hit: q("hit", `SELECT allowed, retry_after FROM ${s}.auth_rl_hit($1, $2::double precision, $3::integer)`),
		setOwned: q("setOwned", `SELECT ${s}.auth_kv_set_owned($1, $2, $3, $4::double precision)`),
		ownerKeys: q(
			"ownerKeys",
			`SELECT key, pg_catalog.date_part('epoch', expires_at) OPERATOR(pg_catalog.*) 1000 AS ms
			   FROM ${s}.auth_kv_owner_keys($1)`,
		),
	};

	let readyPromise = null;
	async function check() {
		const ext = await pool.query(
			`SELECT n.nspname AS schema, e.extversion AS version,
			        pg_catalog.current_database() AS db, CURRENT_USER AS usr
			   FROM pg_catalog.pg_extension e
			   JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
			  WHERE e.extname OPERATOR(pg_catalog.=) 'authstore'`,
		);
		if (ext.rows.length === 0) {
			const who = await pool.query("SELECT pg_catalog.current_database() AS db");
			throw new AuthstoreError(
				"AUTHSTORE_NOT_INSTALLED",
				`authstore: the authstore extension is not installed in database "${who.rows[0].db}". ` +
					`A superuser can install it with: CREATE EXTENSION authstore SCHEMA ${s}; ` +
					`(add 'authstore' to shared_preload_libraries for its expiry worker).`,
			);
		}
		const { schema: extSchema, version, db, usr } = ext.rows[0];
		if (exactSessionLists && !versionAtLeast(version, "0.2.0")) {
			throw new AuthstoreError(
				"AUTHSTORE_OLD_VERSION",
				`authstore: the authstore extension in database "${db}" is version ${version}; exact session lists need 0.2.0 or later. ` +
					`A superuser updates it with: ALTER EXTENSION authstore UPDATE; (or pass { exactSessionLists: false }).`,
			);
		}
		if (extSchema !== schema) {
			throw new AuthstoreError(
				"AUTHSTORE_WRONG_SCHEMA",
				`authstore: the authstore extension is in schema "${extSchema}" of database "${db}", ` +
					`but this package was given schema "${schema}": pass { schema: ${JSON.stringify(extSchema)} }.`,
			);
		}
		const usage = await pool.query("SELECT pg_catalog.has_schema_privilege($1, 'USAGE') AS ok", [schema]);
		if (!usage.rows[0].ok) {
			throw new AuthstoreError(
				"AUTHSTORE_PERMISSION",
				`authstore: role "${usr}" may not use schema "${schema}", where the authstore extension is. ` +
					`An administrator grants it with: GRANT USAGE ON SCHEMA ${s} TO ${quoteIdent(usr)}; GRANT authstore_user TO ${quoteIdent(usr)};`,
			);
		}
		const priv = await pool.query(
			`SELECT f, pg_catalog.has_function_privilege(pg_catalog.quote_ident($1) || '.' || f, 'EXECUTE') AS ok
			   FROM pg_catalog.unnest($2::text[]) AS f`,
			[schema, exactSessionLists ? [...FUNCTIONS, ...OWNER_FUNCTIONS] : FUNCTIONS],
		);
		const missing = priv.rows.filter((r) => !r.ok).map((r) => r.f.replace(/\(.*/, ""));
		if (missing.length) {
			throw new AuthstoreError(
				"AUTHSTORE_PERMISSION",
				`authstore: role "${usr}" may not use the authstore extension in schema "${schema}" ` +
					`(no privilege for ${missing.join(", ")}). ` +
					`An administrator grants it with: GRANT authstore_user TO ${quoteIdent(usr)};`,
			);
		}
		return { schema, version };
	}
	function ready() {
		if (!readyPromise) {
			readyPromise = check().catch((err) => {
				// Retry on the next call: the database may only have been down.
				readyPromise = null;
				throw err;
			});
		}
		return readyPromise;
	}
	async function run(sql, values) {
		await ready();
		return pool.query({ ...sql, values });
	}

	// The user whose session list key this is, or null for any other key.
	function listUser(key) {
		return exactSessionLists && key.startsWith(SESSION_LIST_PREFIX) ? key.slice(SESSION_LIST_PREFIX.length) : null;
	}

	/*
	 * active-sessions-<userId>, built from the user's live session keys (the
	 * extension's owner index) in the form Better Auth writes it: a JSON
	 * array of { token, expiresAt (ms) } sorted by expiry; null when empty.
	 */
	async function sessionList(userId) {
		if (userId === "") return null;
		const rows = (await run(SQL.ownerKeys, [ownerPrefix + userId])).rows;
		if (rows.length === 0) return null;
		const list = rows.map((r) => ({ token: r.key, expiresAt: r.ms === null ? NEVER_MS : Math.floor(r.ms) }));
		list.sort((a, b) => a.expiresAt - b.expiresAt);
		return JSON.stringify(list);
	}

	const secondaryStorage = {
		async get(key) {
			checkKey(key, "get");
			const user = listUser(key);
			if (user !== null) return sessionList(user);
			return (await run(SQL.get, [key])).rows[0].v;
		},
		async set(key, value, ttl) {
			checkKey(key, "set");
			if (typeof value !== "string") {
				throw new AuthstoreError("AUTHSTORE_BAD_ARGUMENT", `authstore: set: value must be a string; got ${describe(value)}`);
			}
			const seconds = ttlSeconds(ttl, "set");
			// The list is derived from the session keys: Better Auth's
			// read-modify-write of it cannot lose entries, so it is not stored.
			if (listUser(key) !== null) return;
			const owner = exactSessionLists ? sessionOwner(key, value) : null;
			if (owner !== null) await run(SQL.setOwned, [key, value, ownerPrefix + owner, seconds]);
			else await run(SQL.set, [key, value, seconds]);
		},
		async delete(key) {
			checkKey(key, "delete");
			if (listUser(key) !== null) return;
			await run(SQL.del, [key]);
		},
		async getAndDelete(key) {
			checkKey(key, "getAndDelete");
			const user = listUser(key);
			if (user !== null) return sessionList(user);
			return (await run(SQL.take, [key])).rows[0].v;
		},
		async increment(key, ttl) {
			checkKey(key, "increment");
			return toSafeNumber((await run(SQL.incr, [key, ttlSeconds(ttl, "increment")])).rows[0].n);
		},
	};

	const rateLimitStorage = {
		async consume(key, rule) {
			let r;
			try {
				r = rateRule(rule);
				if (r === null) return { allowed: true, retryAfter: null };
				checkKey(key, "consume");
				const row = (await run(SQL.hit, [key, r.window, r.max])).rows[0];
				if (row.allowed) return { allowed: true, retryAfter: null };
				return { allowed: false, retryAfter: Math.max(1, Math.ceil(row.retry_after)) };
			} catch (err) {
				if (failOpen) {
					report("consume", "rate limiting failed, allowing the request (failOpen)", err);
					return { allowed: true, retryAfter: null };
				}
				report("consume", "rate limiting failed, denying the request (fail-closed)", err);
				const w = typeof rule?.window === "number" && Number.isFinite(rule.window) && rule.window > 0 ? rule.window : 60;
				return { allowed: false, retryAfter: Math.max(1, Math.ceil(w)) };
			}
		},
	};

	return {
		secondaryStorage,
		rateLimitStorage,
		pool,
		ready,
		async close() {
			if (ownPool) await pool.end();
		},
	};
}

export default authstore;
