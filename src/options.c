/* Parsing of the command line, --help and --version. */
#include <config.h>

#include "options.h"

#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
	OPT_REPORT = 256,
	OPT_FORMAT,
	OPT_SCORE_TYPE,
	OPT_NET,
	OPT_LIST,
	OPT_NETS,
	OPT_DESCRIBE,
	OPT_RULES,
	OPT_COUNT_QUANT,
	OPT_FOLD_BN,
	OPT_BASELINE,
	OPT_WEIGHT_BITS,
	OPT_ACT_BITS,
	OPT_FORCE,
	OPT_PARAM,
	OPT_HELP,
	OPT_VERSION
};

static const struct option long_options[] = {
	{ "report", optional_argument, NULL, OPT_REPORT },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "score-type", required_argument, NULL, OPT_SCORE_TYPE },
	{ "net", required_argument, NULL, OPT_NET },
	{ "list", no_argument, NULL, OPT_LIST },
	{ "nets", no_argument, NULL, OPT_NETS },
	{ "describe", no_argument, NULL, OPT_DESCRIBE },
	{ "rules", required_argument, NULL, OPT_RULES },
	{ "count-quant", no_argument, NULL, OPT_COUNT_QUANT },
	{ "fold-bn", no_argument, NULL, OPT_FOLD_BN },
	{ "baseline", required_argument, NULL, OPT_BASELINE },
	{ "weight-bits", required_argument, NULL, OPT_WEIGHT_BITS },
	{ "act-bits", required_argument, NULL, OPT_ACT_BITS },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "param", required_argument, NULL, OPT_PARAM },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 }
};

static void print_help(void)
{
	printf("Usage: microscore [OPTION]... [CHECKPOINT]\n"
"Count the ops and params of a pruned, quantized network under the MicroNet\n"
"Challenge rules, and explore them layer by layer.\n"
"\n"
"With no CHECKPOINT, opens the bundled default model, or with --net scores\n"
"the description alone (dense, at its declared bit widths).\n"
"\n"
"Modes:\n"
"      --report[=FILE]      write the report to FILE (standard output if\n"
"                           none or '-') and exit, instead of opening the\n"
"                           explorer\n"
"      --list               list every tensor of CHECKPOINT and exit\n"
"      --describe           write a first-draft network description of\n"
"                           CHECKPOINT and exit\n"
"      --nets               list the built-in network descriptions and exit\n"
"\n"
"Scoring:\n"
"      --net=NAME|FILE      the network description (default: the built-in\n"
"                           whose tensor names match CHECKPOINT)\n"
"      --param=NAME=VALUE   set a parameter of the description, such as\n"
"                           classes=10 (repeatable)\n"
"      --score-type=N       score type 0 to 6 of the published scorer\n"
"                           (default 0)\n"
"      --rules=RULES        'published' (reproduce the published scorer)\n"
"                           or 'challenge' (the challenge rules)\n"
"      --baseline=NAME      'cifar100' (10.49e9 ops, 36.5e6 params) or\n"
"                           'imagenet' (1170e6 ops, 6.9e6 params); default:\n"
"                           the description's, else cifar100\n"
"      --count-quant        charge quant layers one op per element\n"
"      --fold-bn            count batch norm as folded into its conv\n"
"      --weight-bits=[LAYER=]N|auto  set the weight bits of LAYER, or of\n"
"                           every conv and linear layer; 'auto' infers\n"
"                           them from the weights (repeatable)\n"
"      --act-bits=[LAYER=]N set the input activation bits of LAYER, or of\n"
"                           every conv and linear layer (repeatable)\n"
"\n"
"Output:\n"
"      --format=FORMAT      'text', 'json' or 'csv' (default: from the\n"
"                           report FILE's extension, else text)\n"
"      --force              replace an existing report FILE\n"
"      --help               display this help and exit\n"
"      --version            output version information and exit\n"
"\n"
"Exit status: 0 on success, 1 when an input cannot be read or scored,\n"
"2 on a usage error.\n"
"\n"
"See microscore(1) and microscore-net(5).\n");
}

