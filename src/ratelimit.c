/*-------------------------------------------------------------------------
 *
 * ratelimit.c
 *	  auth_rl_hit and auth_rl_reset: Better Auth 1.7's atomic fixed-window
 *	  "consume" over the unlogged table authstore.rate_limit.
 *
 * With elapsed = now - last_hit, one hit is decided as follows:
 *	 no state                 -> hits = 1, last_hit = now, allowed
 *	 elapsed >= window        -> hits = 1, last_hit = now, allowed (reset)
 *	 hits >= max              -> denied, state unchanged,
 *								 retry_after = last_hit + window - now
 *	 otherwise                -> hits += 1, last_hit = now, allowed
 *
 * The whole decision is one INSERT ... ON CONFLICT DO UPDATE, so the row
 * lock it takes serializes concurrent hits on a key: none is lost and no
 * more are allowed than the sequential algorithm would allow.  The direct
 * path (direct.c) takes the same row lock and makes the same decision
 * without the executor, and inserts a new key's state speculatively as ON
 * CONFLICT does.  A denied hit writes nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/memutils.h"

#include "authstore.h"

PG_FUNCTION_INFO_V1(auth_rl_hit);
PG_FUNCTION_INFO_V1(auth_rl_reset);

/*
 * $1 key, $2 now, $3 now + window, $4 now - window, $5 max.
 * "elapsed >= window" is "last_hit <= now - window".  In SET and WHERE, r.*
 * are the values before this hit.  A denied hit updates nothing (no row is
 * returned) but ON CONFLICT still locks the row, so state_plan then reads
 * the state it was denied on.  "now" is read before the row lock is waited
 * for, so a hit that waited may carry an earlier time than the hit it waited
 * for: GREATEST (syntax, not a function: no search_path lookup) keeps
 * last_hit from moving backwards, which would open the next window early.
 */
static AuthstorePlan hit_plan = {
	"INSERT INTO authstore.rate_limit AS r (key, hits, last_hit, window_end) "
	"VALUES ($1, 1, $2, $3) "
	"ON CONFLICT (key) DO UPDATE SET "
	"hits = CASE WHEN r.last_hit OPERATOR(pg_catalog.<=) $4 THEN 1 "
	"ELSE r.hits OPERATOR(pg_catalog.+) 1 END, "
	"last_hit = GREATEST(r.last_hit, $2), "
	"window_end = GREATEST(r.window_end, $3) "
	"WHERE NOT (r.last_hit OPERATOR(pg_catalog.>) $4 AND r.hits OPERATOR(pg_catalog.>=) $5) "
	"RETURNING hits, last_hit",
	5, {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT4OID}
};

/*
 * The state a denied hit saw: the row is locked by this transaction, so no
 * other version can have appeared since (in REPEATABLE READ, ON CONFLICT
 * has already failed if the locked version was not visible).
 */
static AuthstorePlan state_plan = {
	"SELECT hits, last_hit FROM authstore.rate_limit WHERE key OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}
};

static AuthstorePlan reset_plan = {
	"DELETE FROM authstore.rate_limit WHERE key OPERATOR(pg_catalog.=) $1 "
	"AND window_end OPERATOR(pg_catalog.>) $2",
	2, {TEXTOID, TIMESTAMPTZOID}
};

/*
 * The result row type (allowed, count, remaining, retry_after), built once
 * per backend: fn_extra lives only as long as one execution of the calling
 * query, and rebuilding the descriptor from the catalog each time showed in
 * profiles.  The OUT parameters in the install script must match.
 */
static TupleDesc
hit_result_desc(void)
{
	static TupleDesc tupdesc = NULL;

	if (tupdesc == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		TupleDesc	desc = CreateTemplateTupleDesc(4);

		TupleDescInitEntry(desc, 1, "allowed", BOOLOID, -1, 0);
		TupleDescInitEntry(desc, 2, "count", INT4OID, -1, 0);
		TupleDescInitEntry(desc, 3, "remaining", INT4OID, -1, 0);
		TupleDescInitEntry(desc, 4, "retry_after", FLOAT8OID, -1, 0);
		tupdesc = BlessTupleDesc(desc);
		MemoryContextSwitchTo(old);
	}
	return tupdesc;
}

/*
 * The hit decided with the direct path; false when the statement must
 * decide.  Same decision as hit_plan: from the locked latest version, or
 * for a key without state (or that lost it while we waited) a new row.
 */
