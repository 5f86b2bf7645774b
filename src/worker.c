/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The expiry background workers.
 *
 * A static "authstore launcher", registered when the library is preloaded,
 * connects to no database.  It reads authstore.database (reloadable) and
 * keeps one dynamic "authstore sweeper" running per listed database that
 * exists, starting one again when it stops and stopping those no longer
 * listed.  A listed database that does not exist is logged once and checked
 * again every LAUNCHER_NAP_MS; it never makes anything crash-loop.
 *
 * A sweeper connects to its database and, every authstore.sweep_interval,
 * deletes expired rows in batches of authstore.sweep_batch_size, each batch
 * in its own short transaction.  While the extension is not installed there
 * it logs once and only checks again each cycle.
 *
 * Dynamic workers outlive the process that registered them, and a restarted
 * launcher knows nothing of its predecessor's sweepers.  So a sweeper checks
 * at least every LAUNCHER_CHECK_MS that the launcher that started it still
 * runs, and exits when it does not; the launcher's restart delay is longer
 * than that, so no database ever gets two sweepers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/varlena.h"

#include "authstore.h"

PGDLLEXPORT void authstore_launcher_main(Datum main_arg);
PGDLLEXPORT void authstore_sweeper_main(Datum main_arg);

/* How often the launcher re-checks the database list when nothing wakes it. */
#define LAUNCHER_NAP_MS 10000
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

/* What a launcher hands a sweeper in bgw_extra. */
typedef struct SweeperArgs
{
	pid_t		launcher_pid;
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
	bool		missing_logged; /* said once that the database does not exist */
	bool		listed;			/* scratch: seen in the current list */
} SweeperSlot;

static SweeperSlot slots[MAX_SWEPT_DATABASES];

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

void
authstore_register_launcher(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = LAUNCHER_RESTART_SECS;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "authstore");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "authstore_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, LAUNCHER_TYPE);
	snprintf(worker.bgw_type, BGW_MAXLEN, LAUNCHER_TYPE);
	RegisterBackgroundWorker(&worker);
}

static bool
start_sweeper(SweeperSlot *slot, Oid dboid)
{
	BackgroundWorker worker;
	SweeperArgs args;
	MemoryContext old;
	bool		registered;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	/* the launcher restarts it; a crash restart brings the launcher back */
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "authstore");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "authstore_sweeper_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "authstore sweeper for database \"%s\"",
			 slot->dbname);
	snprintf(worker.bgw_type, BGW_MAXLEN, SWEEPER_TYPE);
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	memset(&args, 0, sizeof(args));
	args.launcher_pid = MyProcPid;
	strlcpy(args.dbname, slot->dbname, NAMEDATALEN);
	memcpy(worker.bgw_extra, &args, sizeof(args));
	worker.bgw_notify_pid = MyProcPid;

	if (slot->handle != NULL)
	{
		pfree(slot->handle);
		slot->handle = NULL;
	}
	slot->last_start = GetCurrentTimestamp();

	/* the handle outlives this cycle and its transaction */
	old = MemoryContextSwitchTo(TopMemoryContext);
	registered = RegisterDynamicBackgroundWorker(&worker, &slot->handle);
	MemoryContextSwitchTo(old);
	if (!registered)
	{
		ereport(LOG,
				(errmsg("authstore: could not start a sweeper for database \"%s\"",
						slot->dbname),
				 errhint("Raise max_worker_processes.")));
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
	long		nap = LAUNCHER_NAP_MS;
	int			i;

	/* the check hook accepted the value, so it parses */
	(void) SplitGUCList(raw, ',', &names);

	for (i = 0; i < MAX_SWEPT_DATABASES; i++)
		slots[i].listed = false;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	foreach(lc, names)
	{
		char	   *name = (char *) lfirst(lc);
		SweeperSlot *slot = NULL;
		SweeperSlot *free_slot = NULL;
		Oid			dboid;

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

		dboid = database_oid(name);
		if (!OidIsValid(dboid))
		{
			if (!slot->missing_logged)
				ereport(LOG,
						(errmsg("authstore: database \"%s\" listed in authstore.database does not exist or does not allow connections",
								name),
						 errdetail("It will be checked again every %d seconds.",
								   LAUNCHER_NAP_MS / 1000)));
			slot->missing_logged = true;
			continue;
		}
		slot->missing_logged = false;

		if (!TimestampDifferenceExceeds(slot->last_start, GetCurrentTimestamp(),
										SWEEPER_RESTART_MS))
		{
			nap = Min(nap, SWEEPER_RESTART_MS);
			continue;
		}
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

/*
 * One sweep cycle: batches in their own transactions until a batch comes
 * back short.  Returns the rows deleted; sets *installed.
 */
static uint64
sweep_database(bool *installed)
{
	uint64		total = 0;

	for (;;)
	{
		uint64		deleted;

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

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "authstore: SPI_connect failed");
		deleted = authstore_sweep(GetCurrentTimestamp(), authstore_sweep_batch_size);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();

		total += deleted;
		if (deleted < (uint64) authstore_sweep_batch_size)
			break;
	}

	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return total;
}

/* Is the launcher that started this sweeper still running? */
static bool
launcher_alive(pid_t launcher_pid)
{
	const char *type = GetBackgroundWorkerTypeByPid(launcher_pid);

	return type != NULL && strcmp(type, LAUNCHER_TYPE) == 0;
}

void
authstore_sweeper_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	SweeperArgs args;
	MemoryContext cycle_cxt;
	bool		missing_logged = false;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));

	cycle_cxt = AllocSetContextCreate(TopMemoryContext,
									  "authstore sweeper cycle",
									  ALLOCSET_DEFAULT_SIZES);

	ereport(DEBUG1,
			(errmsg("authstore: sweeper started for database \"%s\", interval %d ms, batch %d",
					args.dbname, authstore_sweep_interval_ms,
					authstore_sweep_batch_size)));

	for (;;)
	{
		volatile bool installed = true;
		volatile uint64 deleted = 0;
		TimestampTz next_sweep;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			ereport(DEBUG1,
					(errmsg("authstore: sweeper reloaded: interval %d ms, batch %d",
							authstore_sweep_interval_ms, authstore_sweep_batch_size)));
		}

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
			pgstat_report_activity(STATE_IDLE, NULL);
			RESUME_INTERRUPTS();
		}
		PG_END_TRY();

		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(cycle_cxt);

		if (!installed && !missing_logged)
			ereport(LOG,
					(errmsg("authstore: extension \"authstore\" is not installed in database \"%s\"; not sweeping",
							args.dbname),
					 errhint("Run CREATE EXTENSION authstore there, or remove the database from authstore.database.")));
		missing_logged = !installed;

		if (deleted > 0)
			ereport(DEBUG1,
					(errmsg("authstore: swept " UINT64_FORMAT " expired rows", deleted)));

		/* nap until the next sweep, looking for the launcher meanwhile */
		next_sweep = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												 authstore_sweep_interval_ms);
		for (;;)
		{
			long		nap = TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
															  next_sweep);

			if (!launcher_alive(args.launcher_pid))
			{
				ereport(DEBUG1,
						(errmsg("authstore: launcher exited; sweeper for database \"%s\" exits",
								args.dbname)));
				proc_exit(0);
			}
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
