/* Command-line options of the microscore program. */
#ifndef MS_OPTIONS_H
#define MS_OPTIONS_H

#include <stdbool.h>

#include "error.h"
#include "model.h"
#include "report.h"
#include "score.h"

/* The bit width "auto": inferred from the layer's weight. */
#define MS_BITS_AUTO (-1)

/* A precision override named on the command line, not yet bound to a
 * layer: [LAYER=]BITS. */
struct option_bits {
	char *layer;   /* NULL: every conv and linear layer */
	int bits;      /* 1 to 32, or MS_BITS_AUTO */
	bool weight;   /* true for --weight-bits, false for --act-bits */
};

struct options {
	const char *checkpoint;   /* NULL: the default model, or none with
				   * --net */
	const char *net;
	bool report;
	const char *report_file;  /* NULL: standard output */
	bool force;               /* replace an existing report file */
	enum ms_report_format format;
	bool list, nets, describe;
	struct ms_policy policy;
	bool format_given;        /* --format was given */
	bool baseline_given;      /* --baseline was given */
	struct option_bits *bits;
	size_t bits_count;
	char **params;            /* NULL-terminated "NAME=VALUE" strings of
				   * --param, or NULL */
	size_t params_count;
};

enum {
	MS_OPTIONS_RUN,    /* go on */
	MS_OPTIONS_EXIT,   /* --help or --version was printed */
	MS_OPTIONS_USAGE   /* a usage error was printed */
};

/* Parses ARGV into O, printing help, version or a usage error as needed.
 * Returns one of the MS_OPTIONS_ values. */
int ms_options_parse(int argc, char **argv, struct options *o);

/* Turns the --weight-bits and --act-bits options into an override array of
 * NET->count entries (NULL when there are none). Returns 0, or -1 with ERR
 * set when a named layer does not exist or has no weights. */
int ms_options_resolve_overrides(const struct options *o,
				 const struct ms_net *net,
				 struct ms_override **out,
				 struct ms_error *err);

void ms_options_free(struct options *o);

#endif
