/*-------------------------------------------------------------------------
 *
 * direct.c
 *	  Row access without the executor: find a row by primary key, lock,
 *	  update or delete it, the way the executor would, but without per-call
 *	  executor start-up, which is most of what one-row statements cost.
 *
 * The SQL functions use this "direct path" and fall back to their prepared
 * statement whenever it cannot decide alone: a new row that conflicts with a
 * concurrent inserter (ON CONFLICT waits for it and re-decides), a row
 * updated or deleted concurrently in a way the caller must re-decide, an
 * isolation level above READ COMMITTED (the statements raise the
 * serialization errors those levels need), a read-only transaction (the
 * statements raise the proper error), and a table that no longer looks as
 * the install script made it (triggers, rules, row security, an index on an
 * expression or with an unusual predicate, an invalid index, other columns,
 * typmods or collations, inheritance).  A row whose key another transaction
 * changed while we waited for it is left to the statement too.
 *
 * What it does is what the executor does for the same statements in READ
 * COMMITTED: a fresh snapshot after CommandCounterIncrement (as SPI takes
 * one per statement), an MVCC index scan, table_tuple_lock with
 * TUPLE_LOCK_FLAG_FIND_LAST_VERSION to lock the latest version of a row
 * (as EvalPlanQual does), and table_tuple_update/delete followed by index
 * insertions when the update is not HOT.  A new row is inserted as INSERT
 * ... ON CONFLICT inserts one: speculatively, under a speculative insertion
 * lock, with the primary key checked by the index AM without raising an
 * error, and taken back (heap_abort_speculative) on a conflict.
 *
 * Relation OIDs and whether a table qualifies are looked up once per
 * backend and forgotten on any relcache invalidation of the table, so a
 * DROP/CREATE EXTENSION or a new index is noticed at the next call.  The
 * check itself opens the table's indexes, and each lock taken can process
 * invalidations (and wait, e.g. for a DBA's ALTER INDEX): a generation
 * counter bumped by the invalidation callback tells open_table() that one
 * arrived during the check, and the check is done again until none did.
 * Writers hold RowExclusiveLock from before the check to the end of the
 * transaction, which keeps out every change that would matter (CREATE
 * TRIGGER, RULE, POLICY, ALTER TABLE, CREATE INDEX) except CREATE INDEX
 * CONCURRENTLY, whose index is not ready for inserts until we are done, and
 * CREATE TABLE ... INHERITS, whose child is noticed from the writer's next
 * transaction on (the lock it already holds processes no invalidations).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/primnodes.h"
#include "storage/lmgr.h"
#include "utils/datum.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "authstore.h"

/* The columns each table must have, in order, for the direct path. */
typedef struct TableShape
{
	const char *relname;
	int			natts;
	const char *attnames[5];
	Oid			atttypes[5];
	bool		nullable[5];	/* the functions may store NULL here */
	Oid			collations[5];	/* as the install script declares them */
} TableShape;

#define C_COLL C_COLLATION_OID
#define DEF_COLL DEFAULT_COLLATION_OID

static const TableShape shapes[AUTHSTORE_NTABLES] = {
	[AUTHSTORE_KV] = {"kv", 4,
		{"key", "value", "expires_at", "owner"},
		{TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID},
		{false, false, true, true},
	{C_COLL, DEF_COLL, InvalidOid, C_COLL}},
	[AUTHSTORE_RATE_LIMIT] = {"rate_limit", 4,
		{"key", "hits", "last_hit", "window_end"},
		{TEXTOID, INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID},
		{false, false, false, false},
	{C_COLL, InvalidOid, InvalidOid, InvalidOid}},
	[AUTHSTORE_TOKEN] = {"token", 4,
		{"hash", "subject", "purpose", "expires_at"},
		{BYTEAOID, TEXTOID, TEXTOID, TIMESTAMPTZOID},
		{false, false, false, false},
	{InvalidOid, C_COLL, C_COLL, InvalidOid}},
};

/*
 * What this backend knows about each table; relid invalid = look it up.
 * generation counts the invalidations of the table seen so far, checked is
 * the generation the last complete check_table() began with: the check's
 * result holds only while the two are equal.
 */
