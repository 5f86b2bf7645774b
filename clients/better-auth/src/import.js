// The copy behind authstore-import: scan a Redis for the keys of one
// layout, read each batch's type, value and PTTL atomically (one Lua script
// per batch), and write the string keys into authstore with auth_kv_set and
// the TTL that remains at write time.  In the better-auth layout a session
// token's key is written with its user as owner (auth_kv_set_owned), so the
// package's exact session lists (active-sessions-<userId>) list it at once.
//
// Layouts:
//   better-auth  @better-auth/redis-storage: "<keyPrefix><key>" (keyPrefix
//                default "better-auth:") becomes authstore key "<key>".
//   rustauth     "secondary:<key>" becomes "<key>"; "rate-limit:<key>" is
//                counted and skipped (rate-limit windows are seconds long and
//                authstore keeps that state in its own table, not in KV).
//
// Re-runs are idempotent: auth_kv_set overwrites a key with the value and
// TTL Redis has now.  A key deleted from Redis since an earlier run is not
// deleted from authstore.

import Redis from "ioredis";
import { authstore, ENV_VAR, quoteIdent, sessionOwner } from "./index.js";

export const USAGE = `usage: authstore-import [options]

Copies Better Auth's secondary storage from a live Redis into authstore.

  --redis URL           Redis to read (default: $REDIS_URL, else redis://127.0.0.1:6379)
  --database URL        PostgreSQL with authstore (default: $${ENV_VAR})
  --schema NAME         schema the extension is in (default: public)
  --layout NAME         better-auth (default) or rustauth
  --key-prefix PREFIX   better-auth layout's keyPrefix (default: better-auth:)
  --owner-prefix PREFIX the package's ownerPrefix option, if you set one (default: none)
  --batch N             keys per SCAN page and per write (default: 500)
  --dry-run             read and count, write nothing
  --json                print the summary as JSON
  --quiet               no progress line
  -h, --help            this text

Only string keys are copied; other types, keys that expire during the copy,
and (rustauth) rate-limit state are skipped and counted.  Values must be
UTF-8 text without NUL bytes, as PostgreSQL text is.
`;

export function parseArgs(argv, env = {}) {
	const o = {
		redis: env.REDIS_URL || "redis://127.0.0.1:6379",
		database: env[ENV_VAR],
		schema: "public",
		layout: "better-auth",
		keyPrefix: "better-auth:",
		ownerPrefix: "",
		batch: 500,
		dryRun: false,
		json: false,
		quiet: false,
		help: false,
		pauseAfterScanMs: 0,
	};
	const need = (i) => {
		if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
		return argv[i + 1];
	};
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		switch (a) {
			case "--redis": o.redis = need(i++); break;
			case "--database": o.database = need(i++); break;
			case "--schema": o.schema = need(i++); break;
			case "--layout": o.layout = need(i++); break;
			case "--key-prefix": o.keyPrefix = need(i++); break;
			case "--owner-prefix": o.ownerPrefix = need(i++); break;
			case "--batch": o.batch = Number(need(i++)); break;
			// for tests: widen the window between SCAN and read
			case "--pause-after-scan-ms": o.pauseAfterScanMs = Number(need(i++)); break;
			case "--dry-run": o.dryRun = true; break;
			case "--json": o.json = true; break;
			case "--quiet": o.quiet = true; break;
			case "-h": case "--help": o.help = true; break;
			default: throw new Error(`unknown option ${a}`);
		}
	}
	if (!["better-auth", "rustauth"].includes(o.layout)) throw new Error(`--layout must be better-auth or rustauth, not ${o.layout}`);
	if (!Number.isInteger(o.batch) || o.batch < 1 || o.batch > 100000) throw new Error("--batch must be an integer from 1 to 100000");
	if (!o.help && !o.database) throw new Error(`give --database or set ${ENV_VAR}`);
	return o;
}

// For each key: its type, and for a string its value and PTTL, read in one
// atomic step so the value and TTL belong together.
const READ_SCRIPT = `
local out = {}
for i, k in ipairs(KEYS) do
  local t = redis.call('TYPE', k).ok
  out[#out + 1] = t
  if t == 'string' then
    out[#out + 1] = redis.call('GET', k)
    out[#out + 1] = redis.call('PTTL', k)
  else
    out[#out + 1] = false
    out[#out + 1] = false
  end
end
return out
`;

