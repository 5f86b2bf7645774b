/*-------------------------------------------------------------------------
 *
 * authstore.c
 *	  Module load (_PG_init), configuration parameters, the clock every
 *	  expiry decision uses, argument checks shared by all SQL functions, and
 *	  the per-backend cache of prepared statements and the helpers that run
 *	  them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <sodium.h>

#include "access/detoast.h"
#include "access/relation.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_index.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "authstore.h"

AUTHSTORE_MODULE_MAGIC;

int			authstore_max_key_bytes = 1024;
int			authstore_max_value_bytes = 1024 * 1024;
double		authstore_test_clock = 0;
bool		authstore_direct_access = true;
char	   *authstore_database = NULL;
int			authstore_sweep_interval_ms = 1000;
int			authstore_sweep_batch_size = 10000;
double		authstore_sweep_cost_delay = 2;
int			authstore_sweep_cost_limit = 1000;

/* Seconds between the Unix epoch and PostgreSQL's (2000-01-01). */
#define UNIX_TO_POSTGRES_EPOCH_SECS \
	((double) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)

/*
 * A pinned clock is for one test session.  Set server-, database- or
 * role-wide it would make backends and the sweeper, which always uses the
 * real clock, disagree about which rows have expired.
 */
static bool
check_test_clock(double *newval, void **extra, GucSource source)
{
	/* PGC_S_TEST is how ALTER ROLE/DATABASE ... SET values are checked */
	if (*newval != 0 && (source < PGC_S_CLIENT || source == PGC_S_TEST))
	{
		GUC_check_errdetail("authstore.test_clock can only be set in a session, with SET.");
		return false;
	}
	return true;
}

