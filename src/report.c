/* Text, JSON and CSV reports from a score table, and the atomic file
 * writer that the explorer's export and the batch mode share. */
#include <config.h>

#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format.h"

int ms_report_format_parse(const char *word, enum ms_report_format *out)
{
	if (strcmp(word, "text") == 0)
		*out = MS_REPORT_TEXT;
	else if (strcmp(word, "json") == 0)
		*out = MS_REPORT_JSON;
	else if (strcmp(word, "csv") == 0)
		*out = MS_REPORT_CSV;
	else
		return -1;
	return 0;
}

static const char *rules_name(enum ms_rules rules)
{
	return rules == MS_RULES_PUBLISHED ? "published" : "challenge";
}

static const char *accum_name(enum ms_accum accum)
{
	switch (accum) {
	case MS_ACCUM_TREE:
		return "tree";
	case MS_ACCUM_FIXED:
		return "fixed";
	case MS_ACCUM_FP32:
		return "fp32";
	default:
		return "default";
	}
}

static const char *prec_name(enum ms_precision prec)
{
	return prec == MS_PREC_FP16 ? "fp16" : "fp32";
}

/* True for the layers whose cost depends on weight and activation bits. */
static bool has_bits(const struct ms_layer *l)
{
	return l->kind == MS_LAYER_CONV || l->kind == MS_LAYER_LINEAR;
}

/* Returns the layer's sparsity as a fraction, or -1 when it has no
 * weight. */
static double layer_sparsity(const struct ms_layer *l)
{
	if (l->weight_elements <= 0)
		return -1;
	return 1.0 - (double)l->weight_nonzero / (double)l->weight_elements;
}

static bool overridden(const struct ms_report_input *in, size_t i)
{
	return in->overrides != NULL && (in->overrides[i].weight_bits > 0 ||
					 in->overrides[i].act_bits > 0);
}

static void text_header(FILE *f, const struct ms_report_input *in)
{
	const struct ms_policy *p = &in->table->policy;

	fprintf(f, "microscore %s report\n\n", PACKAGE_VERSION);
	fprintf(f, "checkpoint:   %s\n",
		in->checkpoint ? in->checkpoint : "(none: dense, declared bits)");
	fprintf(f, "network:      %s (%s)\n", in->net->name, in->net->path);
	if (p->type >= 0)
		fprintf(f, "score type:   %d (%s)\n", p->type,
			ms_score_type_text(p->type));
	else
		fprintf(f, "score type:   custom\n");
	fprintf(f, "policy:       accumulation %s, scale %s, pools %s, "
		   "%s rules%s%s\n",
		accum_name(p->accum), prec_name(p->scale_prec),
		prec_name(p->pool_prec), rules_name(p->rules),
		p->count_quant ? ", quant counted" : "",
		p->fold_bn ? ", batch norm folded" : "");
	fprintf(f, "baseline:     %.6g ops, %.6g params\n\n", p->op_baseline,
		p->param_baseline);
}

static void text_layers(FILE *f, const struct ms_report_input *in)
{
	const struct ms_net *net = in->net;
	const struct ms_table *t = in->table;
	char shape[64], out[64], sparsity[16], wbits[8], abits[8];

	fprintf(f, "%-28s %-10s %-14s %-12s %8s %5s %5s %16s %12s %7s\n",
		"layer", "kind", "weight", "output", "sparsity", "wbits",
		"abits", "ops", "params", "ops%");
	for (size_t i = 0; i < net->count; i++) {
		const struct ms_layer *l = &net->layers[i];
		const struct ms_cost *c = &t->rows[i];
		double sp = layer_sparsity(l);

		ms_format_weight_shape(l, shape, sizeof shape);
		ms_format_shape(&l->out, out, sizeof out);
		if (sp < 0)
			snprintf(sparsity, sizeof sparsity, "-");
		else
			snprintf(sparsity, sizeof sparsity, "%.2f%%", 100 * sp);
		ms_format_bits(c->weight_bits, wbits, sizeof wbits);
		ms_format_bits(has_bits(l) ? c->act_bits : 0, abits,
			       sizeof abits);
		fprintf(f, "%*s%-*s %-10s %-14s %-12s %8s %5s %5s %16.4f "
			   "%12.4f %6.2f%%%s\n",
			l->depth * 2, "", 28 - l->depth * 2, l->name,
			ms_layer_kind_name(l->kind), shape, out, sparsity,
			wbits, abits, c->ops, c->params,
			t->ops > 0 ? 100 * c->ops / t->ops : 0.0,
			overridden(in, i) ? "  (override)" : "");
	}
}

