/*-------------------------------------------------------------------------
 *
 * sweep.c
 *	  Deletion of expired key-value rows, idle rate-limit state and expired
 *	  one-time tokens: the SQL function auth_kv_sweep() and the batches the
 *	  background worker runs.
 *
 * The tables have no index on their expiry: an index on kv.expires_at made
 * every auth_kv_set that moves a key's expiry a non-HOT update with two
 * index insertions, all of them at the right-hand edge of that index where
 * concurrent writers meet, and with statistics that had not caught up with
 * a burst of expiries the sweep statement's plan checked every row against
 * the whole batch.  Expired rows are found instead by walking each table's
 * heap like a clock hand: each batch scans the next
 * slice of blocks (SWEEP_BLOCKS), and a sweep cycle goes on to the next
 * slice while slices keep finding expired rows or until it has scanned
 * 1/SWEEP_LAP_CYCLES of the table, but not past the end of the table (the
 * next cycle starts again at its first block).  Expired
 * rows are invisible to every function anyway (lazy expiry); sweeping only
 * returns their space.
 *
 * A row is deleted only if its version is still the latest and nobody holds
 * a lock on it (table_tuple_delete without waiting, like FOR UPDATE SKIP
 * LOCKED): the sweeper never waits for an application transaction, and a
 * row made live again by a concurrent auth_kv_set() is left alone.  When the
 * direct path is unavailable (authstore.direct_access = off, REPEATABLE READ
 * or SERIALIZABLE callers of auth_kv_sweep) the same is done with SQL
 * statements.
 *
 * The worker's batches are paced like VACUUM (authstore.sweep_cost_delay and
 * authstore.sweep_cost_limit): while VacuumCostActive is set, the buffer
 * manager charges each page to VacuumCostBalance, and each row deleted adds
 * vacuum_cost_page_hit.  Once the balance reaches the limit, a table's pass
 * ends at its next deleted row (a slice with nothing to delete is scanned to
 * its end; a sweep statement is never cut short), the tables left wait for
 * the next batch, and the worker naps between transactions, so that a nap
 * never holds a deleted row's lock: an application's auth_kv_set() of a key
 * the sweeper deleted waits for the sweeper's transaction to end.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/heapam.h"
#include "access/tableam.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/latch.h"
#include "utils/rel.h"

#include "authstore.h"

PG_FUNCTION_INFO_V1(auth_kv_sweep);

/* Blocks (8 kB) scanned per table in one batch: 8 MB. */
#define SWEEP_BLOCKS 1024

/*
 * A cycle scans at least 1/SWEEP_LAP_CYCLES of each table, so that the hand
 * goes round a big table within that many cycles (30 s at the default
 * interval) even when it finds nothing: rows that expire together far from
 * the hand are reached in time.
 */
#define SWEEP_LAP_CYCLES 30

/*
 * A slice "kept finding" expired rows, so the cycle goes on, when at least
 * one row in SWEEP_PRODUCTIVE it scanned was deleted.
 */
#define SWEEP_PRODUCTIVE 10

/* $1 now, $2 at most this many rows (NULL: no limit) */
static AuthstorePlan sweep_kv_plan = {
	"DELETE FROM authstore.kv WHERE ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
	"SELECT ctid FROM authstore.kv WHERE expires_at OPERATOR(pg_catalog.<=) $1 "
	"LIMIT $2 FOR UPDATE SKIP LOCKED)) "
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
	"LIMIT $2 FOR UPDATE SKIP LOCKED)) "
	"AND expires_at OPERATOR(pg_catalog.<=) $1",
	2, {TIMESTAMPTZOID, INT8OID}
};

