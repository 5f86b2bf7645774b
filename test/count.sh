# shellcheck shell=bash
# test/count.sh — how test/run.sh and test/upgrade.sh count results
# (sourced, not run).
#
# A count that can be wrong is a defect of its own, so these count every
# test that did not pass as failed: a test the output does not report as
# passing, a TAP file that died (its unrun assertions, or 1 if it never said
# how many it planned), a run that failed without saying why.

# make_list DIR VAR: the tests the Makefile in DIR lists in VAR (REGRESS,
# ISOLATION), one a line.
# shellcheck disable=SC2016 # $(%s) is for make
make_list() {
	printf '_authstore_list:\n\t@printf "%%s\\n" $(%s)\n' "$2" |
		make -s --no-print-directory -C "$1" -f Makefile -f - _authstore_list
}

# count_regress LOG RC EXPECTED: set ok and bad for a pg_regress or
# pg_isolation_regress run.  Up to 15 it prints "test name ... ok" (or
# "... FAILED", "... failed (ignored)"); from 16 on TAP-style "ok 1 - name
# 12 ms" / "not ok 3 - name" ("+" instead of "-" in a parallel group).
# A test counts as passed only when reported as such; every expected test
# not reported as passed counts as failed, and a non-zero exit counts at
# least one failure even when nothing could be counted.
count_regress() {
	local log=$1 rc=$2 expected n_expected notok
	expected=$3
	n_expected=$(printf '%s\n' "$expected" | grep -c . || true)
	ok=$(grep -cE '\.\.\. ok( |$)|^ok [0-9]+ ' "$log" || true)
	notok=$(grep -cE '\.\.\. (FAILED|failed)|^not ok [0-9]+ ' "$log" || true)
	bad=$((n_expected - ok))
	[ "$bad" -ge "$notok" ] || bad=$notok
	if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
		bad=1
	fi
	echo "==> counted: $ok passed, $bad failed (of $n_expected listed, exit $rc)"
}

# count_tap LOG RC DIR: set tap_ok and tap_bad from prove's output for the
# test files DIR/*.pl.  Failed
# assertions count one each.  Every file in prove's "Test Summary Report"
# (failed assertions, a non-zero exit, a bad or missing plan) counts its
# failed assertions plus the ones it planned and did not run, and at least
# 1: a file that died before saying how many it planned still fails.  A
# test file prove did not run at all counts 1 as well.
count_tap() {
	local log=$1 rc=$2 dir=$3 files ran total
	files=$(find "$dir" -maxdepth 1 -name '*.pl' | wc -l)
	ran=$(sed -nE 's/^Files=([0-9]+), .*/\1/p' "$log" | tail -n 1)
	total=$(sed -nE 's/^Files=[0-9]+, Tests=([0-9]+),.*/\1/p' "$log" | tail -n 1)
	tap_bad=$(awk '
		/^Test Summary Report/ { report = 1; next }
		report && /^[^ ].*\(Wstat: [0-9]+.* Tests: [0-9]+ Failed: [0-9]+\)/ {
			if (file != "") total += (bad > 0 ? bad : 1)
			file = $1; bad = $0
			sub(/.*Failed: /, "", bad); sub(/\).*/, "", bad); bad += 0
			next
		}
		report && file != "" && /You planned [0-9]+ tests? but ran [0-9]+/ {
			line = $0
			sub(/.*You planned /, "", line); planned = line + 0
			sub(/.* but ran /, "", line); bad += planned - (line + 0)
		}
		END { if (file != "") total += (bad > 0 ? bad : 1); print total + 0 }
	' "$log")
	tap_ok=$((${total:-0} - $(sed -nE 's/^[^ ].*\(Wstat: [0-9]+.* Tests: [0-9]+ Failed: ([0-9]+)\)$/\1/p' "$log" |
		awk '{s += $1} END {print s + 0}')))
	if [ "${ran:-0}" -lt "$files" ]; then
		tap_bad=$((tap_bad + files - ${ran:-0}))
	fi
	if [ "$rc" -ne 0 ] && [ "$tap_bad" -eq 0 ]; then
		tap_bad=1
	fi
	echo "==> counted: $tap_ok passed, $tap_bad failed (${ran:-0} of $files files ran, exit $rc)"
}
