/* Counting ops and params under the MicroNet rules, as pure functions of a
 * bound network, a policy and per-layer overrides.
 *
 * Units: one op is one 32-bit multiply or add, and an operation on b-bit
 * operands counts b/32 of an op. One param is one 32-bit value, and a b-bit
 * value counts b/32. */
#ifndef MS_SCORE_H
#define MS_SCORE_H

#include <stdbool.h>
#include <stddef.h>

#include "model.h"

enum ms_precision {
	MS_PREC_FP16,
	MS_PREC_FP32
};

/* The counting rules to follow. */
enum ms_rules {
	MS_RULES_PUBLISHED,  /* the published DenseNet-100 scorer, slips
			      * included, so its table reproduces */
	MS_RULES_CHALLENGE   /* the challenge rules, slips corrected */
};

struct ms_policy {
	enum ms_accum accum;           /* TREE, FIXED or FP32 */
	enum ms_precision scale_prec;  /* scale, bias and batch-norm layers */
	enum ms_precision pool_prec;   /* average pools */
	enum ms_rules rules;
	bool count_quant;              /* charge quant layers one op per
					* element at the scale precision */
	bool fold_bn;                  /* batch norm folded into its conv */
	double op_baseline;            /* ops of the baseline model */
	double param_baseline;         /* params of the baseline model */
	int type;                      /* score type 0-6, or -1 when the
					* fields were set by hand */
};

#define MS_SCORE_TYPES 7

/* The CIFAR-100 baseline, WideResNet-28-10. */
#define MS_CIFAR100_OPS 10.49e9
#define MS_CIFAR100_PARAMS 36.5e6
/* The ImageNet baseline, MobileNetV2 width 1.4. */
#define MS_IMAGENET_OPS 1170e6
#define MS_IMAGENET_PARAMS 6.9e6

/* Sets P to score type TYPE (0 to 6) of the published scorer, with the
 * CIFAR-100 baseline and published rules. Returns 0, or -1 when TYPE is out
 * of range. */
int ms_policy_from_type(int type, struct ms_policy *p);

/* Returns a one-line description of score type TYPE. */
const char *ms_score_type_text(int type);

/* A user's precision override of one layer; 0 leaves the field as the
 * description sets it. */
struct ms_override {
	int weight_bits;
	int act_bits;
};

/* The cost of one layer. */
struct ms_cost {
	double mults;      /* ops */
	double adds;       /* ops */
	double other;      /* ops that are neither (activations, compares) */
	double ops;        /* mults + adds + other */
	double params;     /* params */
	int weight_bits;   /* in effect, after overrides; 0 when no weight */
	int act_bits;
};

/* Computes the cost of layer L under policy P with override O (NULL for
 * none). Reads only L's fields and the statistics it points to. */
void ms_score_layer(const struct ms_layer *l, const struct ms_policy *p,
		    const struct ms_override *o, struct ms_cost *out);

/* The cost of a whole network: one row per layer, and totals. */
struct ms_table {
	struct ms_policy policy;
	size_t count;
	struct ms_cost *rows;    /* owned */
	double ops, params;
	double op_score, param_score, score;
};

/* Scores every layer of NET. OVERRIDES is NULL or has NET->count entries.
 * Costs O(layers + output channels) and never reads weights. Returns 0, or
 * -1 with ERR set when memory runs out. TABLE must be freed with
 * ms_table_free(). */
int ms_score_net(const struct ms_net *net, const struct ms_policy *p,
		 const struct ms_override *overrides, struct ms_table *table,
		 struct ms_error *err);

void ms_table_free(struct ms_table *table);

/* Returns the adds of a pairwise adder tree over N numbers whose first
 * level adds BITS-bit numbers and each further level one bit wider, in
 * bit-adds (divide by 32 for ops). */
double ms_adder_tree_bits(double bits, int64_t n);

#endif
