/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The expiry background workers.
 *
 * A static "authstore launcher", registered when the library is preloaded,
 * connects to no database.  It reads authstore.database (reloadable) and
 * keeps one dynamic "authstore sweeper" per listed database that exists,
 * starting one again when it stops and stopping those no longer listed.  A
 * listed database that does not exist is logged once and checked again every
 * RECHECK_MS; it never makes anything crash-loop.
 *
 * A sweeper connects to its database and, every authstore.sweep_interval,
 * deletes expired rows in batches of authstore.sweep_batch_size, each batch
 * in its own short transaction, napping between batches as VACUUM does
 * (authstore.sweep_cost_delay, see sweep.c).  If the extension is not
 * installed there it reports so in shared memory and exits rather than stay
 * connected (a connected worker blocks DROP DATABASE, renames and use as a
 * template); the launcher then starts it again only every RECHECK_MS, and
 * the sweeper says so at LOG level only the first time.
 *
 * Dynamic workers outlive the process that registered them, and a restarted
 * launcher knows nothing of its predecessor's sweepers.  A sweeper therefore
 * exits when the launcher that started it is gone (checked between batches
 * and at least every LAUNCHER_CHECK_MS), and holds a per-database session
 * lock, so that no database ever has two sweepers at once.  That lock's tag
 * is one no SQL function can construct (see SWEEPER_LOCK_CLASS): with a tag
 * pg_advisory_lock() can take, any role that can connect could hold or queue
 * for it and stop expiry for good.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/varlena.h"

#include "authstore.h"

PGDLLEXPORT void authstore_launcher_main(Datum main_arg);
PGDLLEXPORT void authstore_sweeper_main(Datum main_arg);

/* How often the launcher re-checks when nothing wakes it; also the pace of
 * re-checks of a missing database or extension. */
#define RECHECK_MS 10000
/* A sweeper is not restarted sooner than this after its previous start. */
#define SWEEPER_RESTART_MS 1000
/* Databases one launcher serves at most (each costs a worker process). */
#define MAX_SWEPT_DATABASES 32
/* How often a sweeper makes sure its launcher is still there. */
#define LAUNCHER_CHECK_MS 1000
/* The launcher's restart delay: must exceed LAUNCHER_CHECK_MS (see above). */
#define LAUNCHER_RESTART_SECS 5

#define LAUNCHER_TYPE "authstore launcher"
#define SWEEPER_TYPE "authstore sweeper"

/*
 * The lock (with the database OID) held by a database's sweeper.  An
 * advisory lock tag whose fourth field is neither 1 (pg_advisory_lock(int8))
 * nor 2 (pg_advisory_lock(int4, int4)): the SQL advisory-lock functions set
 * only those two, so no SQL caller can take, hold or queue for this lock.
 * Other extensions use the same device (Citus' advisory lock classes).
 */
#define SWEEPER_LOCK_KEY1 0x61757468	/* "auth" */
#define SWEEPER_LOCK_KEY2 0x73776570	/* "swep" */
#define SWEEPER_LOCK_CLASS 0x6173	/* "as": not 1 or 2 */
/* A sweeper waiting this long for its lock says so (and again as long). */
#define SWEEPER_LOCK_LOG_MS 10000

/* What a sweeper last found in its database, per launcher slot. */
typedef enum SweeperReport
{
	REPORT_NONE = 0,
	REPORT_SWEEPING,
	REPORT_NO_EXTENSION
} SweeperReport;

typedef struct AuthstoreShared
{
	pg_atomic_uint32 report[MAX_SWEPT_DATABASES];
} AuthstoreShared;

static AuthstoreShared *shared = NULL;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* What a launcher hands a sweeper in bgw_extra. */
typedef struct SweeperArgs
{
	pid_t		launcher_pid;
	int			slot;			/* index into shared->report */
	bool		quiet;			/* a missing extension was already logged */
	char		dbname[NAMEDATALEN];
} SweeperArgs;

StaticAssertDecl(sizeof(SweeperArgs) <= BGW_EXTRALEN,
				 "SweeperArgs must fit in bgw_extra");

typedef struct SweeperSlot
{
	bool		in_use;
	char		dbname[NAMEDATALEN];
	BackgroundWorkerHandle *handle; /* NULL until registered */
	TimestampTz last_start;
	bool		db_missing_logged;	/* said once that the database is missing */
	bool		ext_missing_logged; /* a sweeper said the extension is missing */
	bool		listed;			/* scratch: seen in the current list */
} SweeperSlot;

