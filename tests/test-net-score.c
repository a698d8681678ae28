/* Counting of small descriptions by the score layer, each against a count
 * derived by hand in its comment, plus the WideResNet-28-10 baseline of
 * the challenge. The policy is the challenge rules with fp32 accumulation
 * and fp32 element-wise precision. With no checkpoint every weight is
 * dense and every width is 32 bits, so one multiply or add is one op. */
#define _POSIX_C_SOURCE 200809L  /* strdup in ckmem.h */

#include <string.h>

#include "ckmem.h"
#include "model.h"
#include "score.h"
#include "tap.h"

static struct ms_policy fp32_policy(void)
{
	struct ms_policy p;

	memset(&p, 0, sizeof p);
	p.accum = MS_ACCUM_FP32;
	p.scale_prec = MS_PREC_FP32;
	p.pool_prec = MS_PREC_FP32;
	p.rules = MS_RULES_CHALLENGE;
	p.op_baseline = MS_CIFAR100_OPS;
	p.param_baseline = MS_CIFAR100_PARAMS;
	p.type = -1;
	return p;
}

/* Parses TEXT and scores layer INDEX (negative: from the end). */
static int score_one(const char *text, long index, struct ms_cost *cost,
		     struct ms_layer *copy)
{
	struct ms_net net;
	struct ms_error err;
	struct ms_policy p = fp32_policy();

	if (ms_net_parse("test.net", text, strlen(text), NULL, &net,
			 &err) != 0) {
		printf("# %s\n", err.msg);
		return -1;
	}
	if (index < 0)
		index += (long)net.count;
	ms_score_layer(&net.layers[index], &p, NULL, cost);
	*copy = net.layers[index];
	copy->name = NULL;
	ms_net_free(&net);
	return 0;
}