static void text_names(FILE *f, const char *title, char **names, size_t n)
{
	if (n == 0)
		return;
	fprintf(f, "\n%s (%zu):\n", title, n);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %s\n", names[i]);
}

/* Writes a score with six decimals, as the published tables do, or with
 * six significant digits when six decimals would show it as zero. */
static void text_score(FILE *f, const char *label, double score)
{
	if (score != 0 && fabs(score) < 0.5e-6)
		fprintf(f, "  %s %.6g\n", label, score);
	else
		fprintf(f, "  %s %.6f\n", label, score);
}

static void write_text(FILE *f, const struct ms_report_input *in)
{
	const struct ms_table *t = in->table;

	text_header(f, in);
	text_layers(f, in);
	fprintf(f, "\ntotals\n");
	fprintf(f, "  ops          %.6f\n", t->ops);
	fprintf(f, "  params       %.6f\n", t->params);
	text_score(f, "op score    ", t->op_score);
	text_score(f, "param score ", t->param_score);
	text_score(f, "score       ", t->score);
	text_names(f, "tensors not found in the checkpoint", in->net->missing,
		   in->net->missing_count);
	text_names(f, "checkpoint tensors no layer uses", in->net->unused,
		   in->net->unused_count);
}

static void json_names(FILE *f, const char *key, char **names, size_t n)
{
	fprintf(f, "  \"%s\": [", key);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ", " : "", f);
		ms_json_string(f, names[i]);
	}
	fputs("]", f);
}

/* Writes ', "KEY": BITS', or null when BITS is 0 (no such width). */
static void json_bits(FILE *f, const char *key, int bits)
{
	if (bits > 0)
		fprintf(f, ", \"%s\": %d", key, bits);
	else
		fprintf(f, ", \"%s\": null", key);
}

static void json_layer(FILE *f, const struct ms_report_input *in, size_t i)
{
	const struct ms_layer *l = &in->net->layers[i];
	const struct ms_cost *c = &in->table->rows[i];

	fputs("    {\"name\": ", f);
	ms_json_string(f, l->name);
	fprintf(f, ", \"kind\": \"%s\", \"has_tensors\": %s",
		ms_layer_kind_name(l->kind), l->has_tensors ? "true" : "false");
	fprintf(f, ", \"output\": [%" PRId64 ", %" PRId64 ", %" PRId64 "]",
		l->out.c, l->out.h, l->out.w);
	fprintf(f, ", \"ops\": %.17g, \"mults\": %.17g, \"adds\": %.17g"
		   ", \"other\": %.17g, \"params\": %.17g",
		c->ops, c->mults, c->adds, c->other, c->params);
	json_bits(f, "weight_bits", c->weight_bits);
	json_bits(f, "act_bits", has_bits(l) ? c->act_bits : 0);
	fprintf(f, ", \"nonzero\": %" PRId64 ", \"elements\": %" PRId64,
		l->weight_nonzero, l->weight_elements);
	fprintf(f, ", \"override\": %s}", overridden(in, i) ? "true" : "false");
}

