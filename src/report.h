/* Reports written from a computed score table: text, JSON and CSV. The
 * explorer's export and the batch mode both call these. */
#ifndef MS_REPORT_H
#define MS_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "model.h"
#include "score.h"

enum ms_report_format {
	MS_REPORT_TEXT,
	MS_REPORT_JSON,
	MS_REPORT_CSV
};

/* Parses "text", "json" or "csv". Returns 0, or -1 for another word. */
int ms_report_format_parse(const char *word, enum ms_report_format *out);

/* The inputs of a report. CHECKPOINT is NULL when the description was
 * scored alone; OVERRIDES is NULL or has NET->count entries. */
struct ms_report_input {
	const char *checkpoint;
	const struct ms_net *net;
	const struct ms_table *table;
	const struct ms_override *overrides;
};

/* Writes the report to F. Returns 0, or -1 when a write fails. */
int ms_report_write(FILE *f, enum ms_report_format format,
		    const struct ms_report_input *in);

/* Writes the report to PATH atomically: into a temporary file in the same
 * directory, renamed over PATH only when complete. Refuses to replace an
 * existing PATH unless REPLACE is true. Returns 0, or -1 with ERR set
 * ("PATH: problem"); EXISTS is set to true when PATH already existed and
 * REPLACE was false. */
int ms_report_save(const char *path, bool replace, enum ms_report_format format,
		   const struct ms_report_input *in, bool *exists,
		   struct ms_error *err);

#endif
