# shellcheck shell=bash
# scaleout/betterauth.sh — part of test.sh (sourced): the Better Auth
# package's flow tests, unchanged, against the proxy.  Their helpers make a
# database per test file on the given cluster and CREATE EXTENSION authstore
# there; on the proxy that is the proxy flavour, and template1 carries the
# server "authstore", so each such database reaches the same two nodes.
# contract.test.js and concurrency.test.js run; failure.test.js (locks the
# node's storage table authstore.rate_limit) and import.test.js (expects an
# empty store per database, while every proxy database shares the nodes) test
# one node's internals and do not apply.
ba=$repo/clients/better-auth
if (cd "$ba" && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1); then
	set +e
	(cd "$ba" && AUTHSTORE_TEST_PGHOST=$SO_DIR AUTHSTORE_TEST_PGPORT=$P \
		node --test --test-concurrency=1 --test-reporter=tap test/contract.test.js test/concurrency.test.js) \
		>"$SO_DIR/ba.tap" 2>&1
	rc=$?
	set -e
	bp=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$SO_DIR/ba.tap" | tail -1)
	bf=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$SO_DIR/ba.tap" | tail -1)
	grep -E '^# (plain-adapter|package|sessions valid)' "$SO_DIR/ba.tap" || true
	grep -E '^not ok|^\s+not ok' "$SO_DIR/ba.tap" | grep -v '# TODO' || true
	if [ -n "$bp" ] && [ "$bf" = 0 ] && [ "$rc" -eq 0 ]; then
		ok "Better Auth package: contract and concurrency tests through the proxy ($bp passed)"
	else
		tail -40 "$SO_DIR/ba.tap"
		notok "Better Auth package through the proxy (${bp:-?} passed, ${bf:-?} failed, exit $rc)"
	fi
else
	notok "npm ci in clients/better-auth"
fi