typedef struct TableCache
{
	Oid			relid;
	uint64		generation;
	uint64		checked;
	bool		usable;			/* the direct path may be used */
	bool		warned;			/* the invalid-index WARNING was given */
	Oid			pkey;			/* primary key index on column 1 */
	RegProcedure eqproc;		/* its equality function */
	Oid			collation;		/* and collation */
} TableCache;

static TableCache cache[AUTHSTORE_NTABLES] = {
	[AUTHSTORE_KV] = {.generation = 1},
	[AUTHSTORE_RATE_LIMIT] = {.generation = 1},
	[AUTHSTORE_TOKEN] = {.generation = 1},
};
static bool callback_registered = false;

/*
 * The relcache invalidation callback.  It may run in the middle of
 * check_table() (any lock taken there processes invalidations), so it only
 * records that the table changed; open_table() notices and checks again.
 */
static void
forget_tables(Datum arg, Oid relid)
{
	int			i;

	for (i = 0; i < AUTHSTORE_NTABLES; i++)
		if (relid == InvalidOid || relid == cache[i].relid)
		{
			cache[i].relid = InvalidOid;
			cache[i].generation++;
		}
}

/*
 * Index predicates we can evaluate without the executor: none, or
 * "column IS NOT NULL" (authstore.kv's kv_owner_idx, or a DBA's index on
 * expires_at).
 */
static bool
predicate_supported(List *predicate)
{
	NullTest   *nt;

	if (predicate == NIL)
		return true;
	if (list_length(predicate) != 1 || !IsA(linitial(predicate), NullTest))
		return false;
	nt = (NullTest *) linitial(predicate);
	return nt->nulltesttype == IS_NOT_NULL && !nt->argisrow &&
		IsA(nt->arg, Var);
}

/*
 * Decide whether rel (just opened) qualifies for the direct path and
 * remember its primary key.  Anything unexpected means "no": the SQL
 * statements remain correct for any table.
 */