/* The tables swept by clock hand, and the column that says "expired". */
typedef struct HandTable
{
	AuthstoreTable table;
	AttrNumber	expiry_col;
	AuthstorePlan *plan;		/* the statement doing the same */
	BlockNumber hand;			/* next block to scan (worker) */
	bool		cycle_done;		/* needs no more batches in this cycle */
	BlockNumber scanned;		/* blocks scanned in this cycle */
	uint64		expired;		/* expired rows seen in this cycle */
	uint64		deleted;		/* of which deleted */
	BlockNumber nblocks;		/* table size at the last batch */
} HandTable;

static HandTable hand_tables[] = {
	{AUTHSTORE_KV, KV_EXPIRES_AT, &sweep_kv_plan},
	{AUTHSTORE_RATE_LIMIT, RL_WINDOW_END, &sweep_rl_plan},
	{AUTHSTORE_TOKEN, TOKEN_EXPIRES_AT, &sweep_token_plan},
};

/* Run a sweep statement: at most max_rows (< 0: all) rows. */
static uint64
sweep_statement(AuthstorePlan *plan, TimestampTz now, int64 max_rows)
{
	Datum		args[2] = {TimestampTzGetDatum(now), Int64GetDatum(max_rows)};
	char		nulls[2] = {' ', max_rows < 0 ? 'n' : ' '};
	uint64		deleted;

	SPI_connect();
	deleted = authstore_execute(plan, args, nulls, false, 0);
	SPI_finish();
	return deleted;
}

/* The worker's cost-based delay is on and its balance reached the limit. */
static inline bool
sweep_cost_exceeded(void)
{
	return VacuumCostActive && VacuumCostBalance >= authstore_sweep_cost_limit;
}

/*
 * Delete expired rows of ht's table in blocks [*start, *start + max_blocks)
 * (max_blocks 0: to the end of the table), at most max_rows of them (< 0:
 * no limit), stopping early when the cost limit is reached.  Returns the
 * rows deleted, or -1 when the direct path is not available.  Sets *start to
 * the block to continue from, *wrapped when that is block 0 again because
 * the scan reached the end of the table, *stopped when it ended early
 * (max_rows or the cost limit), *tuples to the rows seen, *scanned to the
 * blocks scanned, *nblocks to the table's size and *expired to the expired
 * rows seen (deleted or not).
 */
