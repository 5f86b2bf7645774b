/*-------------------------------------------------------------------------
 *
 * kv.c
 *	  The key-value API: auth_kv_set/get/take/set_if_not_exists/delete/incr/
 *	  ttl/expire/keys/clear/compare_and_set/delete_if_value over the unlogged
 *	  table authstore.kv.
 *
 * A row is live while expires_at is NULL or later than authstore_now();
 * expired rows are treated as absent by every function (lazy expiry) until
 * the sweeper deletes them.  Each function is one statement, so its
 * atomicity is the statement's: row locks taken by DELETE and INSERT ... ON
 * CONFLICT decide concurrent callers.  The functions do the same with the
 * same row locks, and insert new rows speculatively as ON CONFLICT does,
 * without the executor (direct.c); they fall back to the statement whenever
 * that cannot decide.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/float.h"

#include "authstore.h"

PG_FUNCTION_INFO_V1(auth_kv_set);
PG_FUNCTION_INFO_V1(auth_kv_get);
PG_FUNCTION_INFO_V1(auth_kv_take);
PG_FUNCTION_INFO_V1(auth_kv_set_if_not_exists);
PG_FUNCTION_INFO_V1(auth_kv_delete);
PG_FUNCTION_INFO_V1(auth_kv_incr);
PG_FUNCTION_INFO_V1(auth_kv_ttl);
PG_FUNCTION_INFO_V1(auth_kv_expire);
PG_FUNCTION_INFO_V1(auth_kv_keys);
PG_FUNCTION_INFO_V1(auth_kv_clear);
PG_FUNCTION_INFO_V1(auth_kv_compare_and_set);
PG_FUNCTION_INFO_V1(auth_kv_delete_if_value);
PG_FUNCTION_INFO_V1(authstore_incr_value);

/* What a direct-path attempt came to: UNDECIDED means "run the statement". */
typedef enum DirectOutcome
{
	DIRECT_UNDECIDED,
	DIRECT_NO,
	DIRECT_YES
} DirectOutcome;

#define LIVE(expires_col, now_param) \
	"(" expires_col " IS NULL OR " expires_col " OPERATOR(pg_catalog.>) " now_param ")"

static AuthstorePlan upsert_plan = {
	"INSERT INTO authstore.kv AS t (key, value, expires_at) VALUES ($1, $2, $3) "
	"ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at",
	3, {TEXTOID, TEXTOID, TIMESTAMPTZOID}
};

static AuthstorePlan get_plan = {
	"SELECT value FROM authstore.kv WHERE key OPERATOR(pg_catalog.=) $1 AND " LIVE("expires_at", "$2"),
	2, {TEXTOID, TIMESTAMPTZOID}
};

static AuthstorePlan ttl_plan = {
	"SELECT expires_at FROM authstore.kv WHERE key OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}
};

/*
 * An expired row is left to the sweeper: deleting it here could only fail
 * with a serialization error in REPEATABLE READ if the sweeper got there
 * first.  take is the same statement returning the value.
 */
#define DELETE_LIVE \
	"DELETE FROM authstore.kv WHERE key OPERATOR(pg_catalog.=) $1 AND " LIVE("expires_at", "$2")

static AuthstorePlan delete_live_plan = {DELETE_LIVE, 2, {TEXTOID, TIMESTAMPTZOID}};

static AuthstorePlan take_plan = {DELETE_LIVE " RETURNING value", 2, {TEXTOID, TIMESTAMPTZOID}};

/* Replaces an expired row; leaves a live one alone (no row processed). */
static AuthstorePlan nx_plan = {
	"INSERT INTO authstore.kv AS t (key, value, expires_at) VALUES ($1, $2, $3) "
	"ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at "
	"WHERE t.expires_at OPERATOR(pg_catalog.<=) $4",
	4, {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID}
};

/*
 * Compare-and-set and delete-if-value against a live row holding exactly
 * the expected value.  The comparison is bytewise (COLLATE "C"), whatever
 * the database's collation; in READ COMMITTED the row lock taken by UPDATE
 * or DELETE makes a waiter re-check the comparison on the latest version
 * (EvalPlanQual), so of concurrent callers expecting the same value only
 * the first sees it.
 */
#define VALUE_IS(param) \
	"value OPERATOR(pg_catalog.=) " param " COLLATE pg_catalog.\"C\""

static AuthstorePlan cas_plan = {
	"UPDATE authstore.kv SET value = $2, expires_at = $3 "
	"WHERE key OPERATOR(pg_catalog.=) $1 AND " VALUE_IS("$4") " AND "
	LIVE("expires_at", "$5"),
	5, {TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID}
};

/* Parameters in delete_live_plan's order, and the value last. */
static AuthstorePlan delete_if_plan = {
	"DELETE FROM authstore.kv WHERE key OPERATOR(pg_catalog.=) $1 AND "
	LIVE("expires_at", "$2") " AND " VALUE_IS("$3"),
	3, {TEXTOID, TIMESTAMPTZOID, TEXTOID}
};

