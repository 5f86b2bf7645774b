# shellcheck shell=bash
# bench/hugepages.sh — sourced (through bench/common.sh) by bench/run.sh and
# bench/growth.sh for --huge-pages: reserve enough 2 MB huge pages for a
# server's shared memory (vm.nr_hugepages, as root) and give the old setting
# back on exit.
#
# Why: on the VM these benchmarks were written on, a backend pays dearly the
# first time it touches each 4 kB page of shared memory, so 16 fresh
# backends reading random rows of a large table stay slow for a long time;
# with huge pages a get over 10M keys ran at 39-42k tps instead of 6-8k.
# PostgreSQL's documentation recommends huge pages for large shared_buffers.

HUGEPAGES_OLD=

# hugepages_reserve SHARED_BUFFERS_MB
hugepages_reserve() {
	local mb=$1 want have
	# shared_buffers plus PostgreSQL's other shared memory, generously
	want=$(((mb * 11 / 10 + 256) / 2))
	have=$(cat /proc/sys/vm/nr_hugepages)
	HUGEPAGES_OLD=$have
	if [ "$have" -lt "$want" ]; then
		sysctl -q -w vm.nr_hugepages="$want" ||
			{ echo "could not set vm.nr_hugepages = $want" >&2; return 1; }
	fi
	have=$(cat /proc/sys/vm/nr_hugepages)
	[ "$have" -ge "$want" ] ||
		{ echo "the kernel gave only $have of $want huge pages (memory fragmented?)" >&2; return 1; }
}

hugepages_restore() {
	if [ -n "$HUGEPAGES_OLD" ]; then
		sysctl -q -w vm.nr_hugepages="$HUGEPAGES_OLD" >/dev/null 2>&1
		HUGEPAGES_OLD=
	fi
}
