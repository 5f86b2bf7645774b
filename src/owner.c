/*-------------------------------------------------------------------------
 *
 * owner.c
 *	  Keys with an owner (issue 12): auth_kv_set_owned, auth_kv_owner_keys
 *	  and auth_kv_owner_delete over authstore.kv's owner column and its
 *	  partial index kv_owner_idx.
 *
 * An owner is whoever a key belongs to, typically the user of a session
 * token.  Listing and deleting an owner's keys through the index is exact
 * by construction, unlike a list kept in another key by read-modify-write,
 * which concurrent writers overwrite (Better Auth's active-sessions-<user>,
 * the hole issue 12 measured).
 *
 * The other key-value functions (kv.c) leave a key's owner as it is; their
 * statements do not name the column, so that they also run on a table of
 * 0.1.0 not yet updated.  auth_kv_set_owned() replaces value, expiry and
 * owner at once.  auth_kv_owner_delete() is one DELETE: in READ COMMITTED,
 * every key the owner had when it started is deleted (a concurrent writer
 * of one of them is waited for and the owner re-checked on its latest
 * version), and a key set for the owner by a transaction that commits
 * after it started survives, as if set after the delete.
 *
 * Confinement: the owner is checked as a subject (authstore.confinement's
 * subject_prefixes), and since these functions find keys by their owner,
 * not by key, a confined role sees and deletes only those of the owner's
 * keys that are under its key_prefixes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "authstore.h"

PG_FUNCTION_INFO_V1(auth_kv_set_owned);
PG_FUNCTION_INFO_V1(auth_kv_owner_keys);
PG_FUNCTION_INFO_V1(auth_kv_owner_delete);

#define LIVE(expires_col, now_param) \
	"(" expires_col " IS NULL OR " expires_col " OPERATOR(pg_catalog.>) " now_param ")"

/* keys under one of the prefixes in the text[] param; NULL: any key */
#define UNDER(prefixes_param) \
	"(" prefixes_param "::pg_catalog.text[] IS NULL OR EXISTS (SELECT FROM " \
	"pg_catalog.unnest(" prefixes_param "::pg_catalog.text[]) AS p(prefix) " \
	"WHERE pg_catalog.starts_with(key, p.prefix)))"

static AuthstorePlan upsert_owned_plan = {
	"INSERT INTO authstore.kv AS t (key, value, expires_at, owner) VALUES ($1, $2, $3, $4) "
	"ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, "
	"expires_at = EXCLUDED.expires_at, owner = EXCLUDED.owner",
	4, {TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID}
};

static AuthstorePlan owner_keys_plan = {
	"SELECT key, expires_at FROM authstore.kv "
	"WHERE owner OPERATOR(pg_catalog.=) $1 AND " LIVE("expires_at", "$2") " "
	"AND " UNDER("$3") " ORDER BY key",
	3, {TEXTOID, TIMESTAMPTZOID, TEXTARRAYOID}
};

/* Deletes expired keys of the owner too, but counts only the live ones. */
static AuthstorePlan owner_delete_plan = {
	"WITH d AS (DELETE FROM authstore.kv "
	"WHERE owner OPERATOR(pg_catalog.=) $1 AND " UNDER("$3") " "
	"RETURNING expires_at) "
	"SELECT pg_catalog.count(*) FROM d WHERE " LIVE("expires_at", "$2"),
	3, {TEXTOID, TIMESTAMPTZOID, TEXTARRAYOID}
};

/* The owner argument: not empty, not too long, within the confinement. */
static Datum
owner_arg(FunctionCallInfo fcinfo, int argno)
{
	return authstore_key_arg(fcinfo, argno, "owner", false);
}

/* The calling role's key prefixes as a parameter (NULL: unconfined). */
static void
prefixes_param(Datum *value, char *null)
{
	ArrayType  *prefixes = authstore_confine_key_prefixes();

	*value = PointerGetDatum(prefixes);
	*null = prefixes == NULL ? 'n' : ' ';
}

/*
 * Insert or overwrite key's row directly (see direct.c), with every column
 * given.  false: the statement must decide (a concurrent inserter, or the
 * row changed in a way the statement re-checks).
 */