/* An expired row restarts at 1 with the new TTL; a live one keeps its TTL. */
static AuthstorePlan incr_plan = {
	"INSERT INTO authstore.kv AS t (key, value, expires_at) VALUES ($1, '1', $2) "
	"ON CONFLICT (key) DO UPDATE SET "
	"value = CASE WHEN t.expires_at OPERATOR(pg_catalog.<=) $3 THEN '1' "
	"ELSE authstore.incr_value(t.value) END, "
	"expires_at = CASE WHEN t.expires_at OPERATOR(pg_catalog.<=) $3 THEN EXCLUDED.expires_at "
	"ELSE t.expires_at END "
	"RETURNING value",
	3, {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID}
};

static AuthstorePlan expire_plan = {
	"UPDATE authstore.kv SET expires_at = $2 "
	"WHERE key OPERATOR(pg_catalog.=) $1 AND " LIVE("expires_at", "$3"),
	3, {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID}
};

/*
 * Live keys in [$1, $2) (or from $1 on, when no string bounds the prefix
 * from above), in key order, at most $n of them (NULL: all).  Both bounds
 * are parameters of the statement, so that a generic plan, which a cached
 * statement gets from its sixth execution on, is still a bounded index
 * range scan rather than a scan and sort of the whole table.  The range
 * statement is planned generically from the first call: from about 100k
 * keys the plan cache otherwise keeps choosing custom plans and plans
 * every call again (bench/security.sh: 4x the time per call at 1M keys).
 */
static AuthstorePlan keys_range_plan = {
	"SELECT key FROM authstore.kv "
	"WHERE key OPERATOR(pg_catalog.>=) $1 AND key OPERATOR(pg_catalog.<) $2 "
	"AND " LIVE("expires_at", "$3") " "
	"ORDER BY key LIMIT $4",
	4, {TEXTOID, TEXTOID, TIMESTAMPTZOID, INT8OID},
	.cursor_options = CURSOR_OPT_GENERIC_PLAN
};

static AuthstorePlan keys_from_plan = {
	"SELECT key FROM authstore.kv "
	"WHERE key OPERATOR(pg_catalog.>=) $1 AND " LIVE("expires_at", "$2") " "
	"ORDER BY key LIMIT $3",
	3, {TEXTOID, TIMESTAMPTZOID, INT8OID}
};

/* Prefix deletes: with an upper bound for the index, and without one. */
static AuthstorePlan clear_range_plan = {
	"WITH d AS (DELETE FROM authstore.kv "
	"WHERE key OPERATOR(pg_catalog.>=) $1 AND key OPERATOR(pg_catalog.<) $2 "
	"AND pg_catalog.starts_with(key, $1) RETURNING expires_at) "
	"SELECT pg_catalog.count(*) FROM d WHERE " LIVE("expires_at", "$3"),
	3, {TEXTOID, TEXTOID, TIMESTAMPTZOID}
};

static AuthstorePlan clear_from_plan = {
	"WITH d AS (DELETE FROM authstore.kv "
	"WHERE key OPERATOR(pg_catalog.>=) $1 AND pg_catalog.starts_with(key, $1) "
	"RETURNING expires_at) "
	"SELECT pg_catalog.count(*) FROM d WHERE " LIVE("expires_at", "$2"),
	2, {TEXTOID, TIMESTAMPTZOID}
};

/*
 * The TTL argument as an expiry time: false when it is NULL (no expiry).
 * *expires_at <= now means the value would be expired at once.
 */
static bool
ttl_arg(FunctionCallInfo fcinfo, int argno, TimestampTz now,
		TimestampTz *expires_at)
{
	if (PG_ARGISNULL(argno))
		return false;
	*expires_at = now + authstore_seconds_to_usecs(PG_GETARG_FLOAT8(argno),
												   "ttl_seconds", true);
	return true;
}

/*
 * What storing key and value costs the quota's estimate.  A plain value is
 * stored as it is (with a short header when it fits one); a compressed or
 * out-of-line one counts its stored size, as pg_column_size() does.
 */
Size
authstore_kv_row_bytes(Datum key, Datum value)
{
	Pointer		v = DatumGetPointer(value);
	Size		stored;

	if (VARATT_IS_4B_U(v))
		stored = AUTHSTORE_STORED_BYTES(VARSIZE(v) - VARHDRSZ);
	else
		stored = toast_datum_size(value);
	return AUTHSTORE_KV_ROW_BYTES(VARSIZE_ANY_EXHDR(DatumGetPointer(key)), stored);
}

