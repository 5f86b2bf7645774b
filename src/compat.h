/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Every difference between the PostgreSQL versions authstore builds
 *	  against (15, 17 and 18, each tested in CI by test/matrix.sh), in one
 *	  place, so that the modules use one spelling of each API.
 *
 *	  Older versions are refused here rather than half-supported: their
 *	  shims were never compiled or tested.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUTHSTORE_COMPAT_H
#define AUTHSTORE_COMPAT_H

#include "postgres.h"

#include "access/genam.h"
#include "fmgr.h"
#include "funcapi.h"

#if PG_VERSION_NUM < 150000
#error "authstore needs PostgreSQL 15 or later (15, 17 and 18 are tested)"
#endif

/*
 * The module's magic block.  From 18 on it also carries the name and
 * version that pg_get_loaded_modules() reports.  AUTHSTORE_VERSION comes
 * from the Makefile's EXTVERSION.
 */
#if PG_VERSION_NUM >= 180000
#define AUTHSTORE_MODULE_MAGIC \
	PG_MODULE_MAGIC_EXT(.name = "authstore", .version = AUTHSTORE_VERSION)
#else
#define AUTHSTORE_MODULE_MAGIC PG_MODULE_MAGIC
#endif

/* fmgr.h declares _PG_init from 16 on. */
#if PG_VERSION_NUM < 160000
extern void _PG_init(void);
#endif

/*
 * index_beginscan gained an IndexScanInstrumentation * (EXPLAIN ANALYZE's
 * index search counts) before nkeys in 18; authstore's scans are not
 * instrumented.
 */
#if PG_VERSION_NUM >= 180000
#define authstore_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan((heap), (index), (snapshot), NULL, (nkeys), (norderbys))
#else
#define authstore_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan((heap), (index), (snapshot), (nkeys), (norderbys))
#endif

/* PostgreSQL 16 renamed SetSingleFuncCall() to InitMaterializedSRF() */
#if PG_VERSION_NUM < 160000
#define InitMaterializedSRF(fcinfo, flags) SetSingleFuncCall(fcinfo, flags)
#endif

#endif							/* AUTHSTORE_COMPAT_H */
