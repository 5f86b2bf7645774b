// A consumer of the package's types alone (no better-auth import), compiled
// with tsc --strict --noEmit and skipLibCheck off, so index.d.ts itself is
// checked.
import authstore, {
  authstore as named,
  AuthstoreError,
  ENV_VAR,
  DEFAULT_POOL_OPTIONS,
  type Authstore,
  type AuthstoreOptions,
} from "@authstore/better-auth";

const opts: AuthstoreOptions = { connectionString: "postgresql://app@/db", schema: "auth", failOpen: false, logIntervalMs: 1000 };
const a: Authstore = authstore(opts);
const b: Authstore = named({ poolOptions: { statement_timeout: 2000 } });
const env: "AUTHSTORE_DATABASE_URL" = ENV_VAR;
const t: number = DEFAULT_POOL_OPTIONS.statement_timeout;

async function use(): Promise<void> {
  const v: string | null = await a.secondaryStorage.get("k");
  await a.secondaryStorage.set("k", "v");
  await a.secondaryStorage.set("k", "v", 60);
  await a.secondaryStorage.set("k", "v", null);
  const n: number = await a.secondaryStorage.increment("c", 10);
  const r = await a.rateLimitStorage.consume("k", { window: 10, max: 3 });
  const allowed: boolean = r.allowed;
  const retry: number | null = r.retryAfter;
  const info = await b.ready();
  const schema: string = info.schema;
  try {
    await a.close();
  } catch (e) {
    if (e instanceof AuthstoreError && e.code === "AUTHSTORE_NOT_INSTALLED") console.log(e.message);
  }
  void [v, n, allowed, retry, schema, env, t];
}
void use;