/* Whether the value of the row in d->slot is expected, byte for byte. */
static bool
value_matches_direct(AuthstoreDirect *d, text *expected)
{
	bool		isnull;
	Datum		value = slot_getattr(d->slot, KV_VALUE, &isnull);
	text	   *current;
	bool		result;

	if (isnull)
		return false;
	/* a compressed or out-of-line value is detoasted for the comparison */
	current = DatumGetTextPP(value);
	result = VARSIZE_ANY_EXHDR(current) == VARSIZE_ANY_EXHDR(expected) &&
		memcmp(VARDATA_ANY(current), VARDATA_ANY(expected),
			   VARSIZE_ANY_EXHDR(expected)) == 0;
	if ((Pointer) current != DatumGetPointer(value))
		pfree(current);
	return result;
}

/*
 * Delete key if live, as delete_live_plan does; with value != NULL also
 * return the value deleted; with expected != NULL only if the row holds
 * exactly that.  The row is deleted without being locked first: if it was
 * changed meanwhile, the statement re-checks the new version.
 */
static DirectOutcome
delete_live_direct(Datum key, TimestampTz now, Datum *value, text *expected)
{
	AuthstoreDirect d;
	DirectOutcome outcome = DIRECT_NO;

	if (!authstore_direct_begin(&d, AUTHSTORE_KV, true))
		return DIRECT_UNDECIDED;
	if (authstore_direct_fetch(&d, key) &&
		authstore_direct_live(&d, KV_EXPIRES_AT, now) &&
		(expected == NULL || value_matches_direct(&d, expected)))
	{
		if (value != NULL)
			*value = authstore_direct_copy(&d, KV_VALUE);
		switch (authstore_direct_delete(&d))
		{
			case TM_Ok:
				outcome = DIRECT_YES;
				break;
			case TM_Deleted:
				/* a concurrent delete won: for us the key is absent */
				break;
			default:
				/* updated meanwhile: the statement re-checks the new version */
				outcome = DIRECT_UNDECIDED;
				break;
		}
	}
	authstore_direct_end(&d);
	return outcome;
}

/*
 * Find and lock key's row for an update.  DIRECT_YES: locked, in d->slot.
 * DIRECT_NO: no row, or it was deleted while we waited (a new row may be
 * inserted).  DIRECT_UNDECIDED: the statement must decide.  The caller
 * still ends the direct access.
 */
static DirectOutcome
lock_row_direct(AuthstoreDirect *d, Datum key)
{
	if (!authstore_direct_fetch(d, key))
		return DIRECT_NO;
	switch (authstore_direct_lock(d))
	{
		case TM_Ok:
			return DIRECT_YES;
		case TM_Deleted:
			return DIRECT_NO;
		default:
			return DIRECT_UNDECIDED;
	}
}

/*
 * Store value and expiry for key: overwrite the row lock_row_direct() found
 * (found == DIRECT_YES) or insert one (DIRECT_NO).  false: a concurrent
 * inserter of the key got there first, and the statement must decide.
 *
 * The row's owner stays as it is, as the statements leave it (they do not
 * name the column, so that they also run on a 0.1.0 table not yet
 * updated); a new row has none.  Only auth_kv_set_owned() sets it.
 */
static bool
write_row_direct(AuthstoreDirect *d, DirectOutcome found, Datum key,
				 Datum value, bool has_ttl, TimestampTz expires_at)
{
	Datum		values[4] = {key, value, TimestampTzGetDatum(expires_at), (Datum) 0};
	bool		nulls[4] = {false, false, !has_ttl, true};

	Assert(found != DIRECT_UNDECIDED);
	if (found == DIRECT_YES)
	{
		values[KV_OWNER - 1] = slot_getattr(d->slot, KV_OWNER, &nulls[KV_OWNER - 1]);
		authstore_direct_update(d, values, nulls);
		return true;
	}
	return authstore_direct_insert(d, values, nulls, true);
}

Datum
auth_kv_set(PG_FUNCTION_ARGS)
{
	Datum		key;
	Datum		value;
	TimestampTz now;
	TimestampTz expires_at = 0;
	bool		has_ttl;
	AuthstoreDirect d;
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};

	authstore_check_primary();
	key = authstore_key_arg(fcinfo, 0, "key", false);
	value = authstore_value_arg(fcinfo, 1);
	now = authstore_now();
	has_ttl = ttl_arg(fcinfo, 2, now, &expires_at);

	if (has_ttl && expires_at <= now)
	{
		/* Already expired: the key ends up absent, as after Redis' SET EX 0. */
		(void) authstore_kv_delete_live(key, NULL, now);
		authstore_count(KV_SET);
		PG_RETURN_VOID();
	}
	authstore_quota_check(authstore_kv_row_bytes(key, value));
	authstore_count(KV_SET);

	if (authstore_direct_begin(&d, AUTHSTORE_KV, true))
	{
		DirectOutcome found = lock_row_direct(&d, key);
		bool		done;

		done = found != DIRECT_UNDECIDED &&
			write_row_direct(&d, found, key, value, has_ttl, expires_at);
		authstore_direct_end(&d);
		if (done)
			PG_RETURN_VOID();
	}

	args[0] = key;
	args[1] = value;
	args[2] = TimestampTzGetDatum(expires_at);
	nulls[2] = has_ttl ? ' ' : 'n';
	SPI_connect();
	authstore_execute_upsert("kv", &upsert_plan, args, nulls);
	SPI_finish();

	PG_RETURN_VOID();
}