void
_PG_init(void)
{
	/* Tokens must never fall back to a weak RNG: refuse to load instead. */
	if (sodium_init() < 0)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("could not initialize libsodium")));

	/*
	 * The limits protect the server from its clients, so only superusers may
	 * change them.  A btree entry holds at most ~2704 bytes, and the token
	 * index holds subject and purpose (each bounded by this) side by side.
	 */
	DefineCustomIntVariable("authstore.max_key_bytes",
							"Largest key, prefix, subject or purpose accepted, in bytes.",
							NULL,
							&authstore_max_key_bytes,
							1024, 1, 1300,
							PGC_SUSET,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomIntVariable("authstore.max_value_bytes",
							"Largest value accepted, in bytes.",
							NULL,
							&authstore_max_value_bytes,
							1024 * 1024, 1, MaxAllocSize / 2,
							PGC_SUSET,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	/*
	 * The quota, like the other limits, protects the server from its clients:
	 * superusers only (PGC_SUSET), which also lets one be set per database
	 * with ALTER DATABASE ... SET, where the tables are.
	 */
	DefineCustomIntVariable("authstore.max_size",
							"Most bytes of data authstore's tables may hold in one database (0 = no limit).",
							"Calls that would add data are refused beyond it; see the README's Operations section.",
							&authstore_max_size_kb,
							0, 0, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomRealVariable("authstore.test_clock",
							 "Pins authstore's clock to this many seconds since the Unix epoch (0 = the real clock).",
							 "For deterministic tests only; superusers only, per session.",
							 &authstore_test_clock,
							 0, 0, 1e11,
							 PGC_SUSET,
							 GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							 check_test_clock, NULL, NULL);

	/*
	 * Off makes every function run its SQL statement: the reference the
	 * direct path is tested against, and a way out should it misbehave.
	 */
	DefineCustomBoolVariable("authstore.direct_access",
							 "Lets functions find, lock and change existing rows without the executor.",
							 "When off, every function runs its SQL statement.",
							 &authstore_direct_access,
							 true,
							 PGC_SUSET,
							 GUC_NOT_IN_SAMPLE,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("authstore.database",
							   "Comma-separated list of databases whose expired rows the background worker sweeps.",
							   "* (the default): every database that has the extension.",
							   &authstore_database,
							   "*",
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   authstore_check_database_list, NULL, NULL);

	DefineCustomIntVariable("authstore.sweep_interval",
							"Time between two sweeps of expired rows.",
							NULL,
							&authstore_sweep_interval_ms,
							1000, 10, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("authstore.sweep_batch_size",
							"Rows deleted per table in one sweep transaction.",
							NULL,
							&authstore_sweep_batch_size,
							10000, 1, 1000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	/*
	 * VACUUM's cost-based delay, for the same reason: a mass expiry must not
	 * take the CPU and the buffer locks from the applications' calls.
	 */
	DefineCustomRealVariable("authstore.sweep_cost_delay",
							 "Time the sweeper naps when its cost limit is exceeded.",
							 "0 turns the cost-based delay off.",
							 &authstore_sweep_cost_delay,
							 2, 0, 100,
							 PGC_SIGHUP,
							 GUC_UNIT_MS,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("authstore.sweep_cost_limit",
							"Cost the sweeper accumulates before it naps.",
							"Pages cost what they cost VACUUM (vacuum_cost_page_hit, _miss, _dirty); each row deleted costs vacuum_cost_page_hit.",
							&authstore_sweep_cost_limit,
							1000, 1, 10000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("authstore");

	if (process_shared_preload_libraries_in_progress)
		authstore_register_launcher();
}

/*
 * The time every expiry and rate-limit decision is made at: the wall clock at
 * the call, not the transaction start (now() stands still in a transaction,
 * a rate limiter must not), unless a superuser pinned it for a test.
 */
TimestampTz
authstore_now(void)
{
	if (authstore_test_clock > 0)
		return (TimestampTz) llround((authstore_test_clock - UNIX_TO_POSTGRES_EPOCH_SECS) *
									 USECS_PER_SEC);
	return GetCurrentTimestamp();
}

/*
 * Unlogged tables exist only on the primary; say so instead of letting the
 * caller meet "cannot access temporary or unlogged relations".
 */
void
authstore_check_primary(void)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("authstore is not available on a standby server"),
				 errdetail("authstore keeps its data in unlogged tables, which exist only on the primary."),
				 errhint("Connect to the primary server.")));
}

/*
 * Fetch a key argument: not NULL, not empty (unless allow_empty, for
 * prefixes) and within authstore.max_key_bytes.
 */
Datum
authstore_key_arg(FunctionCallInfo fcinfo, int argno, const char *argname,
				  bool allow_empty)
{
	text	   *key;
	Size		len;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", argname)));

	/* measured before detoasting: a huge key is refused without copying it */
	len = toast_raw_datum_size(PG_GETARG_DATUM(argno)) - VARHDRSZ;

	if (len == 0 && !allow_empty)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", argname)));

	if (len > (Size) authstore_max_key_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s is too long", argname),
				 errdetail("The %s is %zu bytes; authstore.max_key_bytes is %d.",
						   argname, len, authstore_max_key_bytes)));

	key = PG_GETARG_TEXT_PP(argno);
	authstore_confine_check(PointerGetDatum(key), argname);
	return PointerGetDatum(key);
}

/*
 * Fetch a value argument: not NULL and within authstore.max_value_bytes.
 * The datum is passed on as it came (possibly compressed): the size check
 * needs no decompression.
 */
Datum
authstore_value_arg(FunctionCallInfo fcinfo, int argno)
{
	Datum		value;
	Size		len;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("value must not be null"),
				 errhint("Use auth_kv_delete() to remove a key.")));

	value = PG_GETARG_DATUM(argno);
	len = toast_raw_datum_size(value) - VARHDRSZ;

	if (len > (Size) authstore_max_value_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("value is too long"),
				 errdetail("The value is %zu bytes; authstore.max_value_bytes is %d.",
						   len, authstore_max_value_bytes)));

	return value;
}

/*
 * Convert a TTL or window in seconds to microseconds, rejecting NaN,
 * infinities, negatives (and zero unless allow_zero) and absurdly large
 * values.  Sub-microsecond amounts round to the nearest microsecond.
 */
