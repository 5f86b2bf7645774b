# shellcheck shell=bash
# test/chroot.sh — Debian chroots for test/matrix.sh (sourced, not run).
#
# Owns building, mounting and unmounting the chroots in which the suite runs
# on PostgreSQL versions other than the host's.  A chroot is built once with
# debootstrap from the mirror the host's apt uses, then kept under
# $AUTHSTORE_CHROOT_DIR (default /var/cache/authstore/chroots/<suite>) for
# the next run: building one costs minutes, reusing it seconds.  A chroot is
# built in <suite>.new and renamed only when complete, so an interrupted
# build is never mistaken for a usable one.  Kernel file systems are mounted
# only while a run uses the chroot; chroot_umount undoes every mount and
# test/matrix.sh calls it from its EXIT trap.

# shellcheck disable=SC2034 # chroot_root is for the caller
chroot_root=
chroot_dir=${AUTHSTORE_CHROOT_DIR:-/var/cache/authstore/chroots}

# Packages every chroot gets (the suite's own needs: build, server, TAP).
chroot_base_packages="build-essential libsodium-dev libipc-run-perl ca-certificates"

# The Debian mirror the host's apt uses: deb822 sources first, then the
# one-line format.  A mirror nobody configured is a failure, not a guess.
host_mirror() {
	local m
	m=$(sed -nE 's/^URIs:[[:space:]]*([^[:space:]]+).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -v security | head -n 1)
	if [ -z "$m" ]; then
		m=$(sed -nE 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+)[[:space:]].*/\2/p' \
			/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | grep -v security | head -n 1)
	fi
	[ -n "$m" ] || { echo "chroot.sh: no Debian mirror in /etc/apt/sources.list*" >&2; return 1; }
	printf '%s\n' "$m"
}

# debootstrap script for a suite: bookworm's debootstrap knows trixie but
# not forky; every later suite bootstraps like sid.
chroot_script() {
	if [ -e "/usr/share/debootstrap/scripts/$1" ]; then echo "$1"; else echo sid; fi
}

# chroot_ensure SUITE [+OTHER_SUITE...] PACKAGE...: make sure the chroot for
# SUITE exists and has PACKAGEs installed; sets chroot_root to its path.
# +OTHER_SUITE adds that suite's archive at priority 100: apt takes a
# package from it only when SUITE has none of that name, as bookworm's
# postgresql-15 next to trixie's 17 for pg_upgrade.  Call it in the
# calling shell, not in $(...), so the lock and the mounts stay known to it.
# The lock on the suite is held until the caller exits: two runs at once
# neither build the same chroot twice nor install into it at the same time.
chroot_ensure() {
	local suite=$1
	shift
	local root="$chroot_dir/$suite" mirror script want="" other="" a
	for a in "$@"; do
		case $a in
			+*) other="$other ${a#+}" ;;
			*) want="$want $a" ;;
		esac
	done
	mkdir -p "$chroot_dir"
	# flock locks an open file: taking it twice in one run would wait for
	# ourselves.
	if [ -z "${chroot_locked[$suite]:-}" ]; then
		exec {lockfd}>"$chroot_dir/$suite.lock"
		flock "$lockfd" || return 1
		chroot_locked[$suite]=$lockfd
	fi
	mirror=$(host_mirror) || return 1
	if [ ! -f "$root/etc/authstore-chroot" ]; then
		script=$(chroot_script "$suite")
		echo "==> debootstrap $suite ($script script) from $mirror into $root"
		rm -rf "$root.new"
		if ! debootstrap --variant=minbase --include=adduser "$suite" "$root.new" "$mirror" \
			"/usr/share/debootstrap/scripts/$script" >"$chroot_dir/$suite.debootstrap.log" 2>&1; then
			tail -n 30 "$chroot_dir/$suite.debootstrap.log"
			echo "chroot.sh: debootstrap of $suite failed (log: $chroot_dir/$suite.debootstrap.log)"
			return 1
		fi
		# A testing suite's Release may be past its Valid-Until date while the
		# archive still serves it; apt would refuse it without this.
		printf 'Acquire::Check-Valid-Until "false";\n' >"$root.new/etc/apt/apt.conf.d/99authstore-valid-until"
		printf 'APT::Install-Recommends "false";\n' >"$root.new/etc/apt/apt.conf.d/99authstore-no-recommends"
		printf 'deb %s %s main\n' "$mirror" "$suite" >"$root.new/etc/apt/sources.list"
		# Debian's postgresql-common creates the postgres user and group this
		# way; doing it first gives the same ids whatever gets installed.
		chroot "$root.new" sh -c 'getent group postgres >/dev/null || addgroup --system --quiet postgres;
			getent passwd postgres >/dev/null || adduser --system --quiet --home /var/lib/postgresql \
				--no-create-home --shell /bin/bash --group --gecos "PostgreSQL administrator" postgres' || return 1
		# Packages must not start servers in the chroot (port 5432 is the host's).
		printf '#!/bin/sh\nexit 101\n' >"$root.new/usr/sbin/policy-rc.d"
		chmod 0755 "$root.new/usr/sbin/policy-rc.d"
		: >"$root.new/etc/authstore-chroot"
		mv "$root.new" "$root"
	fi
	want="$chroot_base_packages$want"
	# $want is a word list; ${Status} is dpkg-query's, not ours
	# shellcheck disable=SC2086,SC2016
	if [ "$(chroot "$root" dpkg-query -W -f '${Status}\n' $want 2>/dev/null | grep -c 'install ok installed')" \
		-eq "$(echo $want | wc -w)" ]; then
		chroot_root=$root
		return 0
	fi
	echo "==> installing in $suite: $want"
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	for a in $other; do
		printf 'deb %s %s main\n' "$mirror" "$a" >"$root/etc/apt/sources.list.d/$a.list"
		printf 'Package: *\nPin: release n=%s\nPin-Priority: 100\n' "$a" >"$root/etc/apt/preferences.d/$a"
	done
	chroot_mount "$root" || return 1
	# shellcheck disable=SC2086
	if ! chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C sh -c \
		"apt-get update -qq && apt-get install -y -qq $want" >"$chroot_dir/$suite.apt.log" 2>&1; then
		tail -n 30 "$chroot_dir/$suite.apt.log"
		echo "chroot.sh: apt-get in $suite failed (log: $chroot_dir/$suite.apt.log)"
		chroot_umount "$root"
		return 1
	fi
	chroot_umount "$root"
	chroot_root=$root
}

