// The README's usage, typed against Better Auth 1.7's own interfaces.
import { betterAuth } from "better-auth";
import type { SecondaryStorage } from "better-auth";
import type { BetterAuthRateLimitStorage } from "@better-auth/core";
import pg from "pg";
import { authstore } from "@authstore/better-auth";

const pool = new pg.Pool({ connectionString: process.env.AUTHSTORE_DATABASE_URL });
const { secondaryStorage, rateLimitStorage } = authstore({ pool, schema: "public" });

const s: SecondaryStorage = secondaryStorage;
const rl: BetterAuthRateLimitStorage = rateLimitStorage;

export const auth = betterAuth({
  database: pool,
  emailAndPassword: { enabled: true },
  secondaryStorage,
  rateLimit: { enabled: true, customStorage: rateLimitStorage },
});
void [s, rl];
