/*-------------------------------------------------------------------------
 *
 * admin.c
 *	  Administrative functions: auth_set_durable, which switches the storage
 *	  tables between UNLOGGED and LOGGED.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "authstore.h"

PG_FUNCTION_INFO_V1(auth_set_durable);

static const char *const storage_tables[] = {"kv", "rate_limit", "token"};

/*
 * Unlogged tables are fast but emptied after a crash and absent on
 * replicas; logged ones survive crashes and replicate.  ALTER TABLE ... SET
 * [UN]LOGGED rewrites each table under an ACCESS EXCLUSIVE lock, all in the
 * caller's transaction.  Returns whether the tables are now logged.
 */
Datum
auth_set_durable(PG_FUNCTION_ARGS)
{
	bool		durable;
	int			i;

	authstore_check_primary();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("durable must not be null")));
	durable = PG_GETARG_BOOL(0);

	SPI_connect();
	for (i = 0; i < lengthof(storage_tables); i++)
	{
		char	   *sql = psprintf("ALTER TABLE authstore.%s SET %s",
								   storage_tables[i], durable ? "LOGGED" : "UNLOGGED");

		if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "authstore: \"%s\" failed", sql);
		pfree(sql);
	}
	SPI_finish();

	PG_RETURN_BOOL(durable);
}