int main(void)
{
	struct ms_cost c;
	struct ms_layer l;

	/* Grouped conv, 8x10x10 in, 16 out, 3x3, groups 4, pad 1: output
	 * 16x10x10 = 1600 elements, each a dot product of 8/4 x 3 x 3 = 18
	 * products: 28,800 multiplies and 1600 x 17 = 27,200 adds. Weights
	 * 16 x 2 x 3 x 3 = 288. */
	if (score_one("input 8 10 10\nconv g out=16 k=3 pad=1 groups=4\n", 0,
		      &c, &l) == 0) {
		tap_close(c.mults, 28800, 1e-12, "grouped conv: multiplies");
		tap_close(c.adds, 27200, 1e-12, "grouped conv: adds");
		tap_close(c.params, 288, 1e-12, "grouped conv: params");
	}

	/* Depthwise 3x3, stride 2, pad 1, on 8x10x10: output 8x5x5 (floor
	 * ((10 + 2 - 3) / 2) + 1 = 5) = 200 elements of 9 products: 1800
	 * multiplies, 200 x 8 = 1600 adds, 72 weights. */
	if (score_one("input 8 10 10\nconv d depthwise k=3 stride=2 pad=1\n",
		      0, &c, &l) == 0) {
		tap_ok(l.out.c == 8 && l.out.h == 5 && l.out.w == 5,
		       "depthwise conv: output 8x5x5");
		tap_close(c.mults, 1800, 1e-12, "depthwise conv: multiplies");
		tap_close(c.adds, 1600, 1e-12, "depthwise conv: adds");
		tap_close(c.params, 72, 1e-12, "depthwise conv: params");
	}

	/* Strided conv without padding, 3x11x11 in, 4 out, 3x3, stride 2:
	 * output 4x5x5 = 100 elements of 27 products: 2700 multiplies and
	 * 2600 adds; a bias adds one add per output element (100) and 4
	 * params to the 108 weights. */
	if (score_one("input 3 11 11\nconv s out=4 k=3 stride=2 bias\n", 0, &c,
		      &l) == 0) {
		tap_close(c.mults, 2700, 1e-12, "strided conv: multiplies on "
			  "the output size");
		tap_close(c.adds, 2600 + 100, 1e-12, "strided conv: adds with "
			  "one bias add per output element");
		tap_close(c.params, 108 + 4, 1e-12, "strided conv: params "
			  "with bias");
	}

	/* Residual over a 4x6x6 activation: one add per output element. */
	if (score_one("input 4 6 6\nresidual r {\n conv c out=4 k=3 pad=1\n}\n",
		      -1, &c, &l) == 0) {
		tap_ok(l.kind == MS_LAYER_ADD, "residual: join is an add");
		tap_close(c.adds, 144, 1e-12, "residual: 4 x 6 x 6 adds");
		tap_close(c.ops, 144, 1e-12, "residual: nothing else");
	}

	/* Dense join: concatenation costs nothing. */
	if (score_one("input 4 6 6\ndense r {\n conv c out=2 k=1\n}\n", -1, &c,
		      &l) == 0) {
		tap_ok(l.kind == MS_LAYER_CONCAT && l.out.c == 6,
		       "dense: concat of 4 + 2 channels");
		tap_close(c.ops, 0, 0, "dense: concat is free");
		tap_close(c.params, 0, 0, "dense: concat has no params");
	}

	/* Unfolded batch norm over 4x6x6: one multiply and one add per
	 * element (144 each); params are the 4 scales and 4 shifts. */
	if (score_one("input 4 6 6\nbn b\n", 0, &c, &l) == 0) {
		tap_close(c.mults, 144, 1e-12, "batch norm: 144 multiplies");
		tap_close(c.adds, 144, 1e-12, "batch norm: 144 adds");
		tap_close(c.params, 8, 1e-12, "batch norm: 8 params");
	}

	/* Average pool 2x2, stride 2, ceil mode, over 1x5x5: 3x3 outputs
	 * whose windows hold 4, 4, 2 / 4, 4, 2 / 2, 2, 1 input elements (25
	 * in all). Adds: 3 x 4 + 1 x 4 + 0 = 16; one 16-bit multiply per
	 * output: 9 / 2. */
	if (score_one("input 1 5 5\navgpool k=2 ceil\n", 0, &c, &l) == 0) {
		tap_ok(l.out.h == 3 && l.out.w == 3, "ceil pool: output 3x3");
		tap_ok(l.pool_covered == 25, "ceil pool: 25 elements covered");
		tap_close(c.adds, 16, 1e-12, "ceil pool: adds over the short "
			  "edge windows");
		tap_close(c.mults, 4.5, 1e-12, "ceil pool: multiplies");
	}

	/* Gate over 8x4x4: the multiply is over the full input, 128. */
	if (score_one("input 8 4 4\ngate se {\n globalpool\n"
		      " conv fc1 out=2 k=1 bias\n relu\n conv fc2 out=8 k=1 "
		      "bias\n sigmoid\n}\n", -1, &c, &l) == 0) {
		tap_ok(l.kind == MS_LAYER_MUL && l.out.c == 8 && l.out.h == 4,
		       "gate: join is a multiply over 8x4x4");
		tap_close(c.mults, 128, 1e-12, "gate: 128 multiplies");
	}

	/* WideResNet-28-10, dense at 32 bits: the challenge's CIFAR-100
	 * baseline, 36.5M params and 10.49B ops (score 2.0), to three
	 * significant digits. */
	struct ms_net net;
	struct ms_error err;
	struct ms_table t;
	struct ms_policy p = fp32_policy();

	if (tap_ok(ms_net_load("wrn-28-10", NULL, &net, &err) == 0,
		   "wrn-28-10: loads")) {
		ms_score_net(&net, &p, NULL, &t, &err);
		tap_close(t.params, 36.5e6, 5e-3, "wrn-28-10: 36.5M params");
		tap_close(t.ops, 10.49e9, 5e-3, "wrn-28-10: 10.49B ops");
		tap_close(t.score, 2.0, 5e-3, "wrn-28-10: score 2.0");
		printf("# wrn-28-10: %.6g params, %.6g ops, score %.5f\n",
		       t.params, t.ops, t.score);
		ms_table_free(&t);
		ms_net_free(&net);
	}
	return tap_done();
}