static void
check_table(AuthstoreTable table, Relation rel)
{
	const TableShape *shape = &shapes[table];
	TableCache *c = &cache[table];
	TupleDesc	desc = RelationGetDescr(rel);
	List	   *indexes;
	ListCell   *lc;
	int			i;

	c->usable = false;
	c->pkey = InvalidOid;

	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relispartition ||
		rel->trigdesc != NULL || rel->rd_rules != NULL ||
		rel->rd_rel->relrowsecurity || desc->natts != shape->natts)
		return;

	/*
	 * Inheritance: the statements (FROM authstore.kv, without ONLY) also
	 * read, lock and delete a child's rows, and the direct path sees only
	 * the table's own.  relhassubclass stays set after the last child is
	 * dropped until VACUUM or ANALYZE of the table clears it; until then
	 * the statements remain in use.  A parent is harmless for statements on
	 * the table, but is not what the install script creates.
	 */
	if (rel->rd_rel->relhassubclass || has_superclass(RelationGetRelid(rel)))
		return;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		/*
		 * A NOT NULL the functions may violate is the statements' to
		 * enforce (ExecConstraints); the direct path does not check.  A
		 * typmod (timestamptz(0)) is the statements' to apply, as is a
		 * collation other than the install script's: the direct path
		 * compares keys and purposes bytewise.
		 */
		if (att->attisdropped || att->atttypid != shape->atttypes[i] ||
			strcmp(NameStr(att->attname), shape->attnames[i]) != 0 ||
			att->atthasdef || att->attgenerated || att->attidentity ||
			(att->attnotnull && shape->nullable[i]) ||
			att->atttypmod != -1 ||
			att->attcollation != shape->collations[i])
			return;
	}
	if (desc->constr != NULL && desc->constr->num_check > 0)
		return;

	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		Relation	irel = index_open(lfirst_oid(lc), AccessShareLock);
		IndexInfo  *ii = BuildIndexInfo(irel);
		bool		ok;

		/*
		 * Only the primary key may be unique: the statements' ON CONFLICT
		 * (key) takes any other unique index on key as an arbiter too, and
		 * a speculative insertion checks only the primary key.
		 */
		ok = irel->rd_rel->relam == BTREE_AM_OID &&
			ii->ii_Expressions == NIL && ii->ii_ExclusionOps == NULL &&
			predicate_supported(ii->ii_Predicate) &&
			(irel->rd_index->indisprimary || !irel->rd_index->indisunique);

		/*
		 * An invalid or not yet ready unique index is most often one that
		 * REINDEX CONCURRENTLY (_ccnew, _ccold) or CREATE UNIQUE INDEX
		 * CONCURRENTLY is building or left behind when cancelled.  Say so
		 * once per backend and table: until it is dropped the statements
		 * are used, and on PostgreSQL their INSERT ... ON CONFLICT raises
		 * unique violations on it (it is not an arbiter).  See README.
		 */
		if (!ok && !c->warned &&
			(!irel->rd_index->indisvalid || !irel->rd_index->indisready))
		{
			ereport(WARNING,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("invalid index \"%s\" on table \"authstore.%s\" makes authstore use its SQL statements",
							RelationGetRelationName(irel), shape->relname),
					 errdetail("It is being built by REINDEX CONCURRENTLY or CREATE INDEX CONCURRENTLY, or one of them was cancelled."),
					 errhint("If no such command is running, drop the index.")));
			c->warned = true;
		}

		if (ok && irel->rd_index->indisprimary)
		{
			Oid			opr;

			if (ii->ii_NumIndexKeyAttrs != 1 || ii->ii_IndexAttrNumbers[0] != 1 ||
				!irel->rd_index->indimmediate ||
				irel->rd_indcollation[0] !=
				TupleDescAttr(desc, 0)->attcollation)
				ok = false;
			else
			{
				opr = get_opfamily_member(irel->rd_opfamily[0],
										  shape->atttypes[0], shape->atttypes[0],
										  BTEqualStrategyNumber);
				if (!OidIsValid(opr))
					ok = false;
				else
				{
					c->pkey = RelationGetRelid(irel);
					c->eqproc = get_opcode(opr);
					c->collation = irel->rd_indcollation[0];
				}
			}
		}
		index_close(irel, AccessShareLock);
		if (!ok)
		{
			c->pkey = InvalidOid;
			break;
		}
	}
	list_free(indexes);

	c->usable = OidIsValid(c->pkey);
	/* warn again if an invalid index turns up after this one is gone */
	if (c->usable)
		c->warned = false;
}

/*
 * Open a table for the direct path, or return NULL when the caller must use
 * its SQL statement instead.
 */
static Relation
open_table(AuthstoreTable table, LOCKMODE lockmode)
{
	TableCache *c = &cache[table];

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(forget_tables, (Datum) 0);
		callback_registered = true;
	}

	for (;;)
	{
		Relation	rel;
		uint64		generation;

		CHECK_FOR_INTERRUPTS();
		if (!OidIsValid(c->relid))
		{
			Oid			nsp = get_namespace_oid("authstore", true);
			Oid			relid;

			if (!OidIsValid(nsp))
				return NULL;
			relid = get_relname_relid(shapes[table].relname, nsp);
			if (!OidIsValid(relid))
				return NULL;
			/* from here on, invalidations of relid bump the generation */
			c->relid = relid;
		}

		/* NULL if it was dropped; locking it processes pending invalidations */
		rel = try_relation_open(c->relid, lockmode);
		if (rel == NULL)
		{
			c->relid = InvalidOid;
			return NULL;
		}

		/* nothing arrived since the last complete check */
		if (c->checked == c->generation)
		{
			if (c->usable)
				return rel;
			relation_close(rel, lockmode);
			return NULL;
		}

		/*
		 * First use, or an invalidation arrived: (re)check the table.  The
		 * check takes locks, which can process invalidations; if one of the
		 * table's arrived meanwhile, the result may describe the table as
		 * it was, so check again (with the relation reopened: the relcache
		 * entry may have been rebuilt).  The lock is kept, as after any use.
		 */
		generation = c->generation;
		check_table(table, rel);
		if (c->generation == generation)
		{
			c->checked = generation;
			if (c->usable)
				return rel;
			relation_close(rel, lockmode);
			return NULL;
		}
		relation_close(rel, NoLock);
	}
}