static bool
hit_direct(Datum key, TimestampTz now, int64 window, int32 max,
		   int32 *hits, TimestampTz *last_hit, bool *denied)
{
	AuthstoreDirect d;
	TM_Result	result;
	bool		isnull;
	int32		old_hits;
	TimestampTz old_last_hit;
	TimestampTz old_window_end;

	if (!authstore_direct_begin(&d, AUTHSTORE_RATE_LIMIT, true))
		return false;
	if (!authstore_direct_fetch(&d, key) ||
		(result = authstore_direct_lock(&d)) == TM_Deleted)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};
		bool		inserted;

		*denied = false;
		*hits = 1;
		*last_hit = now;
		values[0] = key;
		values[RL_HITS - 1] = Int32GetDatum(1);
		values[RL_LAST_HIT - 1] = TimestampTzGetDatum(now);
		values[RL_WINDOW_END - 1] = TimestampTzGetDatum(now + window);
		inserted = authstore_direct_insert(&d, values, nulls, true);
		authstore_direct_end(&d);
		return inserted;
	}
	if (result != TM_Ok)
	{
		authstore_direct_end(&d);
		return false;
	}

	old_hits = DatumGetInt32(slot_getattr(d.slot, RL_HITS, &isnull));
	old_last_hit = DatumGetTimestampTz(slot_getattr(d.slot, RL_LAST_HIT, &isnull));
	old_window_end = DatumGetTimestampTz(slot_getattr(d.slot, RL_WINDOW_END, &isnull));

	*denied = old_last_hit > now - window && old_hits >= max;
	if (*denied)
	{
		/* state unchanged: the row lock alone orders us among the hits */
		*hits = old_hits;
		*last_hit = old_last_hit;
	}
	else
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		*hits = old_last_hit <= now - window ? 1 : old_hits + 1;
		*last_hit = Max(old_last_hit, now);
		values[0] = key;
		values[RL_HITS - 1] = Int32GetDatum(*hits);
		values[RL_LAST_HIT - 1] = TimestampTzGetDatum(*last_hit);
		values[RL_WINDOW_END - 1] = TimestampTzGetDatum(Max(old_window_end, now + window));
		authstore_direct_update(&d, values, nulls);
	}
	authstore_direct_end(&d);
	return true;
}

Datum
auth_rl_hit(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		args[5];
	TimestampTz now;
	int64		window;
	int32		max;
	int32		hits;
	TimestampTz last_hit;
	bool		denied;
	bool		isnull;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	Size		rl_bytes;

	authstore_check_primary();
	args[0] = authstore_key_arg(fcinfo, 0, "key", false);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("window_seconds must not be null")));
	window = authstore_seconds_to_usecs(PG_GETARG_FLOAT8(1), "window_seconds", false);
	if (window == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window_seconds must be at least one microsecond")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("max must not be null")));
	max = PG_GETARG_INT32(2);
	if (max <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max must be greater than zero")));
	tupdesc = hit_result_desc();

	now = authstore_now();
	args[1] = TimestampTzGetDatum(now);
	args[2] = TimestampTzGetDatum(now + window);
	args[3] = TimestampTzGetDatum(now - window);
	args[4] = Int32GetDatum(max);

	/*
	 * Over the quota a hit may still count in its key's existing row (and a
	 * denial changes nothing at all), but not create a row.  Whether the row
	 * exists is asked only then, by a statement, on either path.
	 */
	rl_bytes = AUTHSTORE_RL_ROW_BYTES(VARSIZE_ANY_EXHDR(DatumGetPointer(args[0])));
	if (authstore_quota_over(rl_bytes))
	{
		bool		exists;

		SPI_connect();
		exists = authstore_execute(&state_plan, args, NULL, false, 1) == 1;
		SPI_finish();
		if (!exists)
			authstore_quota_refuse();
	}
	else
		authstore_quota_admit(rl_bytes);

	if (!hit_direct(args[0], now, window, max, &hits, &last_hit, &denied))
	{
		SPI_connect();
		denied = authstore_execute_upsert("rate_limit", &hit_plan, args, NULL) != 1;
		if (denied && authstore_execute(&state_plan, args, NULL, false, 0) != 1)
			elog(ERROR, "authstore: rate-limit state of a denied hit not found");
		hits = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		last_hit = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		SPI_finish();
	}

	authstore_stat_add(denied ? AUTHSTORE_STAT_RL_DENIED : AUTHSTORE_STAT_RL_ALLOWED, 1);
	values[0] = BoolGetDatum(!denied);
	values[1] = Int32GetDatum(hits);
	values[2] = Int32GetDatum(hits >= max ? 0 : max - hits);
	/* when denied, last_hit + window - now = last_hit - (now - window) */
	values[3] = Float8GetDatum(denied ?
							   (double) (last_hit - (now - window)) / USECS_PER_SEC : 0.0);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* Forget a key's state; true when it still had an effect (inside its window). */
Datum
auth_rl_reset(PG_FUNCTION_ARGS)
{
	Datum		args[2];
	bool		deleted;
	AuthstoreDirect d;

	authstore_check_primary();
	args[0] = authstore_key_arg(fcinfo, 0, "key", false);
	args[1] = TimestampTzGetDatum(authstore_now());

	if (authstore_direct_begin(&d, AUTHSTORE_RATE_LIMIT, true))
	{
		TM_Result	result = TM_Ok;
		bool		isnull;

		deleted = false;
		if (authstore_direct_fetch(&d, args[0]) &&
			DatumGetTimestampTz(slot_getattr(d.slot, RL_WINDOW_END, &isnull)) >
			DatumGetTimestampTz(args[1]))
		{
			result = authstore_direct_delete(&d);
			deleted = result == TM_Ok;
		}
		authstore_direct_end(&d);
		/* TM_Updated: a hit changed it meanwhile; the statement re-checks */
		if (result == TM_Ok || result == TM_Deleted)
			authstore_stat_add(AUTHSTORE_STAT_RL_RESET, deleted ? 1 : 0);
		if (result == TM_Ok || result == TM_Deleted)
			PG_RETURN_BOOL(deleted);
	}

	SPI_connect();
	deleted = authstore_execute(&reset_plan, args, NULL, false, 0) == 1;
	SPI_finish();
	authstore_stat_add(AUTHSTORE_STAT_RL_RESET, deleted ? 1 : 0);

	PG_RETURN_BOOL(deleted);
}