Datum
auth_kv_get(PG_FUNCTION_ARGS)
{
	Datum		args[2];
	Datum		result = (Datum) 0;
	bool		isnull;
	AuthstoreDirect d;

	authstore_check_primary();
	args[0] = authstore_key_arg(fcinfo, 0, "key", false);
	args[1] = TimestampTzGetDatum(authstore_now());

	if (authstore_direct_begin(&d, AUTHSTORE_KV, false))
	{
		isnull = !(authstore_direct_fetch(&d, args[0]) &&
				   authstore_direct_live(&d, KV_EXPIRES_AT,
										 DatumGetTimestampTz(args[1])));
		if (!isnull)
			result = authstore_direct_copy(&d, KV_VALUE);
		authstore_direct_end(&d);
		authstore_stat_add(isnull ? AUTHSTORE_STAT_KV_GET_MISS : AUTHSTORE_STAT_KV_GET_HIT, 1);
		if (isnull)
			PG_RETURN_NULL();
		PG_RETURN_DATUM(result);
	}

	result = authstore_execute_text(&get_plan, args, &isnull);
	authstore_stat_add(isnull ? AUTHSTORE_STAT_KV_GET_MISS : AUTHSTORE_STAT_KV_GET_HIT, 1);

	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

Datum
auth_kv_take(PG_FUNCTION_ARGS)
{
	Datum		args[2];
	Datum		result;
	bool		isnull;

	authstore_check_primary();
	args[0] = authstore_key_arg(fcinfo, 0, "key", false);
	args[1] = TimestampTzGetDatum(authstore_now());

	/* The DELETE's row lock makes exactly one concurrent caller see the row. */
	switch (delete_live_direct(args[0], DatumGetTimestampTz(args[1]), &result, NULL))
	{
		case DIRECT_YES:
			authstore_count(KV_TAKE_HIT);
			PG_RETURN_DATUM(result);
		case DIRECT_NO:
			authstore_count(KV_TAKE_MISS);
			PG_RETURN_NULL();
		case DIRECT_UNDECIDED:
			break;
	}
	result = authstore_execute_text(&take_plan, args, &isnull);
	authstore_stat_add(isnull ? AUTHSTORE_STAT_KV_TAKE_MISS : AUTHSTORE_STAT_KV_TAKE_HIT, 1);

	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

Datum
auth_kv_set_if_not_exists(PG_FUNCTION_ARGS)
{
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	TimestampTz now;
	TimestampTz expires_at = 0;
	bool		stored;
	AuthstoreDirect d;

	authstore_check_primary();
	args[0] = authstore_key_arg(fcinfo, 0, "key", false);
	args[1] = authstore_value_arg(fcinfo, 1);
	now = authstore_now();
	if (!ttl_arg(fcinfo, 2, now, &expires_at))
		nulls[2] = 'n';
	else if (expires_at <= now)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ttl_seconds must be greater than zero"),
				 errdetail("A value that expires at once cannot be set if not exists."),
				 errhint("Pass NULL for a key that never expires.")));
	args[2] = TimestampTzGetDatum(expires_at);
	args[3] = TimestampTzGetDatum(now);
	authstore_quota_check(authstore_kv_row_bytes(args[0], args[1]));

	/* A live row stays (and stays locked, as ON CONFLICT leaves it). */
	if (authstore_direct_begin(&d, AUTHSTORE_KV, true))
	{
		DirectOutcome found = lock_row_direct(&d, args[0]);
		bool		done = true;

		if (found == DIRECT_YES && authstore_direct_live(&d, KV_EXPIRES_AT, now))
			stored = false;
		else
			stored = done = found != DIRECT_UNDECIDED &&
				write_row_direct(&d, found, args[0], args[1], nulls[2] == ' ',
								 expires_at);
		authstore_direct_end(&d);
		if (done)
			authstore_stat_add(stored ? AUTHSTORE_STAT_KV_NX_STORED : AUTHSTORE_STAT_KV_NX_EXISTED, 1);
		if (done)
			PG_RETURN_BOOL(stored);
	}

	SPI_connect();
	stored = authstore_execute_upsert("kv", &nx_plan, args, nulls) == 1;
	SPI_finish();
	authstore_stat_add(stored ? AUTHSTORE_STAT_KV_NX_STORED : AUTHSTORE_STAT_KV_NX_EXISTED, 1);

	PG_RETURN_BOOL(stored);
}

