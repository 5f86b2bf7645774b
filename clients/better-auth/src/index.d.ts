// Types of @authstore/better-auth (hand-written; checked with tsc --strict by
// test/types.test.js).  The storages are structurally Better Auth 1.7's
// SecondaryStorage and BetterAuthRateLimitStorage, so this file needs neither
// better-auth nor @types/pg to be installed.

/** Environment variable read when neither `pool` nor `connectionString` is given. */
export declare const ENV_VAR: "AUTHSTORE_DATABASE_URL";

/** Settings of the pool the package creates (override with `poolOptions`). */
export declare const DEFAULT_POOL_OPTIONS: Readonly<{
  max: number;
  connectionTimeoutMillis: number;
  statement_timeout: number;
  query_timeout: number;
  idleTimeoutMillis: number;
  application_name: string;
}>;

/** What the package needs of a pool: node-postgres' `Pool` has it. */
export interface QueryablePool {
  query(...args: any[]): Promise<{ rows: any[] }>;
  end(): Promise<void>;
}

export interface Logger {
  error(message: string, cause?: unknown): void;
}

export interface AuthstoreOptions {
  /** A node-postgres Pool of yours. Its timeouts are yours to set. */
  pool?: QueryablePool;
  /**
   * Create a pool for this URL (with DEFAULT_POOL_OPTIONS). Default:
   * process.env.AUTHSTORE_DATABASE_URL.
   */
  connectionString?: string;
  /** node-postgres PoolConfig entries overriding DEFAULT_POOL_OPTIONS. */
  poolOptions?: Record<string, unknown>;
  /** The schema the extension was created in. Default "public". */
  schema?: string;
  /** Allow requests when the rate limiter's database call fails. Default false (deny). */
  failOpen?: boolean;
  /** Where failures are logged. Default console. */
  logger?: Logger;
  /** At most one log line per kind of failure per this many ms. Default 60000. */
  logIntervalMs?: number;
  /**
   * Serve `active-sessions-<userId>` from the extension's owner index (each
   * session key is stored with its user as owner), so that concurrent
   * sign-ins cannot lose list entries. Needs the extension 0.2.0 or later.
   * Default true; false stores the list as an ordinary key, as Redis does.
   */
  exactSessionLists?: boolean;
  /** Prepended to the user id to form a session key's owner. Default "". */
  ownerPrefix?: string;
}

/** Better Auth's SecondaryStorage. */
export interface AuthstoreSecondaryStorage {
  get(key: string): Promise<string | null>;
  /**
   * ttl in seconds: undefined/null never expires; 0 or less leaves the key
   * absent; NaN or Infinity throws AuthstoreError AUTHSTORE_BAD_TTL.
   */
  set(key: string, value: string, ttl?: number | null): Promise<void>;
  delete(key: string): Promise<void>;
  getAndDelete(key: string): Promise<string | null>;
  /** Exact, or throws AuthstoreError AUTHSTORE_NOT_EXACT past 2^53 - 1. */
  increment(key: string, ttl: number): Promise<number>;
}

/** Better Auth's BetterAuthRateLimitStorage; consume never rejects. */
export interface AuthstoreRateLimitStorage {
  consume(
    key: string,
    rule: { window: number; max: number },
  ): Promise<{ allowed: boolean; retryAfter: number | null }>;
}

export interface Authstore {
  secondaryStorage: AuthstoreSecondaryStorage;
  rateLimitStorage: AuthstoreRateLimitStorage;
  /** The pool in use (yours, or the one created). */
  pool: QueryablePool;
  /**
   * Checks that the extension is installed in `schema` and that the role may
   * execute it; rejects with a plain-words AuthstoreError otherwise. Every
   * storage call runs it once first; call it at start-up to fail early.
   */
  ready(): Promise<{ schema: string; version: string }>;
  /** Ends the pool if the package created it; leaves yours alone. */
  close(): Promise<void>;
}

export type AuthstoreErrorCode =
  | "AUTHSTORE_NOT_INSTALLED"
  | "AUTHSTORE_WRONG_SCHEMA"
  | "AUTHSTORE_PERMISSION"
  | "AUTHSTORE_BAD_OPTION"
  | "AUTHSTORE_BAD_ARGUMENT"
  | "AUTHSTORE_BAD_TTL"
  | "AUTHSTORE_BAD_RULE"
  | "AUTHSTORE_NOT_EXACT"
  | "AUTHSTORE_OLD_VERSION";

export declare class AuthstoreError extends Error {
  constructor(code: AuthstoreErrorCode, message: string, options?: { cause?: unknown });
  readonly code: AuthstoreErrorCode;
}

export declare function authstore(options?: AuthstoreOptions): Authstore;
export declare function quoteIdent(name: string): string;
/** The key under which Better Auth keeps a user's list of sessions. */
export declare const SESSION_LIST_PREFIX: "active-sessions-";
/** The user id of a Better Auth session value stored under key, else null. */
export declare function sessionOwner(key: string, value: string): string | null;
export declare function ttlSeconds(ttl: number | null | undefined, method: string): number | null;
export declare function rateRule(rule: { window: number; max: number }): { window: number; max: number } | null;
export default authstore;