# Mounts a run needs: /proc (pg_ctl, prove) and /dev/shm (POSIX shared
# memory, PostgreSQL's dynamic shared memory and parallel query).  Each mount
# is recorded so chroot_umount undoes exactly what was done.
declare -A chroot_locked=()
chroot_mounts=()
chroot_mount() {
	local root=$1 m
	for m in proc dev/shm; do
		mkdir -p "$root/$m"
		mountpoint -q "$root/$m" && continue
		case $m in
			proc) mount -t proc proc "$root/proc" ;;
			dev/shm) mount -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm" ;;
		esac || { chroot_umount "$root"; return 1; }
		chroot_mounts+=("$root/$m")
	done
}

# chroot_umount [ROOT]: unmount what chroot_mount mounted (under ROOT, or
# everything), innermost first.  Safe to call twice.
chroot_umount() {
	local i m rest=()
	for ((i = ${#chroot_mounts[@]} - 1; i >= 0; i--)); do
		m=${chroot_mounts[i]}
		if [ -z "${1:-}" ] || [[ $m == "$1"/* ]]; then
			umount "$m" 2>/dev/null || umount -l "$m" || echo "chroot.sh: could not unmount $m"
		else
			rest=("$m" "${rest[@]}")
		fi
	done
	chroot_mounts=("${rest[@]}")
}