/*
 * Start direct access to a table.  false: use the SQL statement instead
 * (nothing was opened).  for_write: the caller may lock, update or delete.
 */
bool
authstore_direct_begin(AuthstoreDirect *d, AuthstoreTable table, bool for_write)
{
	LOCKMODE	lockmode = for_write ? RowExclusiveLock : AccessShareLock;

	if (!authstore_direct_access || IsolationUsesXactSnapshot())
		return false;
	if (for_write && (XactReadOnly || IsInParallelMode()))
		return false;

	d->table = table;
	d->lockmode = lockmode;
	d->rel = open_table(table, lockmode);
	if (d->rel == NULL)
		return false;
	d->pkey = index_open(cache[table].pkey, lockmode);

	/* as SPI does before each statement of a volatile function */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	d->snapshot = GetActiveSnapshot();
	d->slot = table_slot_create(d->rel, NULL);
	d->cid = for_write ? GetCurrentCommandId(true) : InvalidCommandId;
	d->key = (Datum) 0;
	/* which path serves the calls shows in auth_stats (the sweeper's aside) */
	if (MyBackendType != B_BG_WORKER)
		authstore_count(DIRECT_ACCESSES);
	return true;
}

void
authstore_direct_end(AuthstoreDirect *d)
{
	ExecDropSingleTupleTableSlot(d->slot);
	PopActiveSnapshot();
	/* locks are kept until the end of the transaction, as the executor does */
	index_close(d->pkey, NoLock);
	relation_close(d->rel, NoLock);
}

/*
 * Find the row with this key visible to the snapshot; true and the row in
 * d->slot when found.
 */
bool
authstore_direct_fetch(AuthstoreDirect *d, Datum key)
{
	TableCache *c = &cache[d->table];
	ScanKeyData skey;
	IndexScanDesc scan;
	bool		found;

	d->key = key;
	ScanKeyEntryInitialize(&skey, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   c->collation, c->eqproc, key);
	scan = authstore_index_beginscan(d->rel, d->pkey, d->snapshot, 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, d->slot);
	index_endscan(scan);

	return found;
}

/*
 * Lock the latest version of the row in d->slot, waiting for a concurrent
 * updater, as UPDATE does in READ COMMITTED.  TM_Ok: d->slot now holds the
 * locked latest version.  TM_Deleted: the row is gone.  Anything else: the
 * caller must use its SQL statement.
 *
 * When the version found was updated meanwhile, the latest one may no
 * longer have the key looked for (an UPDATE of the key column by someone
 * with access to the table).  The statements re-check their WHERE clause on
 * it (EvalPlanQual) or find no conflict for the key and insert; here the
 * key of the latest version is compared, and if it differs, TM_Updated
 * leaves the decision to the statement.  The row lock stays, as it does
 * after an UPDATE whose re-check fails.
 */
TM_Result
authstore_direct_lock(AuthstoreDirect *d)
{
	TableCache *c = &cache[d->table];
	TM_FailureData tmfd;
	ItemPointerData tid = d->slot->tts_tid;
	TM_Result	result;

	result = table_tuple_lock(d->rel, &tid, d->snapshot, d->slot, d->cid,
							  LockTupleNoKeyExclusive, LockWaitBlock,
							  TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &tmfd);
	if (result == TM_Ok && tmfd.traversed)
	{
		bool		isnull;
		Datum		latest = slot_getattr(d->slot, 1, &isnull);

		/* no key to compare (the row was not found by fetch): undecided */
		if (isnull || d->key == (Datum) 0 ||
			!DatumGetBool(OidFunctionCall2Coll(c->eqproc, c->collation,
											   latest, d->key)))
			result = TM_Updated;
	}
	return result;
}

/*
 * Delete the row version in d->slot.  TM_Ok: deleted.  TM_Deleted: someone
 * else deleted it first.  Anything else (it was updated meanwhile): the
 * caller must use its SQL statement, which re-checks the latest version.
 */
