/*-------------------------------------------------------------------------
 *
 * confine.c
 *	  Least privilege per service: roles confined to key prefixes, token
 *	  subject prefixes and token purposes (rows of authstore.confinement,
 *	  which a superuser inserts, updates and deletes).
 *
 * Every key, prefix, subject and purpose argument passes through
 * authstore_key_arg(), which asks authstore_confine_check() here.  The check
 * happens before a function chooses between its direct path and its
 * statement, so both paths enforce it alike.  A role with no row is not
 * confined: existing installs behave as before.
 *
 * The calling role is the outer user (the session's role after SET ROLE):
 * inside these SECURITY DEFINER functions the current user is the
 * extension's owner.  Its confinement is looked up once and kept per
 * backend until the role changes or a relcache invalidation of the table
 * arrives (its statement trigger sends one at every change; transaction
 * start processes it), so the hot path costs one comparison of role OIDs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "authstore.h"

PG_FUNCTION_INFO_V1(authstore_confinement_changed);

/* One list of allowed strings: prefixes, or exact values (purposes). */
typedef struct AllowList
{
	bool		restricted;		/* false: anything goes */
	int			n;
	char	  **items;
	int		   *lens;
} AllowList;

typedef struct Confinement
{
	bool		valid;			/* the fields below describe role */
	Oid			role;
	Oid			relid;			/* authstore.confinement, for invalidation */
	bool		confined;
	AllowList	keys;
	AllowList	subjects;
	AllowList	purposes;
} Confinement;

static Confinement conf;
static MemoryContext conf_cxt = NULL;
static bool conf_callback = false;

static void
confinement_inval(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == conf.relid)
		conf.valid = false;
}

static void
load_list(AllowList *l, Datum d, bool isnull)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	l->restricted = true;
	l->n = 0;
	if (isnull)
		return;
	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &n);
	l->items = palloc(sizeof(char *) * Max(n, 1));
	l->lens = palloc(sizeof(int) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		text	   *t;

		if (nulls[i])
			continue;
		t = DatumGetTextPP(elems[i]);
		l->lens[l->n] = VARSIZE_ANY_EXHDR(t);
		l->items[l->n] = palloc(l->lens[l->n] + 1);
		memcpy(l->items[l->n], VARDATA_ANY(t), l->lens[l->n]);
		l->n++;
	}
}

/* (Re)load the confinement of role. */
static void
load_confinement(Oid role)
{
	Oid			nsp;
	Oid			relid = InvalidOid;
	MemoryContext old;

	if (!conf_callback)
	{
		CacheRegisterRelcacheCallback(confinement_inval, (Datum) 0);
		conf_callback = true;
	}
	if (conf_cxt == NULL)
		conf_cxt = AllocSetContextCreate(TopMemoryContext, "authstore confinement",
										 ALLOCSET_SMALL_SIZES);
	MemoryContextReset(conf_cxt);
	memset(&conf, 0, sizeof(conf));

	nsp = get_namespace_oid("authstore", true);
	if (OidIsValid(nsp))
		relid = get_relname_relid("confinement", nsp);
	conf.relid = relid;
	conf.role = role;

	/* no table (0.1.0 not yet updated): nobody is confined */
	if (OidIsValid(relid))
	{
		Datum		arg = ObjectIdGetDatum(role);
		Oid			argtype = OIDOID;
		int			rc;

		SPI_connect();
		rc = SPI_execute_with_args("SELECT key_prefixes, subject_prefixes, purposes "
								   "FROM authstore.confinement "
								   "WHERE role::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
								   1, &argtype, &arg, NULL, true, 1);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "authstore: could not read authstore.confinement: %s",
				 SPI_result_code_string(rc));
		if (SPI_processed == 1)
		{
			HeapTuple	tup = SPI_tuptable->vals[0];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			Datum		d;

			old = MemoryContextSwitchTo(conf_cxt);
			conf.confined = true;
			d = SPI_getbinval(tup, desc, 1, &isnull);
			load_list(&conf.keys, d, isnull);
			d = SPI_getbinval(tup, desc, 2, &isnull);
			load_list(&conf.subjects, d, isnull);
			d = SPI_getbinval(tup, desc, 3, &isnull);
			load_list(&conf.purposes, d, isnull);
			MemoryContextSwitchTo(old);
		}
		SPI_finish();
	}
	conf.valid = true;
}