/*
 * Delete key if it is live (and, when expected is not NULL, holds exactly
 * expected), on the direct path or else by the statement; whether it was.
 * Also for owner.c's set with a TTL that expires at once.
 */
bool
authstore_kv_delete_live(Datum key, text *expected, TimestampTz now)
{
	Datum		args[3] = {key, TimestampTzGetDatum(now), PointerGetDatum(expected)};
	bool		deleted;

	switch (delete_live_direct(key, now, NULL, expected))
	{
		case DIRECT_YES:
			return true;
		case DIRECT_NO:
			return false;
		case DIRECT_UNDECIDED:
			break;
	}

	SPI_connect();
	deleted = authstore_execute(expected != NULL ? &delete_if_plan : &delete_live_plan,
								args, NULL, false, 0) == 1;
	SPI_finish();
	return deleted;
}

Datum
auth_kv_delete(PG_FUNCTION_ARGS)
{
	Datum		key;
	bool		deleted;

	authstore_check_primary();
	key = authstore_key_arg(fcinfo, 0, "key", false);
	deleted = authstore_kv_delete_live(key, NULL, authstore_now());
	authstore_stat_add(deleted ? AUTHSTORE_STAT_KV_DELETE_HIT : AUTHSTORE_STAT_KV_DELETE_MISS, 1);

	PG_RETURN_BOOL(deleted);
}

Datum
auth_kv_incr(PG_FUNCTION_ARGS)
{
	MemoryContext fcxt = CurrentMemoryContext;
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	TimestampTz now;
	TimestampTz expires_at = 0;
	int64		result;
	AuthstoreDirect d;

	authstore_check_primary();
	args[0] = authstore_key_arg(fcinfo, 0, "key", false);
	now = authstore_now();
	if (!ttl_arg(fcinfo, 1, now, &expires_at))
		nulls[1] = 'n';
	args[1] = TimestampTzGetDatum(expires_at);
	args[2] = TimestampTzGetDatum(now);
	/* a counter's value: at most 20 digits */
	authstore_quota_check(AUTHSTORE_KV_ROW_BYTES(VARSIZE_ANY_EXHDR(DatumGetPointer(args[0])), 21));
	authstore_count(KV_INCR);

	/* An expired row restarts at 1 with the new TTL; a live one keeps its TTL. */
	if (authstore_direct_begin(&d, AUTHSTORE_KV, true))
	{
		DirectOutcome found = lock_row_direct(&d, args[0]);
		text	   *value = NULL;
		bool		done = false;

		if (found == DIRECT_YES && authstore_direct_live(&d, KV_EXPIRES_AT, now))
		{
			bool		no_expiry;
			bool		isnull;
			Datum		old_expiry = slot_getattr(d.slot, KV_EXPIRES_AT, &no_expiry);

			value = DatumGetTextPP(DirectFunctionCall1(authstore_incr_value,
													   slot_getattr(d.slot, KV_VALUE, &isnull)));
			done = write_row_direct(&d, found, args[0], PointerGetDatum(value),
									!no_expiry,
									no_expiry ? 0 : DatumGetTimestampTz(old_expiry));
		}
		else if (found != DIRECT_UNDECIDED)
		{
			value = cstring_to_text("1");
			done = write_row_direct(&d, found, args[0], PointerGetDatum(value),
									nulls[1] == ' ', expires_at);
		}
		authstore_direct_end(&d);
		if (done)
			PG_RETURN_INT64(strtoi64(text_to_cstring(value), NULL, 10));
	}

	SPI_connect();

	/*
	 * incr_value()'s errors are the caller's business; the statement they
	 * come from is ours, so drop the "SQL statement" context SPI adds.
	 */
	PG_TRY();
	{
		if (authstore_execute_upsert("kv", &incr_plan, args, nulls) != 1)
			elog(ERROR, "authstore: increment of a key processed no row");
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(fcxt);
		edata = CopyErrorData();
		FlushErrorState();
		if (edata->context)
		{
			pfree(edata->context);
			edata->context = NULL;
		}
		ReThrowError(edata);
	}
	PG_END_TRY();

	/* the value was written by this statement: '1' or incr_value's output */
	result = strtoi64(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
					  NULL, 10);
	SPI_finish();

	PG_RETURN_INT64(result);
}