static void write_json(FILE *f, const struct ms_report_input *in)
{
	const struct ms_table *t = in->table;
	const struct ms_policy *p = &t->policy;

	fputs("{\n  \"checkpoint\": ", f);
	ms_json_string(f, in->checkpoint);
	fputs(",\n  \"network\": ", f);
	ms_json_string(f, in->net->name);
	fprintf(f, ",\n  \"score_type\": %d", p->type);
	fprintf(f, ",\n  \"policy\": {\"accumulation\": \"%s\", "
		   "\"scale_precision\": \"%s\", \"pool_precision\": \"%s\", "
		   "\"rules\": \"%s\", \"count_quant\": %s, \"fold_bn\": %s}",
		accum_name(p->accum), prec_name(p->scale_prec),
		prec_name(p->pool_prec), rules_name(p->rules),
		p->count_quant ? "true" : "false",
		p->fold_bn ? "true" : "false");
	fprintf(f, ",\n  \"baseline\": {\"ops\": %.17g, \"params\": %.17g}",
		p->op_baseline, p->param_baseline);
	fprintf(f, ",\n  \"totals\": {\"ops\": %.17g, \"params\": %.17g, "
		   "\"op_score\": %.17g, \"param_score\": %.17g, "
		   "\"score\": %.17g}",
		t->ops, t->params, t->op_score, t->param_score, t->score);
	fputs(",\n  \"layers\": [\n", f);
	for (size_t i = 0; i < in->net->count; i++) {
		json_layer(f, in, i);
		fputs(i + 1 < in->net->count ? ",\n" : "\n", f);
	}
	fputs("  ],\n", f);
	json_names(f, "missing", in->net->missing, in->net->missing_count);
	fputs(",\n", f);
	json_names(f, "unused", in->net->unused, in->net->unused_count);
	fputs("\n}\n", f);
}

/* Writes a bit width as a CSV field: empty when there is none. */
static void csv_bits(FILE *f, int bits)
{
	if (bits > 0)
		fprintf(f, ",%d", bits);
	else
		fputc(',', f);
}

/* One row per layer, then a "total" row with the ops and params, a
 * "score" row with the op and param scores in those columns, and a
 * "final_score" row with their sum in the ops column. */
static void write_csv(FILE *f, const struct ms_report_input *in)
{
	const struct ms_table *t = in->table;

	fputs("name,kind,output_c,output_h,output_w,elements,nonzero,"
	      "weight_bits,act_bits,mults,adds,other,ops,params\n", f);
	for (size_t i = 0; i < in->net->count; i++) {
		const struct ms_layer *l = &in->net->layers[i];
		const struct ms_cost *c = &t->rows[i];

		ms_csv_field(f, l->name);
		fprintf(f, ",%s,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64
			   ",%" PRId64,
			ms_layer_kind_name(l->kind), l->out.c, l->out.h,
			l->out.w, l->weight_elements, l->weight_nonzero);
		csv_bits(f, c->weight_bits);
		csv_bits(f, has_bits(l) ? c->act_bits : 0);
		fprintf(f, ",%.17g,%.17g,%.17g,%.17g,%.17g\n", c->mults,
			c->adds, c->other, c->ops, c->params);
	}
	fprintf(f, "total,,,,,,,,,,,,%.17g,%.17g\n", t->ops, t->params);
	fprintf(f, "score,,,,,,,,,,,,%.17g,%.17g\n", t->op_score,
		t->param_score);
	fprintf(f, "final_score,,,,,,,,,,,,%.17g,\n", t->score);
}

int ms_report_write(FILE *f, enum ms_report_format format,
		    const struct ms_report_input *in)
{
	switch (format) {
	case MS_REPORT_TEXT:
		write_text(f, in);
		break;
	case MS_REPORT_JSON:
		write_json(f, in);
		break;
	case MS_REPORT_CSV:
		write_csv(f, in);
		break;
	}
	return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}

struct report_writer {
	enum ms_report_format format;
	const struct ms_report_input *in;
};

static int write_report_cb(FILE *f, void *arg)
{
	struct report_writer *w = arg;

	return ms_report_write(f, w->format, w->in);
}

int ms_report_save(const char *path, bool replace, enum ms_report_format format,
		   const struct ms_report_input *in, bool *exists,
		   struct ms_error *err)
{
	struct report_writer w = { format, in };

	return ms_save_atomic(path, replace, write_report_cb, &w, exists, err);
}
