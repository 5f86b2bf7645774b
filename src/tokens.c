/*-------------------------------------------------------------------------
 *
 * tokens.c
 *	  One-time tokens: auth_token_issue/verify/consume/revoke over the
 *	  unlogged table authstore.token.
 *
 * A token is 32 bytes from libsodium's CSPRNG, handed out as 43 characters
 * of URL-safe base64 without padding.  Only SHA-256 of that string is
 * stored, so a leaked table reveals no usable token.  A token is found by
 * an index lookup on its hash; a malformed token is simply not found.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sodium.h>

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "authstore.h"

PG_FUNCTION_INFO_V1(auth_token_issue);
PG_FUNCTION_INFO_V1(auth_token_verify);
PG_FUNCTION_INFO_V1(auth_token_consume);
PG_FUNCTION_INFO_V1(auth_token_revoke);

#define TOKEN_RAW_BYTES 32
#define TOKEN_CHARS 43			/* base64 of 32 bytes, no padding */
#define TOKEN_HASH_BYTES crypto_hash_sha256_BYTES

static AuthstorePlan issue_plan = {
	"INSERT INTO authstore.token (hash, subject, purpose, expires_at) "
	"VALUES ($1, $2, $3, $4)",
	4, {BYTEAOID, TEXTOID, TEXTOID, TIMESTAMPTZOID}
};

static AuthstorePlan verify_plan = {
	"SELECT subject FROM authstore.token WHERE hash OPERATOR(pg_catalog.=) $1 "
	"AND purpose OPERATOR(pg_catalog.=) $2 AND expires_at OPERATOR(pg_catalog.>) $3",
	3, {BYTEAOID, TEXTOID, TIMESTAMPTZOID}
};

static AuthstorePlan consume_plan = {
	"DELETE FROM authstore.token WHERE hash OPERATOR(pg_catalog.=) $1 "
	"AND purpose OPERATOR(pg_catalog.=) $2 AND expires_at OPERATOR(pg_catalog.>) $3 "
	"RETURNING subject",
	3, {BYTEAOID, TEXTOID, TIMESTAMPTZOID}
};

/* Every token of a subject goes; the live ones are counted. */
static AuthstorePlan revoke_all_plan = {
	"WITH d AS (DELETE FROM authstore.token WHERE subject OPERATOR(pg_catalog.=) $1 "
	"RETURNING expires_at) "
	"SELECT pg_catalog.count(*) FROM d WHERE expires_at OPERATOR(pg_catalog.>) $2",
	2, {TEXTOID, TIMESTAMPTZOID}
};

static AuthstorePlan revoke_purpose_plan = {
	"WITH d AS (DELETE FROM authstore.token WHERE subject OPERATOR(pg_catalog.=) $1 "
	"AND purpose OPERATOR(pg_catalog.=) $3 RETURNING expires_at) "
	"SELECT pg_catalog.count(*) FROM d WHERE expires_at OPERATOR(pg_catalog.>) $2",
	3, {TEXTOID, TIMESTAMPTZOID, TEXTOID}
};

/*
 * SHA-256 of a token string as a bytea, or NULL when the string cannot be a
 * token (wrong length or a character outside the URL-safe alphabet).  All
 * malformed input ends the same way as a wrong token: not found.
 */
static bytea *
token_hash(text *token)
{
	const unsigned char *s = (const unsigned char *) VARDATA_ANY(token);
	int			len = VARSIZE_ANY_EXHDR(token);
	bytea	   *hash;
	int			i;

	if (len != TOKEN_CHARS)
		return NULL;
	for (i = 0; i < len; i++)
	{
		unsigned char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return NULL;
	}

	hash = (bytea *) palloc(VARHDRSZ + TOKEN_HASH_BYTES);
	SET_VARSIZE(hash, VARHDRSZ + TOKEN_HASH_BYTES);
	crypto_hash_sha256((unsigned char *) VARDATA(hash), s, len);
	return hash;
}

/* A subject or purpose argument: not NULL, not empty, within the key limit. */
static Datum
name_arg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	return authstore_key_arg(fcinfo, argno, argname, false);
}

Datum
auth_token_issue(PG_FUNCTION_ARGS)
{
	unsigned char raw[TOKEN_RAW_BYTES];
	char		encoded[TOKEN_CHARS + 1];
	Datum		args[4];
	TimestampTz now;
	text	   *token;
	AuthstoreDirect d;

	authstore_check_primary();
	args[1] = name_arg(fcinfo, 0, "subject");
	args[2] = name_arg(fcinfo, 1, "purpose");
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("ttl_seconds must not be null"),
				 errdetail("Every token expires.")));
	now = authstore_now();
	args[3] = TimestampTzGetDatum(now +
								  authstore_seconds_to_usecs(PG_GETARG_FLOAT8(2),
															 "ttl_seconds", false));
	if (DatumGetTimestampTz(args[3]) <= now)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ttl_seconds must be at least one microsecond")));

	authstore_quota_check(AUTHSTORE_TOKEN_ROW_BYTES(VARSIZE_ANY_EXHDR(DatumGetPointer(args[1])),
												   VARSIZE_ANY_EXHDR(DatumGetPointer(args[2]))));

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(encoded, sizeof(encoded), raw, sizeof(raw),
					  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	token = cstring_to_text_with_len(encoded, TOKEN_CHARS);
	sodium_memzero(encoded, sizeof(encoded));

	args[0] = PointerGetDatum(token_hash(token));

	/* a plain insert: 256 random bits do not collide */
	if (authstore_direct_begin(&d, AUTHSTORE_TOKEN, true))
	{
		bool		nulls[4] = {false, false, false, false};

		authstore_direct_insert(&d, args, nulls, false);
		authstore_direct_end(&d);
	}
	else
	{
		SPI_connect();
		authstore_execute(&issue_plan, args, NULL, false, 0);
		SPI_finish();
	}

	authstore_count(TOKEN_ISSUED);
	PG_RETURN_TEXT_P(token);
}