Datum
auth_kv_ttl(PG_FUNCTION_ARGS)
{
	Datum		args[1];
	TimestampTz now;
	bool		found = false;
	bool		isnull = true;
	TimestampTz expires_at = 0;
	AuthstoreDirect d;

	authstore_check_primary();
	args[0] = authstore_key_arg(fcinfo, 0, "key", false);
	now = authstore_now();

	if (authstore_direct_begin(&d, AUTHSTORE_KV, false))
	{
		found = authstore_direct_fetch(&d, args[0]);
		if (found)
		{
			Datum		e = slot_getattr(d.slot, KV_EXPIRES_AT, &isnull);

			if (!isnull)
				expires_at = DatumGetTimestampTz(e);
		}
		authstore_direct_end(&d);
	}
	else
	{
		SPI_connect();
		if (authstore_execute(&ttl_plan, args, NULL, false, 1) == 1)
		{
			Datum		e;

			/* copied before SPI_finish: timestamptz is by reference on 32-bit */
			found = true;
			e = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
			if (!isnull)
				expires_at = DatumGetTimestampTz(e);
		}
		SPI_finish();
	}

	if (!found || !(isnull || expires_at > now))
		PG_RETURN_NULL();
	if (isnull)
		PG_RETURN_FLOAT8(get_float8_infinity());
	PG_RETURN_FLOAT8((double) (expires_at - now) / USECS_PER_SEC);
}

Datum
auth_kv_expire(PG_FUNCTION_ARGS)
{
	Datum		key;
	TimestampTz now;
	TimestampTz expires_at = 0;
	bool		has_ttl;
	bool		changed;
	AuthstoreDirect d;
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};

	authstore_check_primary();
	key = authstore_key_arg(fcinfo, 0, "key", false);
	now = authstore_now();
	has_ttl = ttl_arg(fcinfo, 1, now, &expires_at);

	/* a TTL that has already run out deletes the key, as Redis' EXPIRE */
	if (has_ttl && expires_at <= now)
		PG_RETURN_BOOL(authstore_kv_delete_live(key, NULL, now));

	if (authstore_direct_begin(&d, AUTHSTORE_KV, true))
	{
		DirectOutcome found = lock_row_direct(&d, key);

		/* no row, or deleted while we waited: nothing to change */
		changed = found == DIRECT_YES &&
			authstore_direct_live(&d, KV_EXPIRES_AT, now);
		if (changed)
		{
			bool		isnull;

			/* the old value, even if toasted: heap_update keeps it */
			write_row_direct(&d, found, key,
							 slot_getattr(d.slot, KV_VALUE, &isnull),
							 has_ttl, expires_at);
		}
		authstore_direct_end(&d);
		if (found != DIRECT_UNDECIDED)
			PG_RETURN_BOOL(changed);
	}

	args[0] = key;
	args[1] = TimestampTzGetDatum(expires_at);
	args[2] = TimestampTzGetDatum(now);
	nulls[1] = has_ttl ? ' ' : 'n';
	SPI_connect();
	changed = authstore_execute(&expire_plan, args, nulls, false, 0) == 1;
	SPI_finish();

	PG_RETURN_BOOL(changed);
}

/* Count the outcome of a compare-and-set or delete-if; returns it. */
static inline bool
count_cas(bool applied)
{
	authstore_stat_add(applied ? AUTHSTORE_STAT_KV_CAS_APPLIED :
					   AUTHSTORE_STAT_KV_CAS_REJECTED, 1);
	return applied;
}

/*
 * auth_kv_compare_and_set(key, expected, value, ttl_seconds): store value
 * (with the TTL, as auth_kv_set() does) only if the key is live and holds
 * exactly expected, or, for a NULL expected, only if the key is absent or
 * expired (set-if-not-exists).  Returns whether it stored.
 *
 * A TTL that expires at once stores nothing, as with auth_kv_set(): a
 * match leaves the key absent (true), the way RustAuth's backends turn
 * compare_and_set(.., Some(0)) into delete_if_value; expecting absence then
 * changes nothing and returns false, as RustAuth's set_if_not_exists(..,
 * Some(0)) does.
 */