static SweeperSlot slots[MAX_SWEPT_DATABASES];

/* ---------------------------------------------------------------------
 * Shared memory (only with shared_preload_libraries)
 * ---------------------------------------------------------------------
 */

static void
shmem_request(void)
{
#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(MAXALIGN(sizeof(AuthstoreShared)));
	RequestAddinShmemSpace(authstore_stats_shmem_size());
}

static void
shmem_startup(void)
{
	bool		found;
	int			i;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("authstore", sizeof(AuthstoreShared), &found);
	if (!found)
		for (i = 0; i < MAX_SWEPT_DATABASES; i++)
			pg_atomic_init_u32(&shared->report[i], REPORT_NONE);
	authstore_stats_shmem_init();
	LWLockRelease(AddinShmemInitLock);
}

/* The fields the launcher and the sweepers share. */
static void
init_worker(BackgroundWorker *worker, const char *function, int restart_time,
			const char *type)
{
	memset(worker, 0, sizeof(*worker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker->bgw_restart_time = restart_time;
	snprintf(worker->bgw_library_name, BGW_MAXLEN, "authstore");
	snprintf(worker->bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(worker->bgw_type, BGW_MAXLEN, "%s", type);
}

/* Called from _PG_init while shared_preload_libraries is processed. */
void
authstore_register_launcher(void)
{
	BackgroundWorker worker;

#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = shmem_request;
#else
	shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = shmem_startup;

	init_worker(&worker, "authstore_launcher_main", LAUNCHER_RESTART_SECS,
				LAUNCHER_TYPE);
	snprintf(worker.bgw_name, BGW_MAXLEN, LAUNCHER_TYPE);
	RegisterBackgroundWorker(&worker);
}

/*
 * GUC check hook for authstore.database: a list of at most
 * MAX_SWEPT_DATABASES valid database names.
 */
bool
authstore_check_database_list(char **newval, void **extra, GucSource source)
{
	char	   *raw = pstrdup(*newval);
	List	   *names;
	ListCell   *lc;
	bool		ok = true;

	if (!SplitGUCList(raw, ',', &names))
	{
		GUC_check_errdetail("List syntax is invalid.");
		ok = false;
	}
	else if (list_length(names) > MAX_SWEPT_DATABASES)
	{
		GUC_check_errdetail("At most %d databases can be listed.", MAX_SWEPT_DATABASES);
		ok = false;
	}
	else
	{
		foreach(lc, names)
		{
			if (strlen((char *) lfirst(lc)) >= NAMEDATALEN)
			{
				GUC_check_errdetail("Database name \"%s\" is too long.",
									(char *) lfirst(lc));
				ok = false;
				break;
			}
		}
	}
	list_free(names);
	pfree(raw);
	return ok;
}

/* ---------------------------------------------------------------------
 * Launcher
 * ---------------------------------------------------------------------
 */

static bool
start_sweeper(SweeperSlot *slot, Oid dboid)
{
	BackgroundWorker worker;
	SweeperArgs args;
	MemoryContext old;
	bool		registered;

	/* the launcher restarts it; a crash restart brings the launcher back */
	init_worker(&worker, "authstore_sweeper_main", BGW_NEVER_RESTART, SWEEPER_TYPE);
	snprintf(worker.bgw_name, BGW_MAXLEN, "authstore sweeper for database \"%s\"",
			 slot->dbname);
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	memset(&args, 0, sizeof(args));
	args.launcher_pid = MyProcPid;
	args.slot = slot - slots;
	args.quiet = slot->ext_missing_logged;
	strlcpy(args.dbname, slot->dbname, NAMEDATALEN);
	memcpy(worker.bgw_extra, &args, sizeof(args));
	worker.bgw_notify_pid = MyProcPid;

	if (slot->handle != NULL)
	{
		pfree(slot->handle);
		slot->handle = NULL;
	}
	slot->last_start = GetCurrentTimestamp();
	pg_atomic_write_u32(&shared->report[args.slot], REPORT_NONE);

	/* the handle outlives this cycle and its transaction */
	old = MemoryContextSwitchTo(TopMemoryContext);
	registered = RegisterDynamicBackgroundWorker(&worker, &slot->handle);
	MemoryContextSwitchTo(old);
	if (!registered)
	{
		ereport(LOG,
				(errmsg("could not start an authstore sweeper for database \"%s\"",
						slot->dbname),
				 errhint("Consider increasing max_worker_processes.")));
		slot->handle = NULL;
		return false;
	}
	return true;
}

/*
 * The OID of a database by name, or InvalidOid.  A heap scan with a catalog
 * snapshot, as the autovacuum launcher does: a process connected to no
 * database may read pg_database but not use every catalog index.
 */
static Oid
database_oid(const char *name)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	Oid			result = InvalidOid;

	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (strcmp(NameStr(db->datname), name) == 0 && db->datallowconn)
		{
			result = db->oid;
			break;
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	return result;
}

static bool
sweeper_running(SweeperSlot *slot)
{
	pid_t		pid;

	return slot->handle != NULL &&
		GetBackgroundWorkerPid(slot->handle, &pid) != BGWH_STOPPED;
}

/*
 * Make the running sweepers match authstore.database.  Returns how long the
 * launcher may sleep before it should look again.
 */
static long
launcher_reconcile(void)
{
	char	   *raw = pstrdup(authstore_database);
	List	   *names = NIL;
	ListCell   *lc;
	long		nap = RECHECK_MS;
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	/* the check hook accepted the value, so it parses */
	(void) SplitGUCList(raw, ',', &names);

	for (i = 0; i < MAX_SWEPT_DATABASES; i++)
		slots[i].listed = false;

	StartTransactionCommand();
	foreach(lc, names)
	{
		char	   *name = (char *) lfirst(lc);
		SweeperSlot *slot = NULL;
		SweeperSlot *free_slot = NULL;
		Oid			dboid;
		uint32		report;
		long		delay;

		for (i = 0; i < MAX_SWEPT_DATABASES; i++)
		{
			if (slots[i].in_use && strcmp(slots[i].dbname, name) == 0)
				slot = &slots[i];
			else if (!slots[i].in_use && free_slot == NULL)
				free_slot = &slots[i];
		}
		if (slot == NULL)
		{
			if (free_slot == NULL)
				continue;		/* duplicates only: the hook bounds the count */
			slot = free_slot;
			memset(slot, 0, sizeof(*slot));
			slot->in_use = true;
			strlcpy(slot->dbname, name, NAMEDATALEN);
		}
		slot->listed = true;

		if (sweeper_running(slot))
			continue;

		/*
		 * Pace the restarts: every RECHECK_MS while the database or the
		 * extension is missing, else SWEEPER_RESTART_MS.
		 */
		report = pg_atomic_read_u32(&shared->report[slot - slots]);
		if (report == REPORT_NO_EXTENSION)
			slot->ext_missing_logged = true;
		else if (report == REPORT_SWEEPING)
			slot->ext_missing_logged = false;
		delay = (slot->db_missing_logged || report == REPORT_NO_EXTENSION) ?
			RECHECK_MS : SWEEPER_RESTART_MS;
		if (slot->last_start != 0 &&
			!TimestampDifferenceExceeds(slot->last_start, now, delay))
		{
			TimestampTz due = TimestampTzPlusMilliseconds(slot->last_start, delay);

			nap = Min(nap, Max(authstore_ms_until(now, due), 1));
			continue;
		}

		dboid = database_oid(name);
		if (!OidIsValid(dboid))
		{
			if (!slot->db_missing_logged)
				ereport(LOG,
						(errmsg("database \"%s\" listed in authstore.database does not exist or does not allow connections",
								name),
						 errdetail("It will be checked again every %d seconds.",
								   RECHECK_MS / 1000)));
			slot->db_missing_logged = true;
			slot->last_start = now; /* pace the re-checks */
			continue;
		}
		slot->db_missing_logged = false;

		(void) start_sweeper(slot, dboid);
	}
	CommitTransactionCommand();

	/* stop the sweepers of databases no longer listed */
	for (i = 0; i < MAX_SWEPT_DATABASES; i++)
	{
		if (slots[i].in_use && !slots[i].listed)
		{
			if (slots[i].handle != NULL)
			{
				TerminateBackgroundWorker(slots[i].handle);
				pfree(slots[i].handle);
			}
			slots[i].in_use = false;
			slots[i].handle = NULL;
		}
	}

	list_free(names);
	pfree(raw);
	return nap;
}

void
authstore_launcher_main(Datum main_arg)
{
	MemoryContext cycle_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* no database: only shared catalogs (pg_database) are needed */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	cycle_cxt = AllocSetContextCreate(TopMemoryContext,
									  "authstore launcher cycle",
									  ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		long		nap;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		/* handles live in TopMemoryContext; everything else is per cycle */
		old = MemoryContextSwitchTo(cycle_cxt);
		nap = launcher_reconcile();
		MemoryContextSwitchTo(old);
		MemoryContextReset(cycle_cxt);

		/* a sweeper starting or stopping sets our latch (bgw_notify_pid) */
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 nap, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ---------------------------------------------------------------------
 * Sweeper
 * ---------------------------------------------------------------------
 */

static SweeperArgs my_args;

/* Is the launcher that started this sweeper still running? */
static bool
launcher_alive(void)
{
	const char *type = GetBackgroundWorkerTypeByPid(my_args.launcher_pid);

	return type != NULL && strcmp(type, LAUNCHER_TYPE) == 0;
}

static void
exit_if_orphaned(void)
{
	if (!launcher_alive())
	{
		ereport(DEBUG1,
				(errmsg("authstore launcher exited; sweeper for database \"%s\" exits",
						my_args.dbname)));
		proc_exit(0);
	}
}

/*
 * Take this database's sweeper lock, waiting while a predecessor (say, one
 * whose launcher died while it was blocked mid-sweep) still holds it.
 */
static void
acquire_sweeper_lock(void)
{
	LOCKTAG		tag;
	TimestampTz wait_start = GetCurrentTimestamp();
	TimestampTz logged = wait_start;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, SWEEPER_LOCK_KEY1, SWEEPER_LOCK_KEY2,
						 SWEEPER_LOCK_CLASS);
	for (;;)
	{
		LockAcquireResult res;
		TimestampTz now;

		StartTransactionCommand();
		res = LockAcquire(&tag, ExclusiveLock, true, true);
		CommitTransactionCommand();
		if (res != LOCKACQUIRE_NOT_AVAIL)
			return;

		exit_if_orphaned();

		/* a sweeper that cannot start must not be silent about it */
		now = GetCurrentTimestamp();
		if (TimestampDifferenceExceeds(logged, now, SWEEPER_LOCK_LOG_MS))
		{
			ereport(LOG,
					(errmsg("authstore sweeper for database \"%s\" cannot start: another sweeper of this database has not exited",
							my_args.dbname),
					 errdetail("It has waited %ld seconds and keeps waiting.",
							   authstore_ms_until(wait_start, now) / 1000)));
			logged = now;
		}
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 LAUNCHER_CHECK_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* The sweeper: reload the configuration if a SIGHUP asked for it. */
static void
sweeper_reload_config(void)
{
	if (!ConfigReloadPending)
		return;
	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);
	ereport(DEBUG1,
			(errmsg("authstore: sweeper reloaded: interval %d ms, batch %d, cost delay %g ms, cost limit %d",
					authstore_sweep_interval_ms, authstore_sweep_batch_size,
					authstore_sweep_cost_delay, authstore_sweep_cost_limit)));
}

/*
 * One sweep cycle: batches in their own transactions for as long as they
 * find expired rows, with naps between them (see sweep.c).  Returns the rows
 * deleted; sets *installed.
 */
static uint64
sweep_database(bool *installed)
{
	uint64		total = 0;
	bool		more = true;
	TimestampTz start = GetCurrentTimestamp();

	authstore_sweep_cycle_start();
	/* VACUUM's cost accounting, for authstore_sweep_delay() (see sweep.c) */
	VacuumCostActive = authstore_sweep_cost_delay > 0;
	VacuumCostBalance = 0;
	while (more)
	{
		CHECK_FOR_INTERRUPTS();

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "authstore: sweeping expired rows");

		*installed = OidIsValid(get_extension_oid("authstore", true));
		if (!*installed)
		{
			PopActiveSnapshot();
			CommitTransactionCommand();
			break;
		}

		total += authstore_sweep_batch(GetCurrentTimestamp(),
									   authstore_sweep_batch_size, &more);
		PopActiveSnapshot();
		CommitTransactionCommand();
		exit_if_orphaned();
		if (!more)
			break;
		authstore_sweep_delay();
		/* a long sweep takes new pacing settings between batches */
		sweeper_reload_config();
		VacuumCostActive = authstore_sweep_cost_delay > 0;
	}
	VacuumCostActive = false;
	if (*installed)
		authstore_stat_sweep_cycle(start, GetCurrentTimestamp(), total,
								   authstore_sweep_unswept_estimate());

	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return total;
}

void
authstore_sweeper_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	MemoryContext cycle_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	memcpy(&my_args, MyBgworkerEntry->bgw_extra, sizeof(my_args));

	/*
	 * Database- or server-wide defaults meant for applications must not turn
	 * the sweeper's short batches into serializable or read-only ones.
	 */
	SetConfigOption("default_transaction_isolation", "read committed",
					PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_read_only", "off",
					PGC_SUSET, PGC_S_OVERRIDE);

	/*
	 * The sweeper's pacing is authstore.sweep_cost_delay/_limit, set in
	 * postgresql.conf only, and its costs are VACUUM's page costs: pin those
	 * at PostgreSQL's defaults, or a database owner could slow the sweeper
	 * down a thousandfold (ALTER DATABASE ... SET vacuum_cost_page_hit =
	 * 10000) or make every batch fail (statement_timeout).
	 */
	SetConfigOption("vacuum_cost_page_hit", "1", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("vacuum_cost_page_miss", "2", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("vacuum_cost_page_dirty", "20", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("statement_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("lock_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);

	acquire_sweeper_lock();

	cycle_cxt = AllocSetContextCreate(TopMemoryContext,
									  "authstore sweeper cycle",
									  ALLOCSET_DEFAULT_SIZES);

	ereport(DEBUG1,
			(errmsg("authstore: sweeper started for database \"%s\", interval %d ms, batch %d, cost delay %g ms, cost limit %d",
					my_args.dbname, authstore_sweep_interval_ms,
					authstore_sweep_batch_size, authstore_sweep_cost_delay,
					authstore_sweep_cost_limit)));

	for (;;)
	{
		volatile bool installed = true;
		volatile uint64 deleted = 0;
		TimestampTz next_sweep;

		CHECK_FOR_INTERRUPTS();
		sweeper_reload_config();

		MemoryContextSwitchTo(cycle_cxt);

		/*
		 * A failed sweep (say, DROP EXTENSION committing mid-cycle) is
		 * reported and retried next cycle instead of ending the worker.
		 */
		PG_TRY();
		{
			bool		found;

			deleted = sweep_database(&found);
			installed = found;
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(cycle_cxt);
			HOLD_INTERRUPTS();
			EmitErrorReport();
			FlushErrorState();
			AbortCurrentTransaction();
			VacuumCostActive = false;
			pgstat_report_activity(STATE_IDLE, NULL);
			RESUME_INTERRUPTS();
		}
		PG_END_TRY();

		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(cycle_cxt);

		if (!installed)
		{
			/* exit rather than stay connected; the launcher checks back */
			ereport(my_args.quiet ? DEBUG1 : LOG,
					(errmsg("extension \"authstore\" is not installed in database \"%s\"; not sweeping it",
							my_args.dbname),
					 errdetail("It will be checked again every %d seconds.", RECHECK_MS / 1000),
					 errhint("Run CREATE EXTENSION authstore there, or remove the database from authstore.database.")));
			pg_atomic_write_u32(&shared->report[my_args.slot], REPORT_NO_EXTENSION);
			proc_exit(0);
		}
		pg_atomic_write_u32(&shared->report[my_args.slot], REPORT_SWEEPING);

		if (deleted > 0)
			ereport(DEBUG1,
					(errmsg("authstore: swept " UINT64_FORMAT " expired rows", deleted)));

		/* nap until the next sweep, looking for the launcher meanwhile */
		next_sweep = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												 authstore_sweep_interval_ms);
		for (;;)
		{
			long		nap = authstore_ms_until(GetCurrentTimestamp(), next_sweep);

			exit_if_orphaned();
			if (nap <= 0)
				break;
			(void) WaitLatch(MyLatch,
							 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 Min(nap, LAUNCHER_CHECK_MS), PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
			if (ConfigReloadPending)
				break;			/* the interval may have changed: start over */
		}
	}
}
