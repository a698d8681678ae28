/* The tensor listing of --list. */
#include "listing.h"

#include <inttypes.h>
#include <string.h>

#include "format.h"

/* Names what the inferred width of a tensor means: integers that need a
 * sign bit or not, indices into a codebook of distinct floats, or plain
 * floats that were not quantized. */
static const char *bits_kind(const struct ms_tensor_stats *s, bool is_signed)
{
	if (s->all_integer)
		return is_signed ? "signed" : "unsigned";
	if (ms_stats_is_codebook(s))
		return "codebook";
	return "float";
}

static void text_row(FILE *f, const struct ms_tensor *t)
{
	const struct ms_tensor_stats *s = &t->stats;
	char shape[96], range[48], distinct[24], bits[16];
	bool is_signed;
	int b = ms_tensor_infer_bits(t, &is_signed);
	double share = s->elements ? 100.0 * (double)s->nonzero /
					     (double)s->elements : 0;

	ms_format_dims(t->ndim, t->shape, shape, sizeof shape);
	if (s->all_integer && s->elements > 0)
		snprintf(range, sizeof range, "[%.0f, %.0f]", s->min, s->max);
	else
		snprintf(range, sizeof range, "-");
	snprintf(distinct, sizeof distinct, "%s%" PRId64,
		 s->distinct_capped ? ">" : "", s->distinct);
	snprintf(bits, sizeof bits, "%d %s", b, bits_kind(s, is_signed));
	fprintf(f, "%-40s %-8s %-16s %12" PRId64 " %7.2f%% %12" PRId64
		   " %-16s %9s %s",
		t->name, ms_dtype_name(t->dtype), shape, s->nonzero, share,
		s->elements, range, distinct, bits);
	if (t->mask != NULL)
		fprintf(f, "  masked by %s", t->mask);
	/* A key that is not a suffix of the name was given by the reader
	 * (NAME.weight_orig, a quantized Linear's packed parameters). */
	if (strlen(t->key) > strlen(t->name) ||
	    strcmp(t->name + strlen(t->name) - strlen(t->key), t->key) != 0)
		fprintf(f, "  binds as %s", t->key);
	fputc('\n', f);
}

static void json_skipped(FILE *f, const struct ms_checkpoint *ck)
{
	fputs("  \"not_tensors\": [", f);
	for (size_t i = 0; i < ck->skipped_count; i++) {
		const struct ms_skipped *x = &ck->skipped[i];

		fputs(i ? ",\n    {\"name\": " : "\n    {\"name\": ", f);
		ms_json_string(f, x->name);
		fputs(", \"key\": ", f);
		ms_json_string(f, x->key);
		fputs(", \"global\": ", f);
		ms_json_string(f, x->global);
		fputs("}", f);
	}
	fputs(ck->skipped_count ? "\n  ]\n" : "]\n", f);
}

static void json_row(FILE *f, const struct ms_tensor *t)
{
	const struct ms_tensor_stats *s = &t->stats;
	bool is_signed;
	int b = ms_tensor_infer_bits(t, &is_signed);

	fputs("    {\"name\": ", f);
	ms_json_string(f, t->name);
	fputs(", \"key\": ", f);
	ms_json_string(f, t->key);
	fprintf(f, ", \"dtype\": \"%s\", \"shape\": [", ms_dtype_name(t->dtype));
	for (int d = 0; d < t->ndim; d++)
		fprintf(f, "%s%" PRId64, d ? ", " : "", t->shape[d]);
	fprintf(f, "], \"elements\": %" PRId64 ", \"nonzero\": %" PRId64,
		s->elements, s->nonzero);
	fprintf(f, ", \"nonzero_share\": %.17g",
		s->elements ? (double)s->nonzero / (double)s->elements : 0.0);
	fprintf(f, ", \"integer\": %s", s->all_integer ? "true" : "false");
	if (s->all_integer && s->elements > 0)
		fprintf(f, ", \"min\": %.17g, \"max\": %.17g", s->min, s->max);
	fprintf(f, ", \"distinct\": %" PRId64 ", \"distinct_capped\": %s",
		s->distinct, s->distinct_capped ? "true" : "false");
	fprintf(f, ", \"inferred_bits\": %d, \"inferred_kind\": \"%s\"", b,
		bits_kind(s, is_signed));
	fputs(", \"mask\": ", f);
	if (t->mask != NULL)
		ms_json_string(f, t->mask);
	else
		fputs("null", f);
	fputs("}", f);
}

static void csv_row(FILE *f, const struct ms_tensor *t)
{
	const struct ms_tensor_stats *s = &t->stats;
	char shape[96];
	bool is_signed;
	int b = ms_tensor_infer_bits(t, &is_signed);

	ms_format_dims(t->ndim, t->shape, shape, sizeof shape);
	ms_csv_field(f, t->name);
	fputc(',', f);
	ms_csv_field(f, t->key);
	fprintf(f, ",%s,%s,%" PRId64 ",%" PRId64 ",", ms_dtype_name(t->dtype),
		shape, s->elements, s->nonzero);
	if (s->all_integer && s->elements > 0)
		fprintf(f, "%.17g,%.17g", s->min, s->max);
	else
		fputc(',', f);
	fprintf(f, ",%" PRId64 ",%s,%d,%s,", s->distinct,
		s->distinct_capped ? "true" : "false", b,
		bits_kind(s, is_signed));
	if (t->mask != NULL)
		ms_csv_field(f, t->mask);
	fputc('\n', f);
}

int ms_listing_write(FILE *f, enum ms_report_format format,
		     const struct ms_checkpoint *ck)
{
	if (format == MS_REPORT_JSON) {
		fputs("{\n  \"checkpoint\": ", f);
		ms_json_string(f, ck->path);
		fputs(",\n  \"format\": ", f);
		ms_json_string(f, ck->format);
		fputs(",\n  \"tensors\": [\n", f);
		for (size_t i = 0; i < ck->count; i++) {
			json_row(f, &ck->tensors[i]);
			fputs(i + 1 < ck->count ? ",\n" : "\n", f);
		}
		fputs("  ],\n", f);
		json_skipped(f, ck);
		fputs("}\n", f);
	} else if (format == MS_REPORT_CSV) {
		fputs("name,key,dtype,shape,elements,nonzero,min,max,distinct,"
		      "distinct_capped,inferred_bits,inferred_kind,mask\n", f);
		for (size_t i = 0; i < ck->count; i++)
			csv_row(f, &ck->tensors[i]);
	} else {
		fprintf(f, "%-40s %-8s %-16s %12s %8s %12s %-16s %9s %s\n",
			"name", "dtype", "shape", "nonzero", "share",
			"elements", "integer range", "distinct",
			"inferred bits");
		for (size_t i = 0; i < ck->count; i++)
			text_row(f, &ck->tensors[i]);
		/* Objects skipped because they are not tensors. */
		for (size_t i = 0; i < ck->skipped_count; i++)
			fprintf(f, "not tensors: %s (%s)\n",
				ck->skipped[i].name[0] != '\0' ?
				ck->skipped[i].name : "(top level)",
				ck->skipped[i].global);
	}
	return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}
