/*-------------------------------------------------------------------------
 *
 * authstore.h
 *	  What authstore's C modules share: GUC variables, the clock, argument
 *	  checks and the per-backend cache of prepared statements.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUTHSTORE_H
#define AUTHSTORE_H

#include "postgres.h"

#include "access/tableam.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "port/atomics.h"
#include "utils/array.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "compat.h"

/*
 * Largest TTL or window accepted, in seconds: ten years of 365 days.  Every
 * row then expires, and is swept, within the life of a deployment (a window
 * of 1e10 s, once accepted, kept its row for 317 years); a key that should
 * never expire is set with a NULL TTL instead.
 */
#define AUTHSTORE_MAX_SECONDS 315360000.0

/* GUC variables, defined in authstore.c */
extern int	authstore_max_key_bytes;
extern int	authstore_max_value_bytes;
extern double authstore_test_clock;
extern bool authstore_direct_access;
extern char *authstore_database;
extern int	authstore_sweep_interval_ms;
extern int	authstore_sweep_batch_size;
extern double authstore_sweep_cost_delay;
extern int	authstore_sweep_cost_limit;

/*
 * A statement prepared on first use and kept for the life of the backend.
 * The SQL must use schema-qualified names and OPERATOR(pg_catalog.x) so that
 * the caller's search_path cannot change its meaning when it is re-planned.
 */
typedef struct AuthstorePlan
{
	const char *sql;
	int			nargs;
	Oid			argtypes[6];
	SPIPlanPtr	plan;
	int			cursor_options; /* e.g. CURSOR_OPT_GENERIC_PLAN; 0 mostly */
} AuthstorePlan;

static inline long
authstore_ms_until(TimestampTz from, TimestampTz to)
{
	return TimestampDifferenceMilliseconds(from, to);
}

/* authstore.c */
extern SPIPlanPtr authstore_prepare(AuthstorePlan *p);
extern void authstore_rethrow_scrubbed(MemoryContext cxt);
extern uint64 authstore_execute(AuthstorePlan *p, Datum *values, const char *nulls,
								bool read_only, long count);
extern uint64 authstore_execute_upsert(const char *relname, AuthstorePlan *p,
									   Datum *values, const char *nulls);
extern TimestampTz authstore_now(void);
extern void authstore_check_primary(void);
extern Datum authstore_key_arg(FunctionCallInfo fcinfo, int argno,
							   const char *argname, bool allow_empty);
extern Datum authstore_value_arg(FunctionCallInfo fcinfo, int argno);
extern int64 authstore_seconds_to_usecs(double seconds, const char *argname,
										bool allow_zero);
extern Datum authstore_execute_text(AuthstorePlan *p, Datum *values, bool *isnull);
#define AUTHSTORE_MAX_RESULT_COLS 2
extern void authstore_return_rows(FunctionCallInfo fcinfo, int ncols,
								  const char *const *names, const Oid *types,
								  AuthstorePlan *p, Datum *values,
								  const char *nulls);

/*
 * The tables' column numbers, as the install script creates them (direct.c
 * checks the columns before it uses any table directly).  Column 1 is the
 * primary key of each.
 */
#define KV_VALUE			2
#define KV_EXPIRES_AT		3
#define KV_OWNER			4
#define RL_HITS				2
#define RL_LAST_HIT			3
#define RL_WINDOW_END		4
#define TOKEN_SUBJECT		2
#define TOKEN_PURPOSE		3
#define TOKEN_EXPIRES_AT	4

/* direct.c: row access without the executor, see there */
typedef enum AuthstoreTable
{
	AUTHSTORE_KV,
	AUTHSTORE_RATE_LIMIT,
	AUTHSTORE_TOKEN,
	AUTHSTORE_NTABLES
} AuthstoreTable;

typedef struct AuthstoreDirect
{
	AuthstoreTable table;
	LOCKMODE	lockmode;
	Relation	rel;
	Relation	pkey;
	Snapshot	snapshot;
	CommandId	cid;
	TupleTableSlot *slot;		/* the row found, or locked */
	Datum		key;			/* the key authstore_direct_fetch() looked for */
} AuthstoreDirect;

extern bool authstore_direct_begin(AuthstoreDirect *d, AuthstoreTable table,
								   bool for_write);
extern void authstore_direct_end(AuthstoreDirect *d);
extern bool authstore_direct_fetch(AuthstoreDirect *d, Datum key);
extern TM_Result authstore_direct_lock(AuthstoreDirect *d);
extern TM_Result authstore_direct_delete(AuthstoreDirect *d);
extern void authstore_direct_update(AuthstoreDirect *d, Datum *values,
									bool *isnull);
extern bool authstore_direct_insert(AuthstoreDirect *d, Datum *values,
									bool *isnull, bool speculative);
extern bool authstore_direct_live(AuthstoreDirect *d, AttrNumber attno,
								  TimestampTz now);
extern Datum authstore_direct_copy(AuthstoreDirect *d, AttrNumber attno);

/* confine.c: least privilege per service, see there */
extern void authstore_confine_check(Datum arg, const char *argname);
extern bool authstore_confine_subject_allowed(text *subject);
extern bool authstore_confine_tokens(void);
extern ArrayType *authstore_confine_key_prefixes(void);

/* sweep.c */
extern void authstore_sweep_cycle_start(void);
extern uint64 authstore_sweep_batch(TimestampTz now, int64 max_rows, bool *more);
extern void authstore_sweep_delay(void);
extern uint64 authstore_sweep_unswept_estimate(void);

