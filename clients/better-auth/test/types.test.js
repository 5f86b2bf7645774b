// The hand-written index.d.ts as a TypeScript consumer sees it: tsc --strict
// --noEmit on a consumer of the package alone (skipLibCheck off, so the .d.ts
// is checked too), on the README's usage against Better Auth's own types, and
// on a file with two type errors that must be reported.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");

function compile(project) {
	return spawnSync(process.execPath, [tsc, "--strict", "--noEmit", "-p", join(root, "test", "consumer", project)], {
		cwd: root,
		encoding: "utf8",
	});
}

test("a consumer of the package's types compiles under tsc --strict", () => {
	const r = compile("tsconfig.json");
	assert.equal(r.status, 0, r.stdout + r.stderr);
});

test("the storages are assignable to Better Auth 1.7's SecondaryStorage and BetterAuthRateLimitStorage", () => {
	const r = compile("tsconfig.better-auth.json");
	assert.equal(r.status, 0, r.stdout + r.stderr);
});

test("type errors in a consumer are reported (the check can fail)", () => {
	const r = compile("tsconfig.bad.json");
	assert.notEqual(r.status, 0);
	assert.match(r.stdout, /bad\.ts\(4,\d+\): error TS2345/);
	assert.match(r.stdout, /bad\.ts\(5,\d+\): error TS2322/);
});