Datum
auth_kv_compare_and_set(PG_FUNCTION_ARGS)
{
	Datum		key;
	text	   *expected = NULL;
	Datum		value;
	TimestampTz now;
	TimestampTz expires_at = 0;
	bool		has_ttl;
	bool		applied = false;
	AuthstoreDirect d;

	authstore_check_primary();
	key = authstore_key_arg(fcinfo, 0, "key", false);
	if (!PG_ARGISNULL(1))
		expected = PG_GETARG_TEXT_PP(1);
	value = authstore_value_arg(fcinfo, 2);
	now = authstore_now();
	has_ttl = ttl_arg(fcinfo, 3, now, &expires_at);

	if (has_ttl && expires_at <= now)
		PG_RETURN_BOOL(count_cas(expected != NULL &&
								  authstore_kv_delete_live(key, expected, now)));
	authstore_quota_check(authstore_kv_row_bytes(key, value));

	if (authstore_direct_begin(&d, AUTHSTORE_KV, true))
	{
		bool		done = true;

		if (expected == NULL)
		{
			/* as auth_kv_set_if_not_exists(): a live row stays, locked */
			DirectOutcome found = lock_row_direct(&d, key);

			if (found == DIRECT_YES && authstore_direct_live(&d, KV_EXPIRES_AT, now))
				applied = false;
			else
				applied = done = found != DIRECT_UNDECIDED &&
					write_row_direct(&d, found, key, value, has_ttl, expires_at);
		}
		else if (authstore_direct_fetch(&d, key) &&
				 authstore_direct_live(&d, KV_EXPIRES_AT, now) &&
				 value_matches_direct(&d, expected))
		{
			/*
			 * As UPDATE does: a row that matches in our snapshot is locked
			 * in its latest version, which must still match (EvalPlanQual).
			 * One that does not match is left alone, unlocked.
			 */
			switch (authstore_direct_lock(&d))
			{
				case TM_Ok:
					applied = authstore_direct_live(&d, KV_EXPIRES_AT, now) &&
						value_matches_direct(&d, expected);
					/*
					 * Updating the row we locked cannot lose a race; were it
					 * ever to, the statement decides.
					 */
					if (applied &&
						!write_row_direct(&d, DIRECT_YES, key, value, has_ttl,
										  expires_at))
						done = false;
					break;
				case TM_Deleted:
					break;
				default:
					done = false;
					break;
			}
		}
		authstore_direct_end(&d);
		if (done)
			PG_RETURN_BOOL(count_cas(applied));
	}

	SPI_connect();
	if (expected == NULL)
	{
		Datum		args[4] = {key, value, TimestampTzGetDatum(expires_at),
		TimestampTzGetDatum(now)};
		char		nulls[4] = {' ', ' ', has_ttl ? ' ' : 'n', ' '};

		applied = authstore_execute_upsert("kv", &nx_plan, args, nulls) == 1;
	}
	else
	{
		Datum		args[5] = {key, value, TimestampTzGetDatum(expires_at),
		PointerGetDatum(expected), TimestampTzGetDatum(now)};
		char		nulls[5] = {' ', ' ', has_ttl ? ' ' : 'n', ' ', ' '};

		applied = authstore_execute(&cas_plan, args, nulls, false, 0) == 1;
	}
	SPI_finish();

	PG_RETURN_BOOL(count_cas(applied));
}

/*
 * auth_kv_delete_if_value(key, expected): delete the key only if it is live
 * and holds exactly expected; returns whether it deleted.  A NULL expected
 * means "the key must be absent", and deleting an absent key deletes
 * nothing: false, as RustAuth's delete_if_value(key, None) returns.
 */
Datum
auth_kv_delete_if_value(PG_FUNCTION_ARGS)
{
	Datum		key;

	authstore_check_primary();
	key = authstore_key_arg(fcinfo, 0, "key", false);
	if (PG_ARGISNULL(1))
		PG_RETURN_BOOL(count_cas(false));

	PG_RETURN_BOOL(count_cas(authstore_kv_delete_live(key, PG_GETARG_TEXT_PP(1),
													  authstore_now())));
}

/*
 * The smallest string greater than every string that starts with prefix:
 * the prefix without its trailing 0xFF bytes, last byte incremented.  NULL
 * when there is none (an empty prefix, or one of 0xFF bytes only): then
 * every key >= prefix starts with it.
 */
static text *
prefix_upper_bound(text *prefix)
{
	int			len = VARSIZE_ANY_EXHDR(prefix);
	text	   *upper;

	while (len > 0 && (unsigned char) VARDATA_ANY(prefix)[len - 1] == 0xFF)
		len--;
	if (len == 0)
		return NULL;
	upper = (text *) palloc(VARHDRSZ + len);
	SET_VARSIZE(upper, VARHDRSZ + len);
	memcpy(VARDATA(upper), VARDATA_ANY(prefix), len);
	((unsigned char *) VARDATA(upper))[len - 1]++;
	return upper;
}

/*
 * The smallest string greater than s: s followed by byte 0x01, since text
 * cannot hold a zero byte and keys compare bytewise.  Lets "after s" use
 * the same inclusive lower bound as the prefix.
 */
static text *
string_successor(text *s)
{
	int			len = VARSIZE_ANY_EXHDR(s);
	text	   *next = (text *) palloc(VARHDRSZ + len + 1);

	SET_VARSIZE(next, VARHDRSZ + len + 1);
	memcpy(VARDATA(next), VARDATA_ANY(s), len);
	VARDATA(next)[len] = '\x01';
	return next;
}

/* bytewise comparison of two texts, as COLLATE "C" compares them */
static int
text_cmp_bytes(text *a, text *b)
{
	int			alen = VARSIZE_ANY_EXHDR(a);
	int			blen = VARSIZE_ANY_EXHDR(b);
	int			r = memcmp(VARDATA_ANY(a), VARDATA_ANY(b), Min(alen, blen));

	if (r != 0)
		return r;
	return (alen > blen) - (alen < blen);
}

