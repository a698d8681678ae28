/* The tensor listing of --list: every tensor of a checkpoint with its
 * statistics, as text or JSON. */
#ifndef MS_LISTING_H
#define MS_LISTING_H

#include <stdio.h>

#include "report.h"
#include "tensor.h"

/* Writes the listing of CK to F in FORMAT. Returns 0, or -1 when a write
 * fails. */
int ms_listing_write(FILE *f, enum ms_report_format format,
		     const struct ms_checkpoint *ck);

#endif