static int64
sweep_heap(HandTable *ht, TimestampTz now, BlockNumber *start,
		   BlockNumber max_blocks, int64 max_rows, bool *wrapped, bool *stopped,
		   uint64 *tuples, BlockNumber *scanned, BlockNumber *table_blocks,
		   uint64 *expired)
{
	AuthstoreDirect d;
	TableScanDesc scan;
	BlockNumber nblocks;
	BlockNumber first;
	BlockNumber count;
	BlockNumber last_block;
	int64		deleted = 0;

	*wrapped = false;
	*stopped = false;
	*tuples = 0;
	*scanned = 0;
	*table_blocks = 0;
	*expired = 0;
	if (!authstore_direct_begin(&d, ht->table, true))
		return -1;
	/* heap_setscanlimits() is heap's: other access methods use the statement */
	if (d.rel->rd_rel->relam != HEAP_TABLE_AM_OID)
	{
		authstore_direct_end(&d);
		return -1;
	}

	nblocks = RelationGetNumberOfBlocks(d.rel);
	*table_blocks = nblocks;
	first = *start < nblocks ? *start : 0;
	count = nblocks - first;
	if (max_blocks > 0 && count > max_blocks)
		count = max_blocks;

	/* no synchronized scan: the scan must start at first */
	scan = table_beginscan_strat(d.rel, d.snapshot, 0, NULL, true, false);
	heap_setscanlimits(scan, first, count);
	last_block = first;
	while (table_scan_getnextslot(scan, ForwardScanDirection, d.slot))
	{
		TM_FailureData tmfd;
		TM_Result	result;

		CHECK_FOR_INTERRUPTS();
		(*tuples)++;
		last_block = ItemPointerGetBlockNumber(&d.slot->tts_tid);
		if (authstore_direct_live(&d, ht->expiry_col, now))
			continue;
		(*expired)++;
		/* not waiting: a locked or changed row is someone else's business */
		result = table_tuple_delete(d.rel, &d.slot->tts_tid, d.cid, d.snapshot,
									InvalidSnapshot, false, &tmfd, false);
		if (result == TM_BeingModified)
		{
			/*
			 * Locked, perhaps by our own transaction (auth_kv_sweep() after
			 * a function that locked the row), which FOR UPDATE SKIP LOCKED
			 * does not skip.  Do what the statement does: lock the row
			 * without waiting, which succeeds only if no other transaction
			 * holds a lock, and then delete it, which cannot wait now.
			 */
			if (table_tuple_lock(d.rel, &d.slot->tts_tid, d.snapshot, d.slot,
								 d.cid, LockTupleExclusive, LockWaitSkip, 0,
								 &tmfd) != TM_Ok)
				continue;
			result = table_tuple_delete(d.rel, &d.slot->tts_tid, d.cid,
										d.snapshot, InvalidSnapshot, true,
										&tmfd, false);
		}
		if (result != TM_Ok)
			continue;
		deleted++;
		if (VacuumCostActive)
			VacuumCostBalance += VacuumCostPageHit;
		/* only after a deletion, so that every batch makes progress */
		if ((max_rows >= 0 && deleted >= max_rows) || sweep_cost_exceeded())
		{
			*stopped = true;
			break;
		}
	}
	table_endscan(scan);
	authstore_direct_end(&d);

	if (*stopped)
	{
		/* stopped early: go on from the block of the last row deleted */
		*start = last_block;
		*scanned = last_block - first;	/* last_block is scanned again */
	}
	else
	{
		*wrapped = first + count >= nblocks;
		*start = *wrapped ? 0 : first + count;
		*scanned = count;
	}
	return deleted;
}

/*
 * Delete up to max_rows (< 0: all) expired rows, key-value rows first, then
 * idle rate-limit state, then expired tokens, in one pass over each table:
 * auth_kv_sweep().
 */
static uint64
sweep_all(TimestampTz now, int64 max_rows)
{
	uint64		deleted = 0;
	int			i;

	for (i = 0; i < lengthof(hand_tables); i++)
	{
		int64		left = max_rows < 0 ? -1 : max_rows - (int64) deleted;
		BlockNumber start = 0;
		bool		wrapped;
		bool		stopped;
		uint64		tuples;
		BlockNumber scanned;
		BlockNumber nblocks;
		uint64		expired;
		int64		n;

		if (left == 0)
			return deleted;
		n = sweep_heap(&hand_tables[i], now, &start, 0, left, &wrapped, &stopped,
					   &tuples, &scanned, &nblocks, &expired);
		if (n < 0)
			n = (int64) sweep_statement(hand_tables[i].plan, now, left);
		deleted += n;
	}
	return deleted;
}

/* The worker: a new cycle starts; each table's hand may do one lap. */
void
authstore_sweep_cycle_start(void)
{
	int			i;

	for (i = 0; i < lengthof(hand_tables); i++)
	{
		hand_tables[i].cycle_done = false;
		hand_tables[i].scanned = 0;
		hand_tables[i].expired = 0;
		hand_tables[i].deleted = 0;
	}
}

/*
 * The worker, at the end of a cycle: an estimate of the expired rows left
 * in the tables.  Those seen and not deleted (locked or changed under the
 * sweeper), plus, for the part of each table this cycle did not scan, as
 * many as the scanned part held per block.  The scanned part is where the
 * cycle found work, so the figure errs high; a table scanned to its end
 * (every small table, every cycle) is counted exactly, as of the scan.
 * Tables swept by statements (no direct path) are swept to the end: 0.
 */