static Confinement *
current_confinement(void)
{
	Oid			role = GetOuterUserId();

	if (!conf.valid || conf.role != role)
		load_confinement(role);
	return &conf;
}

static bool
allowed(AllowList *l, text *s, bool prefix)
{
	int			len = VARSIZE_ANY_EXHDR(s);
	int			i;

	if (!l->restricted)
		return true;
	for (i = 0; i < l->n; i++)
	{
		if (prefix ? len >= l->lens[i] : len == l->lens[i])
		{
			if (memcmp(VARDATA_ANY(s), l->items[i], l->lens[i]) == 0)
				return true;
		}
	}
	return false;
}

/*
 * Refuse an argument outside the calling role's confinement.  argname says
 * what it is: "key" and "prefix" (key-value and rate-limit keys, and the
 * prefixes auth_kv_keys and auth_kv_clear take) must start with one of the
 * role's key prefixes, "subject" and "owner" (of keys: a user, like a
 * token's subject) with one of its subject prefixes, "purpose" must be one
 * of its purposes.  Others are not confined.  A prefix argument inside a
 * key prefix lists or clears only keys inside it.
 */
void
authstore_confine_check(Datum arg, const char *argname)
{
	Confinement *c = current_confinement();
	AllowList  *l;
	bool		prefix = true;
	const char *what;

	if (!c->confined)
		return;
	if (strcmp(argname, "key") == 0 || strcmp(argname, "prefix") == 0)
	{
		l = &c->keys;
		what = "keys";
	}
	else if (strcmp(argname, "subject") == 0)
	{
		l = &c->subjects;
		what = "token subjects";
	}
	else if (strcmp(argname, "owner") == 0)
	{
		/* an owner of keys is a subject too: the user they belong to */
		l = &c->subjects;
		what = "subjects (owners of keys)";
	}
	else if (strcmp(argname, "purpose") == 0)
	{
		l = &c->purposes;
		prefix = false;
		what = "token purposes";
	}
	else
		return;

	if (!allowed(l, DatumGetTextPP(arg), prefix))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for this %s", argname),
				 errdetail("Role \"%s\" is confined to some %s (authstore.confinement).",
						   GetUserNameFromId(c->role, false), what)));
}

/* Whether the calling role may see tokens of this subject. */
bool
authstore_confine_subject_allowed(text *subject)
{
	Confinement *c = current_confinement();

	return !c->confined || allowed(&c->subjects, subject, true);
}

/*
 * The calling role's key prefixes as a text[], or NULL when it is not
 * confined.  For statements that find keys by something other than the key
 * (their owner): they keep only the keys under one of these prefixes.  An
 * empty array (key_prefixes NULL or empty) keeps none.
 */
ArrayType *
authstore_confine_key_prefixes(void)
{
	Confinement *c = current_confinement();
	Datum	   *elems;
	int			i;

	if (!c->confined)
		return NULL;
	elems = palloc(sizeof(Datum) * Max(c->keys.n, 1));
	for (i = 0; i < c->keys.n; i++)
		elems[i] = PointerGetDatum(cstring_to_text_with_len(c->keys.items[i],
															c->keys.lens[i]));
	return construct_array(elems, c->keys.n, TEXTOID, -1, false, TYPALIGN_INT);
}

/* Whether the calling role is confined to some token subjects or purposes. */
bool
authstore_confine_tokens(void)
{
	Confinement *c = current_confinement();

	return c->confined;
}

/*
 * Trigger function on authstore.confinement: every backend forgets the
 * confinements it knows when the table changes (at commit).
 */
Datum
authstore_confinement_changed(PG_FUNCTION_ARGS)
{
	Oid			nsp = get_namespace_oid("authstore", false);

	CacheInvalidateRelcacheByRelid(get_relname_relid("confinement", nsp));
	return PointerGetDatum(NULL);
}
