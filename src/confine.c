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
 * Two roles are checked: the session user (who logged in) and the outer
 * user (the role after SET ROLE; inside these SECURITY DEFINER functions the
 * current user is the extension's owner).  An argument must pass the
 * confinement of both, so a confined login cannot shed its confinement with
 * SET ROLE authstore_user (or any other unconfined role it is a member of),
 * and an unconfined session that sets a confined role is confined.  Each
 * role's confinement is looked up once and kept per backend until the role
 * changes or a relcache invalidation of the table arrives (its statement
 * trigger sends one at every change; transaction start processes it), so
 * the hot path costs two comparisons of role OIDs.
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

/* [0]: the session user's, [1]: the outer user's */
static Confinement conf[2];
static MemoryContext conf_cxt[2];
static bool conf_callback = false;

/*
 * Forget what we know at any change of the table.  Without the table (an
 * install not yet updated from 0.1.0) any invalidation counts: the update
 * creates the table, and a row inserted later must be seen, though its
 * trigger names a relation we never knew.
 */
static void
confinement_inval(Datum arg, Oid relid)
{
	int			i;

	for (i = 0; i < 2; i++)
	{
		if (relid == InvalidOid || !OidIsValid(conf[i].relid) ||
			relid == conf[i].relid)
			conf[i].valid = false;
	}
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

/* (Re)load into slot i of conf the confinement of role. */
static void
load_confinement(int i, Oid role)
{
	Confinement *c = &conf[i];
	Oid			nsp;
	Oid			relid = InvalidOid;
	MemoryContext old;

	if (!conf_callback)
	{
		CacheRegisterRelcacheCallback(confinement_inval, (Datum) 0);
		conf_callback = true;
	}
	if (conf_cxt[i] == NULL)
		conf_cxt[i] = AllocSetContextCreate(TopMemoryContext, "authstore confinement",
											ALLOCSET_SMALL_SIZES);
	MemoryContextReset(conf_cxt[i]);
	memset(c, 0, sizeof(*c));

	nsp = get_namespace_oid("authstore", true);
	if (OidIsValid(nsp))
		relid = get_relname_relid("confinement", nsp);
	c->relid = relid;
	c->role = role;

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

			old = MemoryContextSwitchTo(conf_cxt[i]);
			c->confined = true;
			d = SPI_getbinval(tup, desc, 1, &isnull);
			load_list(&c->keys, d, isnull);
			d = SPI_getbinval(tup, desc, 2, &isnull);
			load_list(&c->subjects, d, isnull);
			d = SPI_getbinval(tup, desc, 3, &isnull);
			load_list(&c->purposes, d, isnull);
			MemoryContextSwitchTo(old);
		}
		SPI_finish();
	}
	c->valid = true;
}

/*
 * The confinements that apply now: *n is 0, 1 or 2 (the session user's and
 * the outer user's, each only if confined; one if they are the same role).
 */
static int
current_confinements(Confinement **out)
{
	Oid			roles[2] = {GetSessionUserId(), GetOuterUserId()};
	int			n = 0;
	int			i;

	for (i = 0; i < 2; i++)
	{
		if (i == 1 && roles[1] == roles[0])
			break;
		if (!conf[i].valid || conf[i].role != roles[i])
			load_confinement(i, roles[i]);
		if (conf[i].confined)
			out[n++] = &conf[i];
	}
	return n;
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
	Confinement *cs[2];
	int			n = current_confinements(cs);
	size_t		list;			/* offset of the AllowList in Confinement */
	bool		prefix = true;
	const char *what;
	int			i;

	if (n == 0)
		return;
	if (strcmp(argname, "key") == 0 || strcmp(argname, "prefix") == 0)
	{
		list = offsetof(Confinement, keys);
		what = "keys";
	}
	else if (strcmp(argname, "subject") == 0)
	{
		list = offsetof(Confinement, subjects);
		what = "token subjects";
	}
	else if (strcmp(argname, "owner") == 0)
	{
		/* an owner of keys is a subject too: the user they belong to */
		list = offsetof(Confinement, subjects);
		what = "subjects (owners of keys)";
	}
	else if (strcmp(argname, "purpose") == 0)
	{
		list = offsetof(Confinement, purposes);
		prefix = false;
		what = "token purposes";
	}
	else
		return;

	for (i = 0; i < n; i++)
	{
		Confinement *c = cs[i];
		AllowList  *l = (AllowList *) ((char *) c + list);

		if (!allowed(l, DatumGetTextPP(arg), prefix))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for this %s", argname),
					 errdetail("Role \"%s\" is confined to some %s (authstore.confinement).",
							   GetUserNameFromId(c->role, false), what)));
	}
}

/* Whether the calling roles may see tokens of this subject. */
bool
authstore_confine_subject_allowed(text *subject)
{
	Confinement *cs[2];
	int			n = current_confinements(cs);
	int			i;

	for (i = 0; i < n; i++)
	{
		if (!allowed(&cs[i]->subjects, subject, true))
			return false;
	}
	return true;
}

/*
 * The calling roles' key prefixes as a text[], or NULL when neither is
 * confined.  For statements that find keys by something other than the key
 * (their owner): they keep only the keys under one of these prefixes.  An
 * empty array (key_prefixes NULL or empty) keeps none.  With two confined
 * roles a key must be under a prefix of each: of two prefixes where one
 * starts the other, the longer one says exactly that; two unrelated ones
 * admit no key.
 */
ArrayType *
authstore_confine_key_prefixes(void)
{
	Confinement *cs[2];
	int			n = current_confinements(cs);
	AllowList  *a;
	AllowList  *b;
	Datum	   *elems;
	int			nelems = 0;
	int			i;
	int			j;

	if (n == 0)
		return NULL;
	a = &cs[0]->keys;
	b = &cs[n - 1]->keys;
	elems = palloc(sizeof(Datum) * Max(a->n * b->n, 1));
	for (i = 0; i < a->n; i++)
	{
		for (j = 0; j < b->n; j++)
		{
			int			shorter = Min(a->lens[i], b->lens[j]);

			if (memcmp(a->items[i], b->items[j], shorter) != 0)
				continue;
			/* with one confinement (a == b) keep each prefix once */
			if (a == b && i != j)
				continue;
			if (a->lens[i] >= b->lens[j])
				elems[nelems++] = PointerGetDatum(cstring_to_text_with_len(a->items[i],
																		 a->lens[i]));
			else
				elems[nelems++] = PointerGetDatum(cstring_to_text_with_len(b->items[j],
																		 b->lens[j]));
		}
	}
	return construct_array(elems, nelems, TEXTOID, -1, false, TYPALIGN_INT);
}

/* Whether the calling roles are confined to some token subjects or purposes. */
bool
authstore_confine_tokens(void)
{
	Confinement *cs[2];

	return current_confinements(cs) > 0;
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