static void print_version(void)
{
	printf("microscore %s\n"
	       "Copyright (C) 2026 the microscore developers.\n"
	       "This is free software: you are free to change and "
	       "redistribute it.\n",
	       PACKAGE_VERSION);
}

static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "microscore: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'microscore --help' for more information.\n");
	return MS_OPTIONS_USAGE;
}

/* Parses a whole decimal number in [LO, HI]. */
static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	if (*s == '\0')
		return -1;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

/* Parses --weight-bits or --act-bits: "[LAYER=]N", or for weights also
 * "[LAYER=]auto". Without LAYER the width applies to every conv and linear
 * layer. */
static int add_bits(struct options *o, const char *arg, bool weight)
{
	const char *eq = strrchr(arg, '=');
	const char *value = eq != NULL ? eq + 1 : arg;
	struct option_bits *grown;
	int bits;

	if (weight && strcmp(value, "auto") == 0)
		bits = MS_BITS_AUTO;
	else if (eq == arg || parse_int(value, 1, 32, &bits) != 0)
		return usage_error("invalid bit width '%s': expected [LAYER=]N "
				   "with N from 1 to 32%s", arg,
				   weight ? ", or [LAYER=]auto" : "");
	grown = realloc(o->bits, (o->bits_count + 1) * sizeof *grown);
	if (grown == NULL)
		return usage_error("out of memory at '%s'", arg);
	o->bits = grown;
	grown[o->bits_count].layer = NULL;
	grown[o->bits_count].bits = bits;
	grown[o->bits_count].weight = weight;
	if (eq != NULL) {
		grown[o->bits_count].layer = strndup(arg, (size_t)(eq - arg));
		if (grown[o->bits_count].layer == NULL)
			return usage_error("out of memory at '%s'", arg);
	}
	o->bits_count++;
	return MS_OPTIONS_RUN;
}

static int add_param(struct options *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char **grown;

	if (eq == NULL || eq == arg || eq[1] == '\0')
		return usage_error("invalid parameter '%s': expected "
				   "NAME=VALUE", arg);
	grown = realloc(o->params, (o->params_count + 2) * sizeof *grown);
	if (grown == NULL)
		return usage_error("out of memory at '%s'", arg);
	o->params = grown;
	grown[o->params_count] = strdup(arg);
	if (grown[o->params_count] == NULL)
		return usage_error("out of memory at '%s'", arg);
	grown[++o->params_count] = NULL;
	return MS_OPTIONS_RUN;
}

/* Applies one option other than the modes. */
static int parse_one(struct options *o, int c, const char *arg)
{
	int n;

	switch (c) {
	case OPT_FORMAT:
		if (ms_report_format_parse(arg, &o->format) != 0)
			return usage_error("invalid format '%s': expected "
					   "text, json or csv", arg);
		o->format_given = true;
		break;
	case OPT_SCORE_TYPE:
		if (parse_int(arg, 0, MS_SCORE_TYPES - 1, &n) != 0)
			return usage_error("invalid score type '%s': expected "
					   "a number from 0 to 6", arg);
		{
			enum ms_rules rules = o->policy.rules;
			bool quant = o->policy.count_quant;
			bool fold = o->policy.fold_bn;
			double ops = o->policy.op_baseline;
			double params = o->policy.param_baseline;

			ms_policy_from_type(n, &o->policy);
			o->policy.rules = rules;
			o->policy.count_quant = quant;
			o->policy.fold_bn = fold;
			o->policy.op_baseline = ops;
			o->policy.param_baseline = params;
		}
		break;
	case OPT_RULES:
		if (strcmp(arg, "published") == 0)
			o->policy.rules = MS_RULES_PUBLISHED;
		else if (strcmp(arg, "challenge") == 0)
			o->policy.rules = MS_RULES_CHALLENGE;
		else
			return usage_error("invalid rules '%s': expected "
					   "published or challenge", arg);
		break;
	case OPT_BASELINE:
		o->baseline_given = true;
		if (strcmp(arg, "cifar100") == 0) {
			o->policy.op_baseline = MS_CIFAR100_OPS;
			o->policy.param_baseline = MS_CIFAR100_PARAMS;
		} else if (strcmp(arg, "imagenet") == 0) {
			o->policy.op_baseline = MS_IMAGENET_OPS;
			o->policy.param_baseline = MS_IMAGENET_PARAMS;
		} else {
			return usage_error("invalid baseline '%s': expected "
					   "cifar100 or imagenet", arg);
		}
		break;
	case OPT_WEIGHT_BITS:
	case OPT_ACT_BITS:
		return add_bits(o, arg, c == OPT_WEIGHT_BITS);
	case OPT_PARAM:
		return add_param(o, arg);
	default:
		return usage_error("%s", "invalid option");
	}
	return MS_OPTIONS_RUN;
}

