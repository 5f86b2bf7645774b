/*-------------------------------------------------------------------------
 *
 * stats.c
 *	  Live statistics, the pg_stat_statements way: per-database counters of
 *	  every operation and outcome, and the sweeper's figures, in shared
 *	  memory; the SQL functions auth_stats() and auth_stats_reset().
 *
 * The counters are pg_atomic_uint64 and are only ever added to on the hot
 * path: no lock.  Each database gets one entry, claimed on its first count
 * with a compare-and-swap of the entry's database OID (entries are claimed
 * in order and never released, so one database cannot end up with two);
 * each backend remembers its entry.  When every entry is taken, further
 * databases share the last one, whose datid reads as 0.  Entries of dropped
 * databases stay until a restart; the view shows only existing databases.
 *
 * The memory exists only when the library is preloaded; without it counting
 * is a no-op and auth_stats() says why it has nothing to show.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "authstore.h"
#include "compat.h"

PG_FUNCTION_INFO_V1(auth_stats);
PG_FUNCTION_INFO_V1(auth_stats_reset);

/* Databases with their own entry; one more are counted together. */
#define STATS_DATABASES 64

/* The sweeper's gauges, set (not added to) once per cycle. */
typedef enum StatsGauge
{
	GAUGE_LAST_CYCLE_START,		/* TimestampTz, 0 = never */
	GAUGE_LAST_CYCLE_USECS,
	GAUGE_UNSWEPT_ESTIMATE,
	GAUGE_STATS_RESET,			/* TimestampTz */
	GAUGE_COUNT
} StatsGauge;

typedef struct StatsEntry
{
	pg_atomic_uint32 dboid;		/* InvalidOid = free */
	pg_atomic_uint64 counters[AUTHSTORE_STAT_COUNT];
	pg_atomic_uint64 gauges[GAUGE_COUNT];
	AuthstoreQuotaSlot quota;	/* quota.c's estimate; reset never clears it */
} StatsEntry;

typedef struct StatsShared
{
	StatsEntry	entries[STATS_DATABASES];
} StatsShared;

static StatsShared *stats = NULL;
static StatsEntry *my_entry = NULL;

/* auth_stats() columns: datid, the counters, then the four gauges. */
#define STATS_COLUMNS (1 + AUTHSTORE_STAT_COUNT + 4)

Size
authstore_stats_shmem_size(void)
{
	return MAXALIGN(sizeof(StatsShared));
}

/* Called in shmem_startup_hook, under AddinShmemInitLock. */
void
authstore_stats_shmem_init(void)
{
	bool		found;
	int			i;
	int			j;

	stats = ShmemInitStruct("authstore stats", sizeof(StatsShared), &found);
	if (found)
		return;
	for (i = 0; i < STATS_DATABASES; i++)
	{
		pg_atomic_init_u32(&stats->entries[i].dboid, InvalidOid);
		for (j = 0; j < AUTHSTORE_STAT_COUNT; j++)
			pg_atomic_init_u64(&stats->entries[i].counters[j], 0);
		for (j = 0; j < GAUGE_COUNT; j++)
			pg_atomic_init_u64(&stats->entries[i].gauges[j], 0);
		authstore_quota_slot_init(&stats->entries[i].quota);
	}
}

/* The entry of database dboid, claimed if it has none yet. */
static StatsEntry *
entry_for(Oid dboid)
{
	int			i;

	for (i = 0; i < STATS_DATABASES - 1; i++)
	{
		StatsEntry *e = &stats->entries[i];
		uint32		cur = pg_atomic_read_u32(&e->dboid);

		if (cur == InvalidOid)
		{
			uint32		expected = InvalidOid;

			if (pg_atomic_compare_exchange_u32(&e->dboid, &expected, dboid))
			{
				pg_atomic_write_u64(&e->gauges[GAUGE_STATS_RESET],
									(uint64) GetCurrentTimestamp());
				return e;
			}
			cur = expected;		/* someone claimed it first: for whom? */
		}
		if (cur == dboid)
			return e;
	}
	return &stats->entries[STATS_DATABASES - 1];
}

static inline StatsEntry *
my_stats(void)
{
	if (stats == NULL || !OidIsValid(MyDatabaseId))
		return NULL;
	if (my_entry == NULL)
		my_entry = entry_for(MyDatabaseId);
	return my_entry;
}

/*
 * The current database's quota estimate in shared memory, or NULL when there
 * is none of its own: the library is not preloaded, or the database shares
 * the last entry with others (whose tables are not its tables).
 */
