#!/usr/bin/env node
// authstore-import: copy a live Redis used as Better Auth's secondary storage
// into authstore, keeping each key's remaining TTL, so that moving an app
// from Redis to authstore logs nobody out.
//
// This file owns the command line; the copying is importRedis() in
// src/import.js, which the tests call too.

import { importRedis, USAGE, parseArgs } from "../src/import.js";

let opts;
try {
	opts = parseArgs(process.argv.slice(2), process.env);
} catch (err) {
	process.stderr.write(`authstore-import: ${err.message}\n\n${USAGE}`);
	process.exit(2);
}
if (opts.help) {
	process.stdout.write(USAGE);
	process.exit(0);
}

try {
	const summary = await importRedis({
		...opts,
		progress: process.stderr.isTTY && !opts.quiet ? (line) => process.stderr.write(`\r${line}\x1b[K`) : null,
	});
	if (process.stderr.isTTY && !opts.quiet) process.stderr.write("\n");
	process.stdout.write(opts.json ? JSON.stringify(summary) + "\n" : summary.text + "\n");
} catch (err) {
	process.stderr.write(`authstore-import: ${err.message}\n`);
	process.exit(1);
}