static int parse_loop(int argc, char **argv, struct options *o)
{
	int c, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_REPORT:
			o->report = true;
			o->report_file = optarg;
			break;
		case OPT_NET:
			o->net = optarg;
			break;
		case OPT_LIST:
			o->list = true;
			break;
		case OPT_NETS:
			o->nets = true;
			break;
		case OPT_DESCRIBE:
			o->describe = true;
			break;
		case OPT_COUNT_QUANT:
			o->policy.count_quant = true;
			break;
		case OPT_FOLD_BN:
			o->policy.fold_bn = true;
			break;
		case OPT_FORCE:
			o->force = true;
			break;
		case OPT_HELP:
			print_help();
			return MS_OPTIONS_EXIT;
		case OPT_VERSION:
			print_version();
			return MS_OPTIONS_EXIT;
		case ':':
			return usage_error("option '%s' requires an argument",
					   argv[optind - 1]);
		case '?':
			return usage_error("unrecognized option '%s'",
					   argv[optind - 1]);
		default:
			rc = parse_one(o, c, optarg);
			if (rc != MS_OPTIONS_RUN)
				return rc;
		}
	}
	return MS_OPTIONS_RUN;
}

/* Picks the report format from the file name's extension, as the
 * explorer's export does: ".json" and ".csv" in any case, else text. */
static void format_from_name(struct options *o)
{
	const char *dot = strrchr(o->report_file, '.');

	if (dot == NULL)
		return;
	if (strcasecmp(dot, ".json") == 0)
		o->format = MS_REPORT_JSON;
	else if (strcasecmp(dot, ".csv") == 0)
		o->format = MS_REPORT_CSV;
}

/* Checks that the modes and arguments fit together. */
static int check_modes(int argc, char **argv, struct options *o)
{
	int modes = o->report + o->list + o->nets + o->describe;

	if (o->nets && optind < argc)
		return usage_error("--nets takes no checkpoint; unexpected "
				   "'%s'", argv[optind]);
	if (optind + 1 < argc)
		return usage_error("only one checkpoint can be given; "
				   "unexpected '%s'", argv[optind + 1]);
	if (optind < argc)
		o->checkpoint = argv[optind];
	if (modes > 1)
		return usage_error("%s", "--report, --list, --describe and "
				   "--nets cannot be combined");
	if ((o->list || o->describe) && o->checkpoint == NULL)
		return usage_error("%s", "--list and --describe need a "
				   "CHECKPOINT");
	if (o->report_file != NULL && *o->report_file == '\0')
		return usage_error("%s", "--report= needs a file name");
	if (o->report_file != NULL && strcmp(o->report_file, "-") == 0)
		o->report_file = NULL;
	if (o->report_file != NULL && !o->format_given)
		format_from_name(o);
	if (o->force && o->report_file == NULL)
		return usage_error("%s", "--force only applies to "
				   "--report=FILE");
	return MS_OPTIONS_RUN;
}

