# authstore — PGXS build.  `make && make install && make installcheck`.
EXTENSION = authstore
EXTVERSION = 0.2.0

MODULE_big = authstore
OBJS = \
	src/admin.o \
	src/authstore.o \
	src/confine.o \
	src/direct.o \
	src/kv.o \
	src/owner.o \
	src/quota.o \
	src/ratelimit.o \
	src/stats.o \
	src/sweep.o \
	src/tokens.o \
	src/worker.o

# Install scripts live in sql/ next to the regression inputs; only the
# versioned scripts are installed.
DATA = $(wildcard sql/$(EXTENSION)--*.sql)

SHLIB_LINK += -lsodium
PG_CPPFLAGS += -DAUTHSTORE_VERSION=\"$(EXTVERSION)\"

# Regression tests: sql/<name>.sql against expected/<name>.out.
REGRESS = kv ttl ratelimit tokens limits badinput privileges search_path sweep durable direct hostile keys_paging maintenance install_role confine cas owner stats quota
REGRESS_OPTS = --load-extension=$(EXTENSION)

# Isolation specs: test/specs/<name>.spec against test/expected/<name>.out.
ISOLATION = kv-take kv-nx kv-incr kv-race rl-hit sweep-vs-set token-consume direct-inval direct-keychange direct-shape sweep-own-lock kv-cas kv-owner
ISOLATION_OPTS = --inputdir=test --outputdir=output_iso --load-extension=$(EXTENSION)

# TAP tests need a server they start themselves, with the library preloaded.
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

EXTRA_CLEAN = output_iso results regression.diffs regression.out tmp_check

# AUTHSTORE_PG_VERSION=17 picks Debian's PostgreSQL 17 (Debian's plain
# pg_config picks the newest installed version, whatever the tests run on).
ifdef AUTHSTORE_PG_VERSION
PG_CONFIG ?= /usr/lib/postgresql/$(AUTHSTORE_PG_VERSION)/bin/pg_config
else
PG_CONFIG ?= pg_config
endif
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: a changed struct or enum in a header
# must rebuild every object (a stale one reads shared memory wrongly).
$(OBJS): $(wildcard src/*.h)

# PGXS defines the TAP recipe but no target for it outside "installcheck".
.PHONY: prove_installcheck
prove_installcheck:
	$(prove_installcheck)
