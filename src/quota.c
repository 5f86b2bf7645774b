/*-------------------------------------------------------------------------
 *
 * quota.c
 *	  The storage quota, like Redis' maxmemory: authstore.max_size bounds the
 *	  bytes authstore's three tables hold in one database.  A call that would
 *	  add data is refused (53400) once the estimate is over it; reads,
 *	  deletes, takes, token verify/consume/revoke, rate-limit hits on rows
 *	  that exist and the sweeper are never refused.
 *
 * The estimate is kept per database in shared memory (stats.c's entry):
 *
 *	 estimate = measured + added
 *
 * measured is the live data the three tables held at the last measurement:
 * one scan of their heaps summing pg_column_size() of each row's columns
 * (the key and indexed columns twice, for their index entries) plus a fixed
 * overhead per row for tuple and index headers; out-of-line values count
 * their stored (compressed) size without being read.  added is what every
 * write admitted since then said it would store, counted with the same
 * formula (AUTHSTORE_*_ROW_BYTES) before the write and never taken back: an
 * overwrite, a rate-limit hit on an existing row or an aborted write count
 * as new data, and deletes and the sweeper's work show only at the next
 * measurement.  The estimate therefore errs upwards between measurements,
 * and a backend that finds it over the limit measures again (at most once
 * a second per database, or after ten times as long as the last
 * measurement took, whichever is later) before it refuses anything.  Measurements also
 * happen once a minute whatever the estimate (writes made while the quota
 * was off were not counted), and on the first write after start-up.
 *
 * So the hot path is three atomic reads and one atomic add, and the scan's
 * cost is paid only near the limit, or once a minute.  How far over the
 * limit the tables can get: writers that pass the check at the same
 * instant each add at most one row (so concurrent writers x the largest
 * row), plus the rows of transactions in progress when a measurement
 * starts, which that snapshot cannot see.  Dead row versions and free space
 * in the files are not counted: the quota bounds live data, not the files
 * (VACUUM, autovacuum on these tables, makes that space reusable).
 *
 * Without shared memory (library not preloaded) or for a database beyond
 * stats.c's 63 entries, the estimate is the backend's own.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/timestamp.h"

#include "authstore.h"

/* authstore.max_size, in kB; 0 = no quota */
int			authstore_max_size_kb = 0;

/* Re-measure while over the limit at most this often, and always this often. */
#define REMEASURE_OVER_MS	1000
#define REMEASURE_ALWAYS_MS	60000

/* The same per-row formula as AUTHSTORE_*_ROW_BYTES in authstore.h. */
static AuthstorePlan measure_plan = {
	"SELECT "
	"(SELECT COALESCE(pg_catalog.sum(2 OPERATOR(pg_catalog.*) pg_catalog.pg_column_size(key) "
	"OPERATOR(pg_catalog.+) pg_catalog.pg_column_size(value) OPERATOR(pg_catalog.+) 48 "
	"OPERATOR(pg_catalog.+) COALESCE(2 OPERATOR(pg_catalog.*) pg_catalog.pg_column_size(owner), 0)), 0) "
	"FROM authstore.kv) OPERATOR(pg_catalog.+) "
	"(SELECT COALESCE(pg_catalog.sum(2 OPERATOR(pg_catalog.*) pg_catalog.pg_column_size(key) "
	"OPERATOR(pg_catalog.+) 60), 0) "
	"FROM authstore.rate_limit) OPERATOR(pg_catalog.+) "
	"(SELECT COALESCE(pg_catalog.sum(2 OPERATOR(pg_catalog.*) (pg_catalog.pg_column_size(hash) "
	"OPERATOR(pg_catalog.+) pg_catalog.pg_column_size(subject) "
	"OPERATOR(pg_catalog.+) pg_catalog.pg_column_size(purpose)) OPERATOR(pg_catalog.+) 60), 0) "
	"FROM authstore.token)",
	0, {InvalidOid}
};

static AuthstoreQuotaSlot local_slot;
static bool local_slot_ready = false;

void
authstore_quota_slot_init(AuthstoreQuotaSlot *q)
{
	pg_atomic_init_u64(&q->measured, 0);
	pg_atomic_init_u64(&q->added, 0);
	pg_atomic_init_u64(&q->measured_at, 0);
	pg_atomic_init_u64(&q->measure_usecs, 0);
	pg_atomic_init_u32(&q->measuring, 0);
}