/*
 * stats.c: counters of operations and outcomes, in auth_stats()'s column
 * order (the install script's OUT parameters follow it).
 */
typedef enum AuthstoreStat
{
	AUTHSTORE_STAT_KV_GET_HIT,
	AUTHSTORE_STAT_KV_GET_MISS,
	AUTHSTORE_STAT_KV_SET,
	AUTHSTORE_STAT_KV_NX_STORED,
	AUTHSTORE_STAT_KV_NX_EXISTED,
	AUTHSTORE_STAT_KV_INCR,
	AUTHSTORE_STAT_KV_TAKE_HIT,
	AUTHSTORE_STAT_KV_TAKE_MISS,
	AUTHSTORE_STAT_KV_DELETE_HIT,
	AUTHSTORE_STAT_KV_DELETE_MISS,
	AUTHSTORE_STAT_KV_CLEARED,
	AUTHSTORE_STAT_RL_ALLOWED,
	AUTHSTORE_STAT_RL_DENIED,
	AUTHSTORE_STAT_RL_RESET,
	AUTHSTORE_STAT_TOKEN_ISSUED,
	AUTHSTORE_STAT_TOKEN_VERIFIED,
	AUTHSTORE_STAT_TOKEN_VERIFY_REJECTED,
	AUTHSTORE_STAT_TOKEN_CONSUMED,
	AUTHSTORE_STAT_TOKEN_CONSUME_REJECTED,
	AUTHSTORE_STAT_TOKEN_REVOKED,
	AUTHSTORE_STAT_KV_CAS_APPLIED,
	AUTHSTORE_STAT_KV_CAS_REJECTED,
	AUTHSTORE_STAT_DIRECT_ACCESSES,
	AUTHSTORE_STAT_STATEMENTS,
	AUTHSTORE_STAT_SWEEP_ROWS,
	AUTHSTORE_STAT_SWEEP_CYCLES,
	AUTHSTORE_STAT_COUNT
} AuthstoreStat;

extern Size authstore_stats_shmem_size(void);
extern void authstore_stats_shmem_init(void);
extern void authstore_stat_add(AuthstoreStat counter, uint64 n);
extern void authstore_stat_sweep_cycle(TimestampTz start, TimestampTz end,
									   uint64 deleted, uint64 unswept_estimate);

/* count one operation or outcome: one line at the call site */
#define authstore_count(counter) authstore_stat_add(AUTHSTORE_STAT_##counter, 1)

/* verify (consume false) or consume of a token: accepted or rejected */
#define authstore_count_token(consume, accepted) \
	authstore_stat_add((consume) ? \
					   ((accepted) ? AUTHSTORE_STAT_TOKEN_CONSUMED : AUTHSTORE_STAT_TOKEN_CONSUME_REJECTED) : \
					   ((accepted) ? AUTHSTORE_STAT_TOKEN_VERIFIED : AUTHSTORE_STAT_TOKEN_VERIFY_REJECTED), 1)

/*
 * quota.c: authstore.max_size, an estimate of the bytes the three tables
 * hold per database (see there).  The slot lives in stats.c's shared entry.
 */
typedef struct AuthstoreQuotaSlot
{
	pg_atomic_uint64 measured;	/* bytes counted by the last measurement */
	pg_atomic_uint64 added;		/* bytes of writes admitted since then */
	pg_atomic_uint64 measured_at;	/* TimestampTz of it, 0 = never */
	pg_atomic_uint64 measure_usecs; /* how long it took */
	pg_atomic_uint32 measuring; /* a backend is measuring */
} AuthstoreQuotaSlot;

extern int	authstore_max_size_kb;
extern void authstore_quota_slot_init(AuthstoreQuotaSlot *q);
extern AuthstoreQuotaSlot *authstore_quota_shared_slot(void);
extern void authstore_quota_check(Size bytes);
extern bool authstore_quota_over(Size bytes);
extern void authstore_quota_refuse(void);
extern void authstore_quota_admit(Size bytes);
extern Size authstore_kv_row_bytes(Datum key, Datum value);
extern bool authstore_kv_delete_live(Datum key, text *expected, TimestampTz now);

/*
 * What one row costs the estimate, the same formula as quota.c's
 * measurement: pg_column_size() of the columns (the indexed ones twice, for
 * their index entries) plus the fixed columns and the tuple and index
 * headers.  A text of n bytes is stored with a 1-byte header up to 126.
 */
#define AUTHSTORE_STORED_BYTES(n) \
	((n) + 1 <= 127 ? (Size) (n) + 1 : (Size) (n) + VARHDRSZ)
#define AUTHSTORE_KV_ROW_BYTES(key_bytes, value_stored_bytes) \
	(2 * AUTHSTORE_STORED_BYTES(key_bytes) + (value_stored_bytes) + 48)
/* an owner (kv_owner_idx holds it too) */
#define AUTHSTORE_OWNER_BYTES(owner_bytes) \
	(2 * AUTHSTORE_STORED_BYTES(owner_bytes))
#define AUTHSTORE_RL_ROW_BYTES(key_bytes) \
	(2 * AUTHSTORE_STORED_BYTES(key_bytes) + 60)
#define AUTHSTORE_TOKEN_ROW_BYTES(subject_bytes, purpose_bytes) \
	(2 * (33 + AUTHSTORE_STORED_BYTES(subject_bytes) + \
		  AUTHSTORE_STORED_BYTES(purpose_bytes)) + 60)

/* worker.c */
extern void authstore_register_launcher(void);
extern bool authstore_check_database_list(char **newval, void **extra,
										  GucSource source);

#endif							/* AUTHSTORE_H */