AuthstoreQuotaSlot *
authstore_quota_shared_slot(void)
{
	StatsEntry *e = my_stats();

	if (e == NULL || e == &stats->entries[STATS_DATABASES - 1])
		return NULL;
	return &e->quota;
}

void
authstore_stat_add(AuthstoreStat counter, uint64 n)
{
	StatsEntry *e = my_stats();

	if (e != NULL && n > 0)
		pg_atomic_fetch_add_u64(&e->counters[counter], n);
}

/* The sweeper, at the end of a cycle. */
void
authstore_stat_sweep_cycle(TimestampTz start, TimestampTz end, uint64 deleted,
						   uint64 unswept_estimate)
{
	StatsEntry *e = my_stats();

	if (e == NULL)
		return;
	pg_atomic_fetch_add_u64(&e->counters[AUTHSTORE_STAT_SWEEP_ROWS], deleted);
	pg_atomic_fetch_add_u64(&e->counters[AUTHSTORE_STAT_SWEEP_CYCLES], 1);
	pg_atomic_write_u64(&e->gauges[GAUGE_LAST_CYCLE_START], (uint64) start);
	pg_atomic_write_u64(&e->gauges[GAUGE_LAST_CYCLE_USECS],
						(uint64) Max(end - start, 0));
	pg_atomic_write_u64(&e->gauges[GAUGE_UNSWEPT_ESTIMATE], unswept_estimate);
}

static void
check_preloaded(void)
{
	if (stats == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("authstore statistics are not available"),
				 errdetail("Statistics live in shared memory, which exists only when the library is preloaded."),
				 errhint("Add authstore to shared_preload_libraries and restart the server.")));
}

/*
 * auth_stats(): one row per database with an entry.  Counters are read one
 * by one without a lock, as pg_stat_statements reads its counters: a row is
 * not a snapshot of one instant.
 */
Datum
auth_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	check_preloaded();
	/* the current database always has a row, even before its first count */
	(void) my_stats();
	InitMaterializedSRF(fcinfo, 0);

	for (i = 0; i < STATS_DATABASES; i++)
	{
		StatsEntry *e = &stats->entries[i];
		Datum		values[STATS_COLUMNS];
		bool		nulls[STATS_COLUMNS];
		Oid			dboid = pg_atomic_read_u32(&e->dboid);
		int			col = 0;
		int			j;
		uint64		start;
		uint64		reset;

		/* the shared last entry is in use once anything counted there */
		if (!OidIsValid(dboid) && i < STATS_DATABASES - 1)
			continue;
		memset(nulls, false, sizeof(nulls));
		values[col++] = ObjectIdGetDatum(dboid);
		for (j = 0; j < AUTHSTORE_STAT_COUNT; j++)
			values[col++] = Int64GetDatum((int64) pg_atomic_read_u64(&e->counters[j]));
		start = pg_atomic_read_u64(&e->gauges[GAUGE_LAST_CYCLE_START]);
		nulls[col] = start == 0;
		values[col++] = TimestampTzGetDatum((TimestampTz) start);
		nulls[col] = start == 0;
		values[col++] = Float8GetDatum((double) pg_atomic_read_u64(&e->gauges[GAUGE_LAST_CYCLE_USECS]) / 1000.0);
		nulls[col] = start == 0;
		values[col++] = Int64GetDatum((int64) pg_atomic_read_u64(&e->gauges[GAUGE_UNSWEPT_ESTIMATE]));
		reset = pg_atomic_read_u64(&e->gauges[GAUGE_STATS_RESET]);
		nulls[col] = reset == 0;
		values[col++] = TimestampTzGetDatum((TimestampTz) reset);
		Assert(col == STATS_COLUMNS);
		if (!OidIsValid(dboid))
		{
			bool		any = false;

			for (j = 0; j < AUTHSTORE_STAT_COUNT; j++)
				any |= pg_atomic_read_u64(&e->counters[j]) != 0;
			if (!any)
				continue;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * auth_stats_reset(): zero the current database's counters and sweeper
 * figures.  Increments racing with the reset may survive it, as with
 * pg_stat_statements_reset().
 */
Datum
auth_stats_reset(PG_FUNCTION_ARGS)
{
	StatsEntry *e;
	int			j;

	check_preloaded();
	e = my_stats();
	for (j = 0; j < AUTHSTORE_STAT_COUNT; j++)
		pg_atomic_write_u64(&e->counters[j], 0);
	for (j = 0; j < GAUGE_COUNT; j++)
		pg_atomic_write_u64(&e->gauges[j], 0);
	pg_atomic_write_u64(&e->gauges[GAUGE_STATS_RESET],
						(uint64) GetCurrentTimestamp());
	PG_RETURN_VOID();
}