int64
authstore_seconds_to_usecs(double seconds, const char *argname, bool allow_zero)
{
	if (isnan(seconds))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be NaN", argname)));
	if (isinf(seconds))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be finite", argname),
				 allow_zero ? errhint("Pass NULL for a key that never expires.") : 0));
	if (seconds < 0 || (!allow_zero && seconds == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 allow_zero ? errmsg("%s must not be negative", argname) :
				 errmsg("%s must be greater than zero", argname)));
	if (seconds > AUTHSTORE_MAX_SECONDS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be at most %.0f", argname, AUTHSTORE_MAX_SECONDS),
				 errdetail("That is ten years: every row must expire, and be swept, in a foreseeable time."),
				 allow_zero ? errhint("Pass NULL for a key that never expires.") : 0));

	return (int64) llround(seconds * USECS_PER_SEC);
}

/*
 * The plan of a cached statement, prepared on first use and kept for the
 * life of the backend.  Called between SPI_connect() and SPI_finish().
 */
SPIPlanPtr
authstore_prepare(AuthstorePlan *p)
{
	if (p->plan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare_cursor(p->sql, p->nargs, p->argtypes,
											  p->cursor_options);

		if (plan == NULL)
			elog(ERROR, "authstore: SPI_prepare failed: %s",
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "authstore: SPI_keepplan failed");
		p->plan = plan;
	}
	return p->plan;
}

/*
 * Re-throw the error being handled (in a PG_CATCH block) without the
 * caller's data in it.  PostgreSQL's integrity-constraint errors (SQLSTATE
 * class 23) put the row or key in the DETAIL: "Key (key)=(session:...)
 * already exists", "Failing row contains (...)".  authstore promises that
 * no message carries a key, value, token, subject or purpose, so those
 * keep their SQLSTATE, message (which names only the constraint) and
 * context, and lose the DETAIL.  The functions meet such errors only when
 * the tables were changed (a unique index on the values, say), or after
 * authstore_execute_upsert() gave up its retries.  Other errors are
 * re-thrown as they are.  cxt: a memory context outside ErrorContext.
 */
void
authstore_rethrow_scrubbed(MemoryContext cxt)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) !=
		ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION)
	{
		FreeErrorData(edata);
		PG_RE_THROW();
	}
	FlushErrorState();
	edata->detail = pstrdup("The key and value are not shown: keys may be session tokens.");
	edata->detail_log = NULL;
	ReThrowError(edata);
}

/*
 * Run a cached statement.  Called between SPI_connect() and SPI_finish().
 * Returns the number of rows processed.  Errors raised beneath it lose any
 * key or value (authstore_rethrow_scrubbed); the PG_TRY costs a sigsetjmp,
 * nothing beside the executor's start-up.
 */
uint64
authstore_execute(AuthstorePlan *p, Datum *values, const char *nulls,
				  bool read_only, long count)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			rc = 0;

	/* the sweeper's statements are its own figures in auth_stats */
	if (MyBackendType != B_BG_WORKER)
		authstore_count(STATEMENTS);
	PG_TRY();
	{
		rc = SPI_execute_plan(authstore_prepare(p), values, nulls, read_only, count);
	}
	PG_CATCH();
	{
		authstore_rethrow_scrubbed(cxt);
	}
	PG_END_TRY();
	if (rc < 0)
		elog(ERROR, "authstore: SPI_execute_plan failed: %s",
			 SPI_result_code_string(rc));

	return SPI_processed;
}

/*
 * Whether authstore.<relname> has a unique index besides its primary key:
 * in practice the new index of a REINDEX CONCURRENTLY (or a CREATE UNIQUE
 * INDEX CONCURRENTLY), which INSERT ... ON CONFLICT does not use as an
 * arbiter.  The lock is the one the statement takes next anyway.
 */
static bool
has_other_unique_index(const char *relname)
{
	Oid			nsp = get_namespace_oid("authstore", true);
	Oid			relid;
	Relation	rel;
	List	   *indexes;
	ListCell   *lc;
	bool		found = false;

	if (!OidIsValid(nsp))
		return false;
	relid = get_relname_relid(relname, nsp);
	if (!OidIsValid(relid))
		return false;
	rel = relation_open(relid, RowExclusiveLock);
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		HeapTuple	tup = SearchSysCache1(INDEXRELID,
										  ObjectIdGetDatum(lfirst_oid(lc)));

		if (HeapTupleIsValid(tup))
		{
			Form_pg_index ind = (Form_pg_index) GETSTRUCT(tup);

			if (ind->indisunique && !ind->indisprimary)
				found = true;
			ReleaseSysCache(tup);
		}
	}
	list_free(indexes);
	relation_close(rel, NoLock);
	return found;
}