/*
 * auth_kv_keys(prefix [, start_after, count]): live keys under a literal
 * prefix, in key order.  The three-argument form pages through them as
 * Redis' SCAN does, but by key: start_after (NULL: from the start) is the
 * last key of the previous page, count (NULL: no limit) the page size.  A
 * page shorter than count is the last.  Unlike SCAN, a key is returned at
 * most once and keys set behind the cursor are not returned.
 */
Datum
auth_kv_keys(PG_FUNCTION_ARGS)
{
	static const char *const cols[1] = {"key"};
	static const Oid coltypes[1] = {TEXTOID};
	text	   *prefix;
	text	   *lower;
	text	   *upper;
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	int			n = 0;

	authstore_check_primary();
	prefix = DatumGetTextPP(authstore_key_arg(fcinfo, 0, "prefix", true));
	lower = prefix;
	if (PG_NARGS() >= 2 && !PG_ARGISNULL(1))
	{
		text	   *after = DatumGetTextPP(authstore_key_arg(fcinfo, 1,
															 "start_after", true));

		if (text_cmp_bytes(after, prefix) >= 0)
			lower = string_successor(after);
	}
	if (PG_NARGS() >= 3 && !PG_ARGISNULL(2) && PG_GETARG_INT32(2) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("count must not be negative")));
	upper = prefix_upper_bound(prefix);

	args[n++] = PointerGetDatum(lower);
	if (upper != NULL)
		args[n++] = PointerGetDatum(upper);
	args[n++] = TimestampTzGetDatum(authstore_now());
	if (PG_NARGS() >= 3 && !PG_ARGISNULL(2))
		args[n] = Int64GetDatum((int64) PG_GETARG_INT32(2));
	else
	{
		args[n] = (Datum) 0;
		nulls[n] = 'n';			/* LIMIT NULL: no limit */
	}

	authstore_return_rows(fcinfo, 1, cols, coltypes,
						  upper != NULL ? &keys_range_plan : &keys_from_plan,
						  args, nulls);
	return (Datum) 0;
}

/*
 * Delete every key under a literal prefix; count the live ones.  For a
 * non-empty prefix the smallest string greater than every key with that
 * prefix (last byte below 0xFF incremented) bounds the index scan.
 */
Datum
auth_kv_clear(PG_FUNCTION_ARGS)
{
	text	   *prefix;
	TimestampTz now;
	text	   *upper;
	bool		isnull;
	int64		count;

	authstore_check_primary();
	prefix = DatumGetTextPP(authstore_key_arg(fcinfo, 0, "prefix", true));
	now = authstore_now();
	upper = prefix_upper_bound(prefix);

	SPI_connect();
	if (upper != NULL)
	{
		Datum		args[3] = {PointerGetDatum(prefix), PointerGetDatum(upper),
		TimestampTzGetDatum(now)};

		authstore_execute(&clear_range_plan, args, NULL, false, 0);
	}
	else
	{
		Datum		args[2] = {PointerGetDatum(prefix), TimestampTzGetDatum(now)};

		authstore_execute(&clear_from_plan, args, NULL, false, 0);
	}
	count = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
										1, &isnull));
	SPI_finish();
	authstore_stat_add(AUTHSTORE_STAT_KV_CLEARED, (uint64) count);

	PG_RETURN_INT64(count);
}

/*
 * authstore.incr_value(value): value + 1 as text.  Like Redis, only the
 * canonical decimal form of a 64-bit integer can be incremented: an optional
 * minus sign and digits, no leading zeros, no "-0", no spaces or "+".
 */
Datum
authstore_incr_value(PG_FUNCTION_ARGS)
{
	char	   *s = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *p = s;
	int64		v = 0;
	bool		neg = false;
	bool		valid = true;
	bool		in_range = true;

	if (*p == '-')
	{
		neg = true;
		p++;
	}
	if (*p == '\0' || (*p == '0' && (neg || p[1] != '\0')))
		valid = false;
	for (; valid && *p; p++)
	{
		int			digit;

		if (*p < '0' || *p > '9')
		{
			valid = false;
			break;
		}
		digit = *p - '0';
		/* accumulate negatively: INT64_MIN has no positive counterpart */
		if (!in_range)
			continue;
		if (v < (PG_INT64_MIN + digit) / 10)
			in_range = false;
		else
			v = v * 10 - digit;
	}
	if (valid && !neg && v == PG_INT64_MIN)
		in_range = false;

	/* The key stays out of the messages: keys may be session tokens. */
	if (!valid)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("value is not an integer"),
				 errdetail("auth_kv_incr() can only increment a 64-bit decimal integer without leading zeros.")));
	if (!in_range)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value is out of range for a 64-bit integer")));
	if (!neg)
		v = -v;
	if (v == PG_INT64_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("increment would overflow")));

	PG_RETURN_TEXT_P(cstring_to_text(psprintf(INT64_FORMAT, v + 1)));
}