uint64
authstore_sweep_unswept_estimate(void)
{
	double		estimate = 0;
	int			i;

	for (i = 0; i < lengthof(hand_tables); i++)
	{
		HandTable  *ht = &hand_tables[i];

		estimate += ht->expired - Min(ht->deleted, ht->expired);
		if (ht->scanned > 0 && ht->scanned < ht->nblocks)
			estimate += (double) ht->expired / ht->scanned *
				(ht->nblocks - ht->scanned);
	}
	return (uint64) estimate;
}

/*
 * The worker: one batch, in the caller's transaction: the next SWEEP_BLOCKS
 * blocks of each table that still needs it in this cycle, at most max_rows
 * rows deleted from each, fewer when the cost limit is reached (the tables
 * take turns to go first).  *more says whether the cycle should go on with
 * another batch: whether any table still needs one.  Returns the rows
 * deleted.
 */
uint64
authstore_sweep_batch(TimestampTz now, int64 max_rows, bool *more)
{
	static int	first_table = 0;
	uint64		deleted = 0;
	int			swept_tables = 0;
	int			i;

	for (i = 0; i < lengthof(hand_tables); i++)
	{
		HandTable  *ht = &hand_tables[(first_table + i) % lengthof(hand_tables)];
		bool		wrapped;
		bool		stopped;
		uint64		tuples;
		BlockNumber scanned;
		BlockNumber nblocks;
		uint64		expired;
		int64		d;

		if (ht->cycle_done)
			continue;

		/*
		 * Out of budget: the tables left wait for the next batch, which
		 * starts with the next table, so that none is starved.  At least one
		 * table per batch, so that every batch makes progress.
		 */
		if (swept_tables > 0 && sweep_cost_exceeded())
			break;
		swept_tables++;

		d = sweep_heap(ht, now, &ht->hand, SWEEP_BLOCKS, max_rows, &wrapped,
					   &stopped, &tuples, &scanned, &nblocks, &expired);
		if (d < 0)
		{
			/* without the direct path: statements until one comes back short */
			d = (int64) sweep_statement(ht->plan, now, max_rows);
			ht->cycle_done = d < max_rows;
			deleted += d;
			continue;
		}
		ht->scanned += scanned;
		ht->expired += expired;
		ht->deleted += d;
		ht->nblocks = nblocks;
		deleted += d;

		/*
		 * Done for this cycle at the end of the table, or when this slice
		 * found few expired rows and the cycle has scanned its share of the
		 * table.
		 */
		ht->cycle_done = wrapped ||
			(!stopped && (uint64) d * SWEEP_PRODUCTIVE < tuples &&
			 ht->scanned >= nblocks / SWEEP_LAP_CYCLES);
	}
	first_table = (first_table + 1) % lengthof(hand_tables);

	*more = false;
	for (i = 0; i < lengthof(hand_tables); i++)
		if (!hand_tables[i].cycle_done)
			*more = true;
	return deleted;
}

/*
 * The worker, between two batches: nap if the batches since the last nap
 * cost authstore.sweep_cost_limit or more, as VACUUM does (the nap grows with
 * the balance, up to four times authstore.sweep_cost_delay, in whole
 * milliseconds).
 */
void
authstore_sweep_delay(void)
{
	double		msec;

	if (!sweep_cost_exceeded())
		return;
	msec = authstore_sweep_cost_delay * VacuumCostBalance / authstore_sweep_cost_limit;
	msec = Min(msec, authstore_sweep_cost_delay * 4);
	VacuumCostBalance = 0;
	/* latches wait whole milliseconds: round up, so that pacing stays on */
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 (long) ceil(msec), PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}

Datum
auth_kv_sweep(PG_FUNCTION_ARGS)
{
	int64		max_rows = -1;

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

	{
		uint64		deleted = sweep_all(authstore_now(), max_rows);

		authstore_stat_add(AUTHSTORE_STAT_SWEEP_ROWS, deleted);
		PG_RETURN_INT64((int64) deleted);
	}
}