/*
 * Run a cached INSERT ... ON CONFLICT on authstore.<relname> as
 * authstore_execute() does, but so that it does not fail where the index of
 * a REINDEX CONCURRENTLY rejects a new key that a concurrent transaction
 * inserted at the same time: PostgreSQL raises unique_violation there (that
 * index is no arbiter), after waiting for the other transaction.  While
 * such an index exists, the statement runs in a subtransaction and is run
 * again after that error; the second time the other row is committed and
 * the primary key, the arbiter, sees it.  Without such an index this costs
 * a look at the relation's index list.
 */
uint64
authstore_execute_upsert(const char *relname, AuthstorePlan *p, Datum *values,
						 const char *nulls)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	int			attempt;

	if (!has_other_unique_index(relname))
		return authstore_execute(p, values, nulls, false, 0);

	for (attempt = 1;; attempt++)
	{
		uint64		n = 0;
		ErrorData  *edata = NULL;

		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(cxt);
		PG_TRY();
		{
			n = authstore_execute(p, values, nulls, false, 0);
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			FlushErrorState();
		}
		PG_END_TRY();

		if (edata == NULL)
		{
			/* SPI_tuptable survives the commit of the subtransaction */
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(cxt);
			CurrentResourceOwner = owner;
			return n;
		}
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode != ERRCODE_UNIQUE_VIOLATION || attempt >= 3)
			ReThrowError(edata);
		FreeErrorData(edata);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Run a cached statement that yields at most one row with one text column,
 * connecting to SPI and finishing itself, and return that value detoasted in
 * the caller's memory context; *isnull when there was no row or a NULL.
 */
Datum
authstore_execute_text(AuthstorePlan *p, Datum *values, bool *isnull)
{
	MemoryContext caller = CurrentMemoryContext;
	Datum		result = (Datum) 0;

	*isnull = true;
	SPI_connect();
	if (authstore_execute(p, values, NULL, false, 0) == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
									  1, isnull);

		if (!*isnull)
		{
			MemoryContext old = MemoryContextSwitchTo(caller);

			result = PointerGetDatum(pg_detoast_datum_copy((struct varlena *) DatumGetPointer(d)));
			MemoryContextSwitchTo(old);
		}
	}
	SPI_finish();
	return result;
}

/*
 * Return the rows of a cached statement as the result of the calling
 * set-returning function (materialize mode), with columns named and typed as
 * given.  The statement's columns must match.  Rows are fetched through a
 * cursor in batches, so that a million keys are not held twice in memory.
 */
void
authstore_return_rows(FunctionCallInfo fcinfo, int ncols, const char *const *names,
					  const Oid *types, AuthstorePlan *p, Datum *values,
					  const char *nulls)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TupleDesc	tupdesc;
	Tuplestorestate *tupstore;
	MemoryContext oldcxt;
	Portal		portal;
	Datum		row[AUTHSTORE_MAX_RESULT_COLS];
	bool		rownulls[AUTHSTORE_MAX_RESULT_COLS];
	int			c;

	Assert(ncols <= AUTHSTORE_MAX_RESULT_COLS);
	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));

	oldcxt = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	tupdesc = CreateTemplateTupleDesc(ncols);
	for (c = 0; c < ncols; c++)
		TupleDescInitEntry(tupdesc, (AttrNumber) (c + 1), names[c], types[c], -1, 0);
	tupstore = tuplestore_begin_heap(true, false, work_mem);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = tupstore;
	rsinfo->setDesc = tupdesc;
	MemoryContextSwitchTo(oldcxt);

	SPI_connect();
	portal = SPI_cursor_open(NULL, authstore_prepare(p), values, nulls, false);
	for (;;)
	{
		uint64		i;

		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;
		for (i = 0; i < SPI_processed; i++)
		{
			for (c = 0; c < ncols; c++)
				row[c] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
									   c + 1, &rownulls[c]);
			/* tuplestore copies into its own (per-query) context */
			tuplestore_putvalues(tupstore, tupdesc, row, rownulls);
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	SPI_finish();
}