static AuthstoreQuotaSlot *
my_slot(void)
{
	AuthstoreQuotaSlot *q = authstore_quota_shared_slot();

	if (q != NULL)
		return q;
	if (!local_slot_ready)
	{
		authstore_quota_slot_init(&local_slot);
		local_slot_ready = true;
	}
	return &local_slot;
}

static inline uint64
quota_limit(void)
{
	return (uint64) authstore_max_size_kb * 1024;
}

static inline uint64
estimate(AuthstoreQuotaSlot *q)
{
	return pg_atomic_read_u64(&q->measured) + pg_atomic_read_u64(&q->added);
}

/*
 * Measure the tables, unless another backend is doing it.  The writes
 * admitted before the scan's snapshot are in the measurement: they are taken
 * off added, those admitted during the scan stay there (counted twice at
 * worst).
 */
static void
measure(AuthstoreQuotaSlot *q)
{
	uint32		expected = 0;
	uint64		added_before;

	if (!pg_atomic_compare_exchange_u32(&q->measuring, &expected, 1))
		return;
	PG_TRY();
	{
		bool		isnull;
		int64		bytes;
		TimestampTz start = GetCurrentTimestamp();

		added_before = pg_atomic_read_u64(&q->added);
		SPI_connect();
		if (authstore_execute(&measure_plan, NULL, NULL, false, 1) != 1)
			elog(ERROR, "authstore: measurement of the tables returned no row");
		bytes = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											SPI_tuptable->tupdesc, 1, &isnull));
		SPI_finish();
		pg_atomic_write_u64(&q->measured, (uint64) Max(bytes, 0));
		pg_atomic_fetch_sub_u64(&q->added, (int64) added_before);
		pg_atomic_write_u64(&q->measured_at, (uint64) GetCurrentTimestamp());
		pg_atomic_write_u64(&q->measure_usecs,
							(uint64) Max(GetCurrentTimestamp() - start, 0));
	}
	PG_FINALLY();
	{
		pg_atomic_write_u32(&q->measuring, 0);
	}
	PG_END_TRY();
}

/*
 * Whether a write of bytes would take the estimate over the limit,
 * measuring first when the estimate is stale.  Always false with the quota
 * off, at the cost of one comparison.
 */
bool
authstore_quota_over(Size bytes)
{
	AuthstoreQuotaSlot *q;
	uint64		limit;
	TimestampTz measured_at;
	TimestampTz now;

	if (authstore_max_size_kb <= 0)
		return false;
	q = my_slot();
	limit = quota_limit();
	measured_at = (TimestampTz) pg_atomic_read_u64(&q->measured_at);
	now = GetCurrentTimestamp();
	/*
	 * Over the limit, measure again after a second, or after ten times the
	 * last measurement took if that is longer: big tables are then scanned
	 * at most a tenth of the time.
	 */
	if (measured_at == 0 ||
		TimestampDifferenceExceeds(measured_at, now, REMEASURE_ALWAYS_MS) ||
		(estimate(q) + bytes > limit &&
		 TimestampDifferenceExceeds(measured_at, now,
									Max(REMEASURE_OVER_MS,
										(int) Min(pg_atomic_read_u64(&q->measure_usecs) / 100,
												  REMEASURE_ALWAYS_MS)))))
		measure(q);
	return estimate(q) + bytes > limit;
}

/* Refuse a write that would add data: the estimate is over the quota. */
void
authstore_quota_refuse(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("authstore storage quota exceeded"),
			 errdetail("The tables hold about " UINT64_FORMAT " bytes in this database; authstore.max_size is " UINT64_FORMAT " bytes.",
					   estimate(my_slot()), quota_limit()),
			 errhint("Delete keys or let expired ones be swept; a superuser can raise authstore.max_size.")));
}

/*
 * Admit a write that adds about bytes to the tables, or refuse it.  Called
 * before a function chooses between its direct path and its statement, so
 * that both enforce the quota alike.
 */
void
authstore_quota_check(Size bytes)
{
	if (authstore_max_size_kb <= 0)
		return;
	if (authstore_quota_over(bytes))
		authstore_quota_refuse();
	authstore_quota_admit(bytes);
}

/* Count a write the caller let through (after authstore_quota_over()). */
void
authstore_quota_admit(Size bytes)
{
	if (authstore_max_size_kb > 0)
		pg_atomic_fetch_add_u64(&my_slot()->added, bytes);
}
