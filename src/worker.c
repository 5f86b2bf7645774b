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
#include "commands/dbcommands.h"
#include "commands/defrem.h"
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
#include "tcop/utility.h"
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

/*
 * What a running sweeper (or a probe: a sweeper that finds no extension)
 * publishes about itself, per launcher slot, so that a backend about to drop
 * or rename its database, or to copy it, can ask it to leave (see
 * authstore_process_utility): PostgreSQL waits for, but never terminates,
 * other background workers connected to such a database.
 */
typedef struct SweeperPresence
{
	pg_atomic_uint32 dboid;		/* database connected to */
	pg_atomic_uint32 pid;		/* 0 = none */
	pg_atomic_uint32 stop;		/* asked to exit */
	pg_atomic_uint64 paused_until;	/* TimestampTz: not restarted before */
	Latch	   *latch;
} SweeperPresence;

typedef struct AuthstoreShared
{
	pg_atomic_uint32 report[MAX_SWEPT_DATABASES];
	SweeperPresence presence[MAX_SWEPT_DATABASES];
	/* bumped after a commit that may have added a database to sweep */
	pg_atomic_uint32 kick;
	Latch	   *launcher_latch;
} AuthstoreShared;

static AuthstoreShared *shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static ProcessUtility_hook_type prev_process_utility = NULL;
/* this transaction created the extension or a database: wake the launcher */
static bool kick_at_commit = false;
/* how long a database being dropped, renamed or copied keeps no sweeper */
#define PAUSE_MS 10000
/* how long such a command waits for a sweeper to leave */
#define LEAVE_WAIT_MS 10000
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* What a launcher hands a sweeper in bgw_extra. */
typedef struct SweeperArgs
{
	pid_t		launcher_pid;
	int			slot;			/* index into shared->report */
	bool		quiet;			/* a missing extension was already logged, or
								 * the launcher is discovering databases */
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
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
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
	{
		for (i = 0; i < MAX_SWEPT_DATABASES; i++)
		{
			pg_atomic_init_u32(&shared->report[i], REPORT_NONE);
			pg_atomic_init_u32(&shared->presence[i].dboid, InvalidOid);
			pg_atomic_init_u32(&shared->presence[i].pid, 0);
			pg_atomic_init_u32(&shared->presence[i].stop, 0);
			pg_atomic_init_u64(&shared->presence[i].paused_until, 0);
			shared->presence[i].latch = NULL;
		}
		pg_atomic_init_u32(&shared->kick, 0);
		shared->launcher_latch = NULL;
	}
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

/*
 * Ask the sweepers connected to database dboid to exit, keep the launcher
 * from starting one there for PAUSE_MS, and wait (at most LEAVE_WAIT_MS)
 * until they are gone.
 */
static void
sweepers_leave(Oid dboid)
{
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), PAUSE_MS);
	TimestampTz give_up = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), LEAVE_WAIT_MS);
	int			i;

	if (shared == NULL || !OidIsValid(dboid))
		return;
	for (i = 0; i < MAX_SWEPT_DATABASES; i++)
	{
		SweeperPresence *p = &shared->presence[i];

		if (pg_atomic_read_u32(&p->dboid) != dboid)
			continue;
		pg_atomic_write_u64(&p->paused_until, (uint64) until);
		pg_atomic_write_u32(&p->stop, 1);
		pg_memory_barrier();
		if (pg_atomic_read_u32(&p->pid) != 0 && p->latch != NULL)
			SetLatch(p->latch);
	}
	for (;;)
	{
		bool		present = false;

		for (i = 0; i < MAX_SWEPT_DATABASES; i++)
			present |= pg_atomic_read_u32(&shared->presence[i].dboid) == dboid &&
				pg_atomic_read_u32(&shared->presence[i].pid) != 0;
		if (!present || GetCurrentTimestamp() >= give_up)
			return;
		CHECK_FOR_INTERRUPTS();
		pg_usleep(10 * 1000L);
	}
}

static void
kick_launcher(XactEvent event, void *arg)
{
	if (!kick_at_commit)
		return;
	if (event == XACT_EVENT_COMMIT)
	{
		pg_atomic_fetch_add_u32(&shared->kick, 1);
		pg_memory_barrier();
		if (shared->launcher_latch != NULL)
			SetLatch(shared->launcher_latch);
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT)
		kick_at_commit = false;
}

/* The name of the template database of a CREATE DATABASE, or NULL. */
static const char *
createdb_template(CreatedbStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->options)
	{
		DefElem    *d = (DefElem *) lfirst(lc);

		if (strcmp(d->defname, "template") == 0 && d->arg != NULL)
			return defGetString(d);
	}
	return "template1";
}

/*
 * Before DROP DATABASE, ALTER DATABASE ... RENAME and CREATE DATABASE ...
 * TEMPLATE, which fail while anyone else is connected to the database, make
 * its sweeper leave.  After CREATE EXTENSION authstore or CREATE DATABASE
 * commits, wake the launcher, so that the new database is swept within
 * about a second.
 */
