/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  What differs between the PostgreSQL versions authstore supports
 *	  (15, 17, 18), in one place.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUTHSTORE_COMPAT_H
#define AUTHSTORE_COMPAT_H

#include "funcapi.h"

/* PostgreSQL 16 renamed SetSingleFuncCall() to InitMaterializedSRF() */
#if PG_VERSION_NUM < 160000
#define InitMaterializedSRF(fcinfo, flags) SetSingleFuncCall(fcinfo, flags)
#endif

#endif							/* AUTHSTORE_COMPAT_H */