/*
 * verify and consume with the direct path: true when decided, with *result
 * the subject (or NULL).  The row must match purpose (bytewise, as COLLATE
 * "C" compares) and be live.
 */
static bool
token_lookup_direct(Datum hash, text *purpose, TimestampTz now, bool consume,
					Datum *result, bool *isnull)
{
	AuthstoreDirect d;
	bool		decided = true;

	if (!authstore_direct_begin(&d, AUTHSTORE_TOKEN, consume))
		return false;
	*isnull = true;
	if (authstore_direct_fetch(&d, hash) &&
		authstore_direct_live(&d, TOKEN_EXPIRES_AT, now))
	{
		bool		null;
		text	   *stored = DatumGetTextPP(slot_getattr(d.slot, TOKEN_PURPOSE, &null));

		if (VARSIZE_ANY_EXHDR(stored) == VARSIZE_ANY_EXHDR(purpose) &&
			memcmp(VARDATA_ANY(stored), VARDATA_ANY(purpose),
				   VARSIZE_ANY_EXHDR(purpose)) == 0)
		{
			*result = authstore_direct_copy(&d, TOKEN_SUBJECT);
			*isnull = false;
			if (consume)
			{
				switch (authstore_direct_delete(&d))
				{
					case TM_Ok:
						break;
					case TM_Deleted:
						/* consumed (or revoked) by someone else first */
						*isnull = true;
						break;
					default:
						decided = false;
						break;
				}
			}
		}
	}
	authstore_direct_end(&d);
	return decided;
}

/* verify and consume: the subject of a live token of that purpose, or NULL */
static Datum
token_lookup(FunctionCallInfo fcinfo, AuthstorePlan *plan, bool consume)
{
	Datum		args[3];
	bytea	   *hash;
	Datum		result = (Datum) 0;
	bool		isnull;

	authstore_check_primary();
	args[1] = name_arg(fcinfo, 1, "purpose");
	if (PG_ARGISNULL(0))
		authstore_count_token(consume, false);
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	hash = token_hash(PG_GETARG_TEXT_PP(0));
	if (hash == NULL)
		authstore_count_token(consume, false);
	if (hash == NULL)
		PG_RETURN_NULL();
	args[0] = PointerGetDatum(hash);
	args[2] = TimestampTzGetDatum(authstore_now());

	/*
	 * A role confined to some subjects sees no token of another subject: it
	 * verifies first (a token's subject never changes), and consumes only a
	 * token it may see.
	 */
	if (authstore_confine_tokens())
	{
		if (!token_lookup_direct(args[0], DatumGetTextPP(args[1]),
								 DatumGetTimestampTz(args[2]), false,
								 &result, &isnull))
			result = authstore_execute_text(&verify_plan, args, &isnull);
		if (isnull || !authstore_confine_subject_allowed(DatumGetTextPP(result)))
			PG_RETURN_NULL();
		if (!consume)
			PG_RETURN_DATUM(result);
	}

	if (!token_lookup_direct(args[0], DatumGetTextPP(args[1]),
							 DatumGetTimestampTz(args[2]), consume,
							 &result, &isnull))
		result = authstore_execute_text(plan, args, &isnull);
	authstore_count_token(consume, !isnull);

	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

Datum
auth_token_verify(PG_FUNCTION_ARGS)
{
	return token_lookup(fcinfo, &verify_plan, false);
}

/*
 * The DELETE's row lock lets exactly one of concurrent consumers have the
 * token; a rolled-back consume leaves it valid.
 */
Datum
auth_token_consume(PG_FUNCTION_ARGS)
{
	return token_lookup(fcinfo, &consume_plan, true);
}

Datum
auth_token_revoke(PG_FUNCTION_ARGS)
{
	Datum		args[3];
	bool		isnull;
	int64		count;

	authstore_check_primary();
	args[0] = name_arg(fcinfo, 0, "subject");
	args[1] = TimestampTzGetDatum(authstore_now());
	if (!PG_ARGISNULL(1))
		args[2] = name_arg(fcinfo, 1, "purpose");
	else if (authstore_confine_tokens())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to revoke tokens of every purpose"),
				 errdetail("This role is confined to some token purposes (authstore.confinement)."),
				 errhint("Revoke one purpose at a time.")));

	SPI_connect();
	authstore_execute(PG_ARGISNULL(1) ? &revoke_all_plan : &revoke_purpose_plan,
					  args, NULL, false, 0);
	count = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
										1, &isnull));
	SPI_finish();
	authstore_stat_add(AUTHSTORE_STAT_TOKEN_REVOKED, (uint64) count);

	PG_RETURN_INT64(count);
}
