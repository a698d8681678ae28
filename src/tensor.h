/* Named tensors read from a checkpoint, and the statistics gathered from
 * them in one pass at load time. */
#ifndef MS_TENSOR_H
#define MS_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define MS_MAX_DIMS 8

/* Limit for the distinct-value count: past this many, a tensor is reported
 * as having "more than MS_DISTINCT_CAP" values. */
#define MS_DISTINCT_CAP 65536

enum ms_dtype {
	MS_DTYPE_F32,
	MS_DTYPE_F16,
	MS_DTYPE_BF16,
	MS_DTYPE_F64,
	MS_DTYPE_I8,
	MS_DTYPE_I16,
	MS_DTYPE_I32,
	MS_DTYPE_I64,
	MS_DTYPE_U8,
	MS_DTYPE_BOOL,
	MS_DTYPE_COUNT
};

/* Returns the element size in bytes, or 0 for an unknown dtype. */
size_t ms_dtype_size(enum ms_dtype dtype);

/* Returns a short lowercase name ("float32", "int8", ...). */
const char *ms_dtype_name(enum ms_dtype dtype);

/* Statistics of one tensor, filled by ms_tensor_scan(). All counts are in
 * elements. Channels are the slices along dimension 0 (output channels of
 * a conv or linear weight); a 0-d tensor has one channel. */
struct ms_tensor_stats {
	int64_t elements;
	int64_t nonzero;
	int64_t channels;
	int64_t *channel_nonzero;  /* owned, CHANNELS entries */
	bool all_integer;          /* every value is a finite integer */
	double min, max;           /* over all values; 0 when empty */
	double first;              /* the value of element 0; 0 when empty */
	int64_t distinct;          /* exact up to MS_DISTINCT_CAP */
	bool distinct_capped;      /* true when there are more */
};

/* One tensor. DATA points into a memory-mapped file or into a buffer owned
 * by the checkpoint; it stays valid until ms_checkpoint_close(). Strides and
 * offset are in elements, as PyTorch stores them. The reader checks that
 * every element the shape and strides can reach lies inside the storage. */
struct ms_tensor {
	char *name;                 /* dotted key path, owned */
	const char *key;            /* binding name: points into NAME past any
				     * wrapper ("state_dict.", "model.", ...)
				     * and "module." prefix */
	bool outside_weights;       /* lies outside the wrapper entry that
				     * contains the weights, as optimizer
				     * state does, so never reported as
				     * unused */
	enum ms_dtype dtype;
	int ndim;
	int64_t shape[MS_MAX_DIMS];
	int64_t stride[MS_MAX_DIMS];
	int64_t offset;
	const unsigned char *data;  /* storage base */
	size_t storage_bytes;
	bool big_endian;            /* stored big-endian: swap on read */
	char *mask;                 /* name of the pruning mask applied to
				     * STATS, owned; NULL when none */
	struct ms_tensor_stats stats;
};

/* Returns the value of the element at linear (row-major) index I, converted
 * to double. I must be below stats.elements. */
double ms_tensor_get(const struct ms_tensor *t, int64_t i);

/* Computes T->stats in one pass over the elements. If MASK is not NULL it
 * must have the same element count, and elements where MASK is zero count
 * as zero. Returns 0, or -1 with ERR set when memory runs out. */
int ms_tensor_scan(struct ms_tensor *t, const struct ms_tensor *mask,
		   struct ms_error *err);

/* Returns the element count of a shape, or -1 when it overflows int64_t or
 * a dimension is negative. */
int64_t ms_shape_elements(int ndim, const int64_t *shape);

/* The maximum distinct-value count of a float tensor that is read as a
 * quantization codebook (an 8-bit index). */
#define MS_CODEBOOK_MAX 256

/* Returns true when a tensor that is not all integers looks quantized to a
 * codebook: at most MS_CODEBOOK_MAX distinct values, each used at least
 * twice on average. */
bool ms_stats_is_codebook(const struct ms_tensor_stats *s);

/* Infers the bit width the values need. All-integer tensors need the
 * signed or unsigned width of [min, max]. Codebook tensors (see
 * ms_stats_is_codebook) need ceil(log2(distinct)) bits, the index width,
 * and the rest need 32. Sets *IS_SIGNED to whether the minimum is
 * negative. */
int ms_stats_infer_bits(const struct ms_tensor_stats *s, bool *is_signed);

/* As ms_stats_infer_bits(), but never wider than T's dtype, so that an
 * unquantized float16 tensor needs 16 bits. */
int ms_tensor_infer_bits(const struct ms_tensor *t, bool *is_signed);

/* An object of a pickle that is not data microscore understands: what a
 * call of, or an object built by, a global outside the reader's allowlist
 * would have made. The reader never runs it and keeps only its place. */
struct ms_skipped {
	char *name;                 /* dotted key path, owned */
	const char *key;            /* binding name, as struct ms_tensor.key */
	char *global;               /* "module.name" of the global, owned */
};

/* A loaded checkpoint: its tensors in file order, after masks were applied
 * (mask tensors are dropped from the list), and the objects skipped
 * because they are not tensors. */
struct ms_checkpoint {
	char *path;
	const char *format;         /* "torch-legacy", "torch-zip", "npz", ... */
	struct ms_tensor *tensors;
	size_t count;
	struct ms_skipped *skipped; /* in file order, at most MS_MAX_SKIPPED */
	size_t skipped_count;
	void *priv;                 /* mappings and buffers, reader-owned */
};

/* Limit on the skipped objects a checkpoint records; further ones are
 * skipped without a record. */
#define MS_MAX_SKIPPED 4096

/* Opens PATH, detects its container from its content, reads every tensor
 * and scans it (ms_tensor_scan). Returns 0, or -1 with ERR set to
 * "PATH: problem". On failure *CK is left empty and needs no close. */
int ms_checkpoint_open(const char *path, struct ms_checkpoint *ck,
		       struct ms_error *err);

/* Releases everything the checkpoint owns. Safe on an empty checkpoint. */
void ms_checkpoint_close(struct ms_checkpoint *ck);

/* Finds a tensor by its binding name (struct ms_tensor.key). Returns NULL
 * when there is none. */
const struct ms_tensor *ms_checkpoint_find(const struct ms_checkpoint *ck,
					   const char *name);

/* Returns the "module.name" of the global whose placeholder the reader
 * skipped at binding name KEY (struct ms_skipped.key), or NULL when no
 * object was skipped there. The string lives until ms_checkpoint_close(). */
const char *ms_checkpoint_placeholder(const struct ms_checkpoint *ck,
				      const char *key);

#endif