TM_Result
authstore_direct_delete(AuthstoreDirect *d)
{
	TM_FailureData tmfd;

	return table_tuple_delete(d->rel, &d->slot->tts_tid, d->cid, d->snapshot,
							  InvalidSnapshot, true, &tmfd, false);
}

/*
 * Insert the index entry of one index for the row version in newslot, as
 * ExecInsertIndexTuples does.  oldslot: the version it replaces (a non-HOT
 * update), to tell the index AM whether the key changed; NULL for a new row.
 * Returns index_insert's answer, which means something only for
 * UNIQUE_CHECK_PARTIAL: false is a possible conflict.
 */
static bool
insert_index_entry(AuthstoreDirect *d, Relation irel, TupleTableSlot *oldslot,
				   TupleTableSlot *newslot, IndexUniqueCheck check)
{
	IndexInfo  *ii = BuildIndexInfo(irel);
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];
	bool		unchanged = oldslot != NULL;
	int			i;

	/*
	 * Not ready: CREATE INDEX CONCURRENTLY, which started after
	 * check_table() and waits for us, will add the entry itself.
	 */
	if (!ii->ii_ReadyForInserts)
		return true;

	/* check_table() admitted no other kind, and our lock keeps it so */
	if (ii->ii_Expressions != NIL || !predicate_supported(ii->ii_Predicate))
		elog(ERROR, "authstore: unexpected index on a table used directly");
	if (ii->ii_Predicate != NIL)
	{
		NullTest   *nt = (NullTest *) linitial(ii->ii_Predicate);

		if (slot_attisnull(newslot, ((Var *) nt->arg)->varattno))
			return true;
	}

	for (i = 0; i < ii->ii_NumIndexAttrs; i++)
	{
		AttrNumber	attno = ii->ii_IndexAttrNumbers[i];

		values[i] = slot_getattr(newslot, attno, &isnull[i]);
		if (unchanged)
		{
			bool		oldnull;
			Datum		old = slot_getattr(oldslot, attno, &oldnull);
			Form_pg_attribute att = TupleDescAttr(RelationGetDescr(d->rel),
												  attno - 1);

			if (oldnull != isnull[i] ||
				(!oldnull && !datumIsEqual(old, values[i], att->attbyval,
										   att->attlen)))
				unchanged = false;
		}
	}
#if PG_VERSION_NUM >= 140000
	return index_insert(irel, values, isnull, &newslot->tts_tid, d->rel,
						check, unchanged, ii);
#else
	return index_insert(irel, values, isnull, &newslot->tts_tid, d->rel,
						check, ii);
#endif
}

/*
 * Insert the index entries of the row version in newslot into every index
 * (see insert_index_entry for oldslot).  speculative: the primary key goes
 * first and is checked as INSERT ... ON CONFLICT checks its arbiter index,
 * without raising an error; false means a conflicting row exists or is
 * being inserted, and the other indexes were left alone.  Any other unique
 * index raises unique_violation, as it does for the statements.
 */
static bool
insert_index_entries(AuthstoreDirect *d, TupleTableSlot *oldslot,
					 TupleTableSlot *newslot, bool speculative)
{
	List	   *indexes;
	ListCell   *lc;

	if (speculative &&
		!insert_index_entry(d, d->pkey, oldslot, newslot, UNIQUE_CHECK_PARTIAL))
		return false;

	indexes = RelationGetIndexList(d->rel);
	foreach(lc, indexes)
	{
		Relation	irel;

		if (speculative && lfirst_oid(lc) == RelationGetRelid(d->pkey))
			continue;
		irel = index_open(lfirst_oid(lc), RowExclusiveLock);
		insert_index_entry(d, irel, oldslot, newslot,
						   irel->rd_index->indisunique ?
						   UNIQUE_CHECK_YES : UNIQUE_CHECK_NO);
		index_close(irel, NoLock);
	}
	list_free(indexes);
	return true;
}