static void
authstore_process_utility(PlannedStmt *pstmt, const char *queryString,
						  bool readOnlyTree, ProcessUtilityContext context,
						  ParamListInfo params, QueryEnvironment *queryEnv,
						  DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	const char *leaving = NULL;

	switch (nodeTag(parsetree))
	{
		case T_DropdbStmt:
			leaving = ((DropdbStmt *) parsetree)->dbname;
			break;
		case T_RenameStmt:
			if (((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
				leaving = ((RenameStmt *) parsetree)->subname;
			break;
		case T_CreatedbStmt:
			leaving = createdb_template((CreatedbStmt *) parsetree);
			kick_at_commit = true;
			break;
		case T_CreateExtensionStmt:
			if (strcmp(((CreateExtensionStmt *) parsetree)->extname, "authstore") == 0)
				kick_at_commit = true;
			break;
		default:
			break;
	}
	if (leaving != NULL)
		sweepers_leave(get_database_oid(leaving, true));

	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context,
							 params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

/* Called from _PG_init while shared_preload_libraries is processed. */
void
authstore_register_launcher(void)
{
	BackgroundWorker worker;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = shmem_startup;
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = authstore_process_utility;
	RegisterXactCallback(kick_launcher, NULL);

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
start_sweeper(SweeperSlot *slot, Oid dboid, bool discover)
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
	args.quiet = slot->ext_missing_logged || discover;
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
	pg_atomic_write_u32(&shared->presence[args.slot].stop, 0);

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

/*
 * Every database a sweeper may connect to (allows connections, is not a
 * template: a template with a connected sweeper could not be copied), for
 * authstore.database = '*'.  Allocated in cxt.
 */
static List *
all_databases(MemoryContext cxt)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	List	   *result = NIL;

	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (db->datallowconn && !db->datistemplate)
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);

			result = lappend(result, pstrdup(NameStr(db->datname)));
			MemoryContextSwitchTo(old);
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
	MemoryContext cxt = CurrentMemoryContext;
	bool		discover = false;
	uint32		kick = pg_atomic_read_u32(&shared->kick);
	static uint32 seen_kick = 0;
	int			i;

	/* the check hook accepted the value, so it parses */
	(void) SplitGUCList(raw, ',', &names);
	foreach(lc, names)
		discover |= strcmp((char *) lfirst(lc), "*") == 0;

	for (i = 0; i < MAX_SWEPT_DATABASES; i++)
	{
		slots[i].listed = false;

		/*
		 * A database may have got the extension: look at once at those
		 * found without it.
		 */
		if (kick != seen_kick && slots[i].in_use &&
			pg_atomic_read_u32(&shared->report[i]) == REPORT_NO_EXTENSION)
			slots[i].last_start = 0;
	}
	seen_kick = kick;

	StartTransactionCommand();
	if (discover)
		names = all_databases(cxt);
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

		/* being dropped, renamed or copied (authstore_process_utility) */
		{
			TimestampTz paused = (TimestampTz)
				pg_atomic_read_u64(&shared->presence[slot - slots].paused_until);

			if (paused > now)
			{
				nap = Min(nap, Max(authstore_ms_until(now, paused), 1));
				continue;
			}
		}

		/*
		 * Pace the restarts: every RECHECK_MS while the database or the
		 * extension is missing, else SWEEPER_RESTART_MS.
		 */
		report = pg_atomic_read_u32(&shared->report[slot - slots]);
		if (report == REPORT_NO_EXTENSION)
			slot->ext_missing_logged = true;
		else if (report == REPORT_SWEEPING)
			slot->ext_missing_logged = false;

		/*
		 * Discovering, a database without the extension is looked at again
		 * only when a CREATE EXTENSION or CREATE DATABASE commits (kick).
		 */
		if (discover && report == REPORT_NO_EXTENSION && slot->last_start != 0)
			continue;
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

		(void) start_sweeper(slot, dboid, discover);
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
	shared->launcher_latch = MyLatch;

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
	/* asked to leave (authstore_process_utility): a normal exit */
	if (pg_atomic_read_u32(&shared->presence[my_args.slot].stop) != 0)
	{
		ereport(DEBUG1,
				(errmsg("authstore sweeper for database \"%s\" leaves it for a DROP, RENAME or copy of the database",
						my_args.dbname)));
		proc_exit(0);
	}
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

static void
clear_presence(int code, Datum arg)
{
	SweeperPresence *p = &shared->presence[my_args.slot];

	if (pg_atomic_read_u32(&p->pid) == (uint32) MyProcPid)
		pg_atomic_write_u32(&p->pid, 0);
}

/* Say which database this sweeper is in, until it exits. */
static void
publish_presence(Oid dboid)
{
	SweeperPresence *p = &shared->presence[my_args.slot];

	p->latch = MyLatch;
	pg_atomic_write_u32(&p->dboid, dboid);
	pg_atomic_write_u32(&p->pid, (uint32) MyProcPid);
	on_shmem_exit(clear_presence, (Datum) 0);
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
	memcpy(&my_args, MyBgworkerEntry->bgw_extra, sizeof(my_args));
	/* published before connecting, so that a DROP DATABASE finds us */
	publish_presence(dboid);
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);

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