int ms_options_parse(int argc, char **argv, struct options *o)
{
	static char default_model[PATH_MAX];
	int rc;

	*o = (struct options){ .format = MS_REPORT_TEXT };
	ms_policy_from_type(0, &o->policy);
	rc = parse_loop(argc, argv, o);
	if (rc == MS_OPTIONS_RUN)
		rc = check_modes(argc, argv, o);
	if (rc != MS_OPTIONS_RUN) {
		ms_options_free(o);
		return rc;
	}

	/* With neither a checkpoint nor a description, use the bundled
	 * default model. */
	if (o->checkpoint == NULL && o->net == NULL && !o->nets) {
		snprintf(default_model, sizeof default_model, "%s/default.pth",
			 ms_net_datadir());
		o->checkpoint = default_model;
	}
	return MS_OPTIONS_RUN;
}

/* Applies one --weight-bits or --act-bits option to layer L, at index I
 * of OV. Returns 0, or -1 with ERR set. */
static int apply_bits(const struct option_bits *ob, const struct ms_net *net,
		      const struct ms_layer *l, struct ms_override *ov,
		      struct ms_error *err)
{
	int bits = ob->bits;

	if (bits == MS_BITS_AUTO) {
		bool is_signed;

		if (l->weight == NULL)
			return ms_fail(err, "%s: layer '%s' has no weight in "
				       "the checkpoint to infer its bits from",
				       net->path, l->name);
		bits = ms_tensor_infer_bits(l->weight, &is_signed);
	}
	if (ob->weight)
		ov->weight_bits = bits;
	else
		ov->act_bits = bits;
	return 0;
}

static bool has_bits(const struct ms_layer *l)
{
	return l->kind == MS_LAYER_CONV || l->kind == MS_LAYER_LINEAR;
}

int ms_options_resolve_overrides(const struct options *o,
				 const struct ms_net *net,
				 struct ms_override **out,
				 struct ms_error *err)
{
	struct ms_override *ov;

	*out = NULL;
	if (o->bits_count == 0)
		return 0;
	ov = calloc(net->count ? net->count : 1, sizeof *ov);
	if (ov == NULL)
		return ms_fail(err, "out of memory");

	/* Options apply in order, so a named layer can refine a width
	 * given to all of them. */
	for (size_t b = 0; b < o->bits_count; b++) {
		const struct option_bits *ob = &o->bits[b];
		bool found = false;

		for (size_t i = 0; i < net->count; i++) {
			const struct ms_layer *l = &net->layers[i];

			if (ob->layer == NULL) {
				/* Every conv and linear layer; with auto,
				 * those that have a weight to infer from. */
				if (!has_bits(l) || (ob->bits == MS_BITS_AUTO &&
						     l->weight == NULL))
					continue;
			} else if (strcmp(l->name, ob->layer) != 0) {
				continue;
			} else if (!has_bits(l)) {
				free(ov);
				return ms_fail(err, "%s: layer '%s' is a %s; "
					       "only conv and linear layers "
					       "have bit widths to set",
					       net->path, ob->layer,
					       ms_layer_kind_name(l->kind));
			}
			if (apply_bits(ob, net, l, &ov[i], err) != 0) {
				free(ov);
				return -1;
			}
			found = true;
		}
		if (!found && ob->layer != NULL) {
			free(ov);
			return ms_fail(err, "%s: no layer named '%s' (names "
				       "are as in the report's first column)",
				       net->path, ob->layer);
		}
	}
	*out = ov;
	return 0;
}

void ms_options_free(struct options *o)
{
	for (size_t i = 0; i < o->bits_count; i++)
		free(o->bits[i].layer);
	free(o->bits);
	o->bits = NULL;
	o->bits_count = 0;
	for (size_t i = 0; i < o->params_count; i++)
		free(o->params[i]);
	free(o->params);
	o->params = NULL;
	o->params_count = 0;
}