/* A virtual slot holding these column values; the caller drops it. */
static TupleTableSlot *
make_row(AuthstoreDirect *d, Datum *values, bool *isnull)
{
	TupleDesc	desc = RelationGetDescr(d->rel);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);

	ExecClearTuple(slot);
	memcpy(slot->tts_values, values, desc->natts * sizeof(Datum));
	memcpy(slot->tts_isnull, isnull, desc->natts * sizeof(bool));
	ExecStoreVirtualTuple(slot);
	return slot;
}

/*
 * Insert a new row with these values.
 *
 * speculative: as INSERT ... ON CONFLICT (column 1) inserts, for a key the
 * caller found absent.  The row is inserted under a speculative insertion
 * lock, so that others who meet it wait only for our decision, and the
 * primary key's entry is checked without an error.  If a row with the key
 * exists after all (committed since our snapshot) or is being inserted by
 * another transaction, the row is taken back at once, as the executor does,
 * and false tells the caller to use its statement, which waits for the
 * other transaction and decides on its row.  We skip the executor's
 * pre-check for a conflicting row: the caller's probe just found none, so
 * a conflict is rare and costs only the retry.
 *
 * Otherwise a plain INSERT: a duplicate key raises unique_violation.
 */
bool
authstore_direct_insert(AuthstoreDirect *d, Datum *values, bool *isnull,
						bool speculative)
{
	TupleTableSlot *newslot = make_row(d, values, isnull);
	bool		inserted = true;

	if (!speculative)
	{
		table_tuple_insert(d->rel, newslot, d->cid, 0, NULL);
		insert_index_entries(d, NULL, newslot, false);
	}
	else
	{
		TransactionId xid = GetCurrentTransactionId();
		uint32		token = SpeculativeInsertionLockAcquire(xid);

		table_tuple_insert_speculative(d->rel, newslot, d->cid, 0, NULL, token);
		inserted = insert_index_entries(d, NULL, newslot, true);
		table_tuple_complete_speculative(d->rel, newslot, token, inserted);
		/* waiters re-check: a dead row, or one to wait on as any other */
		SpeculativeInsertionLockRelease(xid);
	}

	ExecDropSingleTupleTableSlot(newslot);
	return inserted;
}

/*
 * Replace the row locked by authstore_direct_lock() with these values (the
 * key, column 1, must be unchanged).
 */
void
authstore_direct_update(AuthstoreDirect *d, Datum *values, bool *isnull)
{
	TupleTableSlot *newslot = make_row(d, values, isnull);
	TM_FailureData tmfd;
	LockTupleMode lockmode;
	TM_Result	result;
	bool		need_indexes;
#if PG_VERSION_NUM >= 160000
	TU_UpdateIndexes update_indexes;
#else
	bool		update_indexes;
#endif

	result = table_tuple_update(d->rel, &d->slot->tts_tid, newslot, d->cid,
								d->snapshot, InvalidSnapshot, true, &tmfd,
								&lockmode, &update_indexes);
	/* we hold the row lock: nobody else can have changed it */
	if (result != TM_Ok)
		elog(ERROR, "authstore: unexpected result %d updating a locked row",
			 (int) result);

#if PG_VERSION_NUM >= 160000
	/* only btree indexes were admitted, so never TU_Summarizing */
	need_indexes = update_indexes != TU_None;
#else
	need_indexes = update_indexes;
#endif
	if (need_indexes)
		insert_index_entries(d, d->slot, newslot, false);

	ExecDropSingleTupleTableSlot(newslot);
}

/* Whether the timestamptz column attno of d->slot is NULL or after now. */
bool
authstore_direct_live(AuthstoreDirect *d, AttrNumber attno, TimestampTz now)
{
	bool		isnull;
	Datum		expires_at = slot_getattr(d->slot, attno, &isnull);

	return isnull || DatumGetTimestampTz(expires_at) > now;
}

/* A varlena column of d->slot, detoasted and copied into the current context. */
Datum
authstore_direct_copy(AuthstoreDirect *d, AttrNumber attno)
{
	bool		isnull;
	Datum		value = slot_getattr(d->slot, attno, &isnull);

	Assert(!isnull);
	return PointerGetDatum(pg_detoast_datum_copy((struct varlena *) DatumGetPointer(value)));
}
