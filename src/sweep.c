/*-------------------------------------------------------------------------
 *
 * sweep.c
 *	  Deletion of expired key-value rows and idle rate-limit state: the
 *	  SQL function auth_kv_sweep() and the batches the background worker runs.
 *	  Expired one-time tokens go the same way.
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

static AuthstorePlan sweep_token_plan = {
	"DELETE FROM authstore.token WHERE ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
	"SELECT ctid FROM authstore.token WHERE expires_at OPERATOR(pg_catalog.<=) $1 "
	"ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)) "
	"AND expires_at OPERATOR(pg_catalog.<=) $1",
	2, {TIMESTAMPTZOID, INT8OID}
};

static AuthstorePlan *const sweep_plans[] = {
	&sweep_kv_plan, &sweep_rl_plan, &sweep_token_plan
};

/*
 * Delete up to max_rows (< 0: all) expired rows: key-value rows, then idle
 * rate-limit state (unless !rate_limit_too), then expired tokens.  Runs between SPI_connect() and
 * SPI_finish().  Returns the rows deleted.
 */
uint64
authstore_sweep(TimestampTz now, int64 max_rows, bool rate_limit_too)
{
	Datum		args[2];
	char		nulls[2] = {' ', 'n'};
	uint64		deleted = 0;
	int			i;

	args[0] = TimestampTzGetDatum(now);
	args[1] = (Datum) 0;

	for (i = 0; i < lengthof(sweep_plans); i++)
	{
		if (sweep_plans[i] == &sweep_rl_plan && !rate_limit_too)
			continue;
		if (max_rows >= 0)
		{
			if (deleted >= (uint64) max_rows)
				break;
			args[1] = Int64GetDatum(max_rows - (int64) deleted);
			nulls[1] = ' ';
		}
		deleted += authstore_execute(sweep_plans[i], args, nulls, false, 0);
	}

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
	deleted = authstore_sweep(authstore_now(), max_rows, true);
	SPI_finish();

	PG_RETURN_INT64((int64) deleted);
}