function globEscape(s) {
	return s.replace(/[\\*?[\]]/g, "\\$&");
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
function text(buf) {
	try {
		const s = utf8.decode(buf);
		return s.includes("\0") ? null : s;
	} catch {
		return null;
	}
}

export async function importRedis(opts) {
	const o = { ...parseArgs([], { [ENV_VAR]: opts.database ?? "-" }), ...opts };
	// Each source: the Redis prefix scanned and what its keys become.
	const sources =
		o.layout === "rustauth"
			? [
					{ prefix: "secondary:", copy: true },
					{ prefix: "rate-limit:", copy: false },
				]
			: [{ prefix: o.keyPrefix, copy: true }];

	const redis = new Redis(o.redis, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => null });
	redis.on("error", () => {}); // reported by the failing command
	// Owners (extension 0.2.0) only for Better Auth's sessions.
	const owned = o.layout === "better-auth";
	const store =
		o.dryRun && !o.database
			? null
			: authstore({
					connectionString: o.database,
					schema: o.schema,
					exactSessionLists: owned,
					poolOptions: { max: 2, statement_timeout: 60000, query_timeout: 120000 },
				});
	const s = {
		scanned: 0,
		copied: 0,
		withTtl: 0,
		withoutTtl: 0,
		expired: 0,
		notString: 0,
		notStringTypes: {},
		rateLimit: 0,
		notText: 0,
		dryRun: o.dryRun,
		layout: o.layout,
	};
	const report = () =>
		o.progress?.(
			`scanned ${s.scanned}, ${o.dryRun ? "would copy" : "copied"} ${s.copied}, skipped ${s.expired + s.notString + s.rateLimit + s.notText}`,
		);
	try {
		await redis.connect();
		if (store) await store.ready();
		const setSql = !store
			? null
			: owned
				? `SELECT pg_catalog.count(${quoteIdent(o.schema)}.auth_kv_set_owned(t.k, t.v, t.o, t.ttl)) AS n
				     FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[]),
				                    pg_catalog.unnest($3::double precision[]), pg_catalog.unnest($4::text[])) AS t(k, v, ttl, o)`
				: `SELECT pg_catalog.count(${quoteIdent(o.schema)}.auth_kv_set(t.k, t.v, t.ttl)) AS n
				     FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[]),
				                    pg_catalog.unnest($3::double precision[])) AS t(k, v, ttl)`;
		for (const src of sources) {
			let cursor = "0";
			do {
				const [next, keys] = await redis.scanBuffer(cursor, "MATCH", globEscape(src.prefix) + "*", "COUNT", o.batch);
				cursor = String(next);
				if (keys.length === 0) continue;
				s.scanned += keys.length;
				if (!src.copy) {
					s.rateLimit += keys.length;
					report();
					continue;
				}
				if (o.pauseAfterScanMs) await new Promise((r) => setTimeout(r, o.pauseAfterScanMs));
				const reply = await redis.evalBuffer(READ_SCRIPT, keys.length, ...keys);
				const readAt = Date.now();
				const ks = [];
				const vs = [];
				const ttls = [];
				for (let i = 0; i < keys.length; i++) {
					const type = String(reply[3 * i]);
					if (type === "none") {
						s.expired++;
						continue;
					}
					if (type !== "string") {
						s.notString++;
						s.notStringTypes[type] = (s.notStringTypes[type] ?? 0) + 1;
						continue;
					}
					const key = text(keys[i]);
					const value = text(reply[3 * i + 1]);
					const pttl = Number(reply[3 * i + 2]);
					if (key === null || value === null || key.length <= src.prefix.length) {
						s.notText++;
						continue;
					}
					if (pttl === -2 || pttl === 0) {
						s.expired++;
						continue;
					}
					ks.push(key.slice(src.prefix.length));
					vs.push(value);
					ttls.push(pttl === -1 ? null : pttl);
				}
				if (ks.length && store && !o.dryRun) {
					// The TTL left now, not at the read: the copy must not outlive Redis's.
					const elapsed = Date.now() - readAt;
					const wk = [];
					const wv = [];
					const wt = [];
					const wo = [];
					for (let i = 0; i < ks.length; i++) {
						if (ttls[i] !== null && ttls[i] - elapsed <= 0) {
							s.expired++;
							continue;
						}
						wk.push(ks[i]);
						wv.push(vs[i]);
						wt.push(ttls[i] === null ? null : (ttls[i] - elapsed) / 1000);
						const owner = owned ? sessionOwner(ks[i], vs[i]) : null;
						wo.push(owner === null ? null : o.ownerPrefix + owner);
					}
					if (wk.length) await store.pool.query(setSql, owned ? [wk, wv, wt, wo] : [wk, wv, wt]);
					for (const t of wt) t === null ? s.withoutTtl++ : s.withTtl++;
					s.copied += wk.length;
				} else {
					for (const t of ttls) t === null ? s.withoutTtl++ : s.withTtl++;
					s.copied += ks.length;
				}
				report();
			} while (cursor !== "0");
		}
	} finally {
		redis.disconnect();
		await store?.close();
	}
	const types = Object.entries(s.notStringTypes)
		.map(([t, n]) => `${t} ${n}`)
		.join(", ");
	s.text =
		`authstore-import: ${s.dryRun ? "DRY RUN, nothing written; " : ""}scanned ${s.scanned} keys (${s.layout} layout); ` +
		`${s.dryRun ? "would copy" : "copied"} ${s.copied} (${s.withTtl} with TTL, ${s.withoutTtl} without); ` +
		`skipped ${s.expired} expired meanwhile, ${s.notString} not strings${types ? ` (${types})` : ""}, ` +
		`${s.rateLimit} rate-limit state, ${s.notText} not UTF-8 text`;
	return s;
}
