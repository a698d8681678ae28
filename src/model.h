/* The network as scored: a flat list of layers in execution order, with
 * shapes inferred from the input size and weights bound by tensor name. */
#ifndef MS_MODEL_H
#define MS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "tensor.h"

enum ms_layer_kind {
	MS_LAYER_CONV,
	MS_LAYER_LINEAR,
	MS_LAYER_SCALE,       /* per-channel multiply, optional bias */
	MS_LAYER_BATCHNORM,
	MS_LAYER_RELU,
	MS_LAYER_RELU6,
	MS_LAYER_HSWISH,
	MS_LAYER_SWISH,
	MS_LAYER_SIGMOID,
	MS_LAYER_AVGPOOL,
	MS_LAYER_MAXPOOL,
	MS_LAYER_GLOBALPOOL,  /* global average pool to C x 1 x 1 */
	MS_LAYER_ADD,         /* elementwise add, e.g. a residual join */
	MS_LAYER_MUL,         /* elementwise multiply, e.g. an SE gate */
	MS_LAYER_CONCAT,
	MS_LAYER_FLATTEN,
	MS_LAYER_UPSAMPLE,    /* nearest neighbour */
	MS_LAYER_QUANT,       /* round and clamp to the activation grid */
	MS_LAYER_KIND_COUNT
};

/* Returns the keyword of a kind as written in descriptions ("conv"). */
const char *ms_layer_kind_name(enum ms_layer_kind kind);

/* Accumulation of conv and linear products. DEFAULT follows the policy. */
enum ms_accum {
	MS_ACCUM_DEFAULT,
	MS_ACCUM_TREE,
	MS_ACCUM_FIXED,
	MS_ACCUM_FP32
};

struct ms_shape {
	int64_t c, h, w;
};

struct ms_layer {
	char *name;            /* tensor prefix ("dense1.0.conv1") or, for a
				* layer without tensors, a label; owned */
	bool has_tensors;      /* NAME is a tensor prefix */
	enum ms_layer_kind kind;
	int depth;             /* block nesting, for indented display */
	int line;              /* line of the description that made it */
	struct ms_shape in;    /* input (for ADD/MUL/CONCAT: the first) */
	struct ms_shape out;

	/* conv and linear; linear has kh = kw = 1 and 1x1 shapes */
	int64_t kh, kw, stride_h, stride_w, pad_h, pad_w, dilation, groups;
	bool bias;             /* has a bias vector of OUT.c values */

	/* pools: window size, and the window elements actually covered,
	 * summed over the outputs of one channel (differs from
	 * out.h * out.w * kh * kw at padded or ceil-mode edges) */
	int64_t pool_kh, pool_kw;
	int64_t pool_covered;

	/* bound tensors; NULL when scoring without a checkpoint */
	const struct ms_tensor *weight;
	const struct ms_tensor *bias_tensor;

	/* weight counts used for scoring, filled from WEIGHT's statistics
	 * or, with no tensor, as a dense weight of the declared shape */
	int64_t weight_elements;
	int64_t weight_nonzero;
	int64_t weight_channels;        /* = out.c for conv and linear */
	const int64_t *channel_nonzero; /* WEIGHT_CHANNELS entries, or NULL
					 * when dense (each channel full) */

	/* precision from the description: bits 0 means "not set"; the
	 * scorer then uses 32 */
	int weight_bits;
	int act_bits;
	bool act_signed;       /* input activations are signed */
	enum ms_accum accum;   /* a per-layer accumulation override */
};

/* The MicroNet Challenge track whose baseline model a network is scored
 * against (score.h gives the ops and params of each). */
enum ms_baseline {
	MS_BASELINE_UNSET,      /* the description names none */
	MS_BASELINE_CIFAR100,   /* WideResNet-28-10 */
	MS_BASELINE_IMAGENET    /* MobileNetV2 with width 1.4 */
};

/* A loaded description, bound to a checkpoint or not. */
struct ms_net {
	char *name;            /* from the description, or its file name */
	char *path;            /* the file it was read from */
	enum ms_baseline baseline;  /* from its "baseline" statement */
	struct ms_shape input;
	struct ms_layer *layers;
	size_t count;
	/* tensor names (ms_tensor.key) that layers needed and did not find,
	 * and checkpoint tensors that no layer used */
	char **missing;
	size_t missing_count;
	char **unused;
	size_t unused_count;
};

/* Reads the description SPEC: a path when it contains a '/' or ends in
 * ".net", otherwise the name of a built-in in the data directory. Infers
 * every shape from the input size, binding weights from CK when CK is not
 * NULL. Returns 0, or -1 with ERR set ("FILE:LINE:COL: problem", or a
 * tensor/layer shape mismatch naming both). On failure NET is empty. */
int ms_net_load(const char *spec, const struct ms_checkpoint *ck,
		struct ms_net *net, struct ms_error *err);

/* As ms_net_load, from TEXT of LEN bytes; PATH is used in messages. */
int ms_net_parse(const char *path, const char *text, size_t len,
		 const struct ms_checkpoint *ck, struct ms_net *net,
		 struct ms_error *err);

/* As ms_net_load, with PARAMS a NULL-terminated list of "NAME=VALUE"
 * strings (or NULL) that replace the values of the description's "param"
 * statements, as given on a command line. Naming a parameter that the
 * description does not declare is an error. */
int ms_net_load_params(const char *spec, const char *const *params,
		       const struct ms_checkpoint *ck, struct ms_net *net,
		       struct ms_error *err);

/* Picks the built-in description whose tensor names best match CK: all of
 * its weight tensors present, and the most checkpoint tensors used. When
 * none binds, picks the one whose weight names all appear in CK though
 * sizes differ, so that loading it reports the mismatch. Returns a newly
 * allocated name, or NULL when none matches. */
char *ms_net_detect(const struct ms_checkpoint *ck);

/* Lists the built-in descriptions: a NULL-terminated, newly allocated array
 * of newly allocated names, sorted, and empty when the data directory
 * contains no descriptions. Free it with ms_net_free_names(). Returns NULL
 * when the data directory cannot be opened (missing or unreadable) or
 * memory runs out. */
char **ms_net_builtins(void);
void ms_net_free_names(char **names);

/* Reads a one-line summary of the description SPEC (a built-in name or a
 * path, as for ms_net_load) from the comment block at the top of its file.
 * The summary is the text after "# summary:" when such a line is there,
 * else the first comment line that has text, cut at 255 bytes. Returns a
 * newly allocated string to free(), or NULL when the file cannot be read,
 * has no such comment or memory runs out. */
char *ms_net_summary(const char *spec);

/* Returns the "param" statements of the description SPEC as one line,
 * "depth = 100, growth = 12, ...", newly allocated (free it), or NULL when
 * it declares none or cannot be read. */
char *ms_net_param_list(const char *spec);

/* Returns the directory searched for built-ins: $MICROSCORE_DATADIR when
 * set, else the installed data directory. */
const char *ms_net_datadir(void);

void ms_net_free(struct ms_net *net);

/* Writes a first-draft description of CK to OUT from its tensor names and
 * shapes, with every guess marked by a comment. Returns 0, or -1 with ERR
 * set. */
int ms_net_describe(FILE *out, const struct ms_checkpoint *ck,
		    struct ms_error *err);

#endif
