/*-------------------------------------------------------------------------
 *
 * sweep.c
 *	  Deletion of expired key-value rows and idle rate-limit state: the
 *	  SQL function auth_kv_sweep() and the batches the background worker runs.
 *
 * Rows are picked with FOR UPDATE SKIP LOCKED, so a sweep never waits for an
 * application transaction, and re-checked under the row lock, so a row made
 * live again by a concurrent auth_kv_set() is left alone.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"

#include "authstore.h"

PG_FUNCTION_INFO_V1(auth_kv_sweep);

/* $1 now, $2 at most this many rows (NULL: no limit) */
static AuthstorePlan sweep_kv_plan = {
	"DELETE FROM authstore.kv WHERE ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
	"SELECT ctid FROM authstore.kv WHERE expires_at OPERATOR(pg_catalog.<=) $1 "
	"ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)) "
	"AND expires_at OPERATOR(pg_catalog.<=) $1",
	2, {TIMESTAMPTZOID, INT8OID}
};

static AuthstorePlan sweep_rl_plan = {
	"DELETE FROM authstore.rate_limit WHERE ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
	"SELECT ctid FROM authstore.rate_limit WHERE window_end OPERATOR(pg_catalog.<=) $1 "
	"LIMIT $2 FOR UPDATE SKIP LOCKED)) "
	"AND window_end OPERATOR(pg_catalog.<=) $1",
	2, {TIMESTAMPTZOID, INT8OID}
};

/*
 * Delete up to max_rows (< 0: all) expired rows, key-value rows first.
 * Runs between SPI_connect() and SPI_finish().  Returns the rows deleted.
 */
uint64
authstore_sweep(TimestampTz now, int64 max_rows)
{
	Datum		args[2];
	char		nulls[2] = {' ', ' '};
	uint64		deleted;

	args[0] = TimestampTzGetDatum(now);
	args[1] = Int64GetDatum(max_rows);
	if (max_rows < 0)
		nulls[1] = 'n';

	deleted = authstore_execute(&sweep_kv_plan, args, nulls, false, 0);

	if (max_rows >= 0)
	{
		if (deleted >= (uint64) max_rows)
			return deleted;
		args[1] = Int64GetDatum(max_rows - deleted);
	}
	deleted += authstore_execute(&sweep_rl_plan, args, nulls, false, 0);

	return deleted;
}

Datum
auth_kv_sweep(PG_FUNCTION_ARGS)
{
	int64		max_rows = -1;
	uint64		deleted;

	authstore_check_primary();
	if (!PG_ARGISNULL(0))
	{
		max_rows = PG_GETARG_INT32(0);
		if (max_rows < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_rows must not be negative"),
					 errhint("Pass NULL to delete every expired row.")));
	}

	SPI_connect();
	deleted = authstore_sweep(authstore_now(), max_rows);
	SPI_finish();

	PG_RETURN_INT64((int64) deleted);
}