static bool
set_owned_direct(Datum *values, bool *nulls)
{
	AuthstoreDirect d;
	bool		done = false;

	if (!authstore_direct_begin(&d, AUTHSTORE_KV, true))
		return false;
	if (!authstore_direct_fetch(&d, values[0]))
		done = authstore_direct_insert(&d, values, nulls, true);
	else
	{
		switch (authstore_direct_lock(&d))
		{
			case TM_Ok:
				authstore_direct_update(&d, values, nulls);
				done = true;
				break;
			case TM_Deleted:
				/* deleted while we waited: a new row, as ON CONFLICT would */
				done = authstore_direct_insert(&d, values, nulls, true);
				break;
			default:
				break;
		}
	}
	authstore_direct_end(&d);
	return done;
}

/*
 * auth_kv_set_owned(key, value, owner, ttl_seconds): auth_kv_set() that
 * also records the key's owner (NULL: no owner).  A TTL that expires at
 * once leaves the key absent, as auth_kv_set() does.
 */
Datum
auth_kv_set_owned(PG_FUNCTION_ARGS)
{
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	char		spi_nulls[4] = {' ', ' ', ' ', ' '};
	TimestampTz now;
	TimestampTz expires_at = 0;

	authstore_check_primary();
	values[0] = authstore_key_arg(fcinfo, 0, "key", false);
	values[1] = authstore_value_arg(fcinfo, 1);
	if (PG_ARGISNULL(2))
	{
		values[3] = (Datum) 0;
		nulls[3] = true;
	}
	else
		values[3] = owner_arg(fcinfo, 2);
	now = authstore_now();
	if (PG_ARGISNULL(3))
		nulls[2] = true;
	else
		expires_at = now + authstore_seconds_to_usecs(PG_GETARG_FLOAT8(3),
													  "ttl_seconds", true);
	values[2] = TimestampTzGetDatum(expires_at);
	if (!nulls[2] && expires_at <= now)
	{
		/* already expired: the key ends up absent, as with auth_kv_set() */
		(void) authstore_kv_delete_live(values[0], NULL, now);
		authstore_count(KV_SET);
		PG_RETURN_VOID();
	}

	authstore_quota_check(authstore_kv_row_bytes(values[0], values[1]) +
						  (nulls[3] ? 0 :
						   AUTHSTORE_OWNER_BYTES(VARSIZE_ANY_EXHDR(DatumGetPointer(values[3])))));
	authstore_count(KV_SET);

	if (!set_owned_direct(values, nulls))
	{
		int			i;

		for (i = 0; i < 4; i++)
			spi_nulls[i] = nulls[i] ? 'n' : ' ';
		SPI_connect();
		authstore_execute_upsert("kv", &upsert_owned_plan, values, spi_nulls);
		SPI_finish();
	}

	PG_RETURN_VOID();
}

/*
 * auth_kv_owner_keys(owner): the owner's live keys in key order, each with
 * its expiry (NULL: never expires).
 */
Datum
auth_kv_owner_keys(PG_FUNCTION_ARGS)
{
	static const char *const cols[2] = {"key", "expires_at"};
	static const Oid coltypes[2] = {TEXTOID, TIMESTAMPTZOID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};

	authstore_check_primary();
	args[0] = owner_arg(fcinfo, 0);
	args[1] = TimestampTzGetDatum(authstore_now());
	prefixes_param(&args[2], &nulls[2]);

	authstore_return_rows(fcinfo, 2, cols, coltypes, &owner_keys_plan, args, nulls);
	return (Datum) 0;
}

/*
 * auth_kv_owner_delete(owner): delete every key of the owner in one
 * statement; returns how many of them were live.
 */
Datum
auth_kv_owner_delete(PG_FUNCTION_ARGS)
{
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	bool		isnull;
	int64		count;

	authstore_check_primary();
	args[0] = owner_arg(fcinfo, 0);
	args[1] = TimestampTzGetDatum(authstore_now());
	prefixes_param(&args[2], &nulls[2]);

	SPI_connect();
	authstore_execute(&owner_delete_plan, args, nulls, false, 0);
	count = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
										1, &isnull));
	SPI_finish();
	authstore_stat_add(AUTHSTORE_STAT_KV_CLEARED, (uint64) count);

	PG_RETURN_INT64(count);
}
