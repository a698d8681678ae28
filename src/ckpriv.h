/* State a checkpoint keeps while readers fill it: its buffers, and the
 * checks that ms_ck_add() makes against them. Only the checkpoint files
 * and the torch readers include this. */
#ifndef MS_CKPRIV_H
#define MS_CKPRIV_H

#include <stddef.h>
#include <stdint.h>

#include "readers.h"

/* Tensors may view more elements in total than the file contains (views of
 * one storage), but a file that makes the scan read more than this many
 * elements per byte of input (plus MS_CK_ELEMENT_SLACK) is rejected, so
 * that reusing one storage many times cannot make loading take hours. */
#define MS_CK_ELEMENTS_PER_BYTE 16
#define MS_CK_ELEMENT_SLACK ((int64_t)1 << 24)

struct ms_ck_priv {
	size_t tensor_cap;
	struct ms_bytes map;           /* the file's mapping */
	unsigned char *inflated;       /* gunzipped file content, or NULL */
	size_t inflated_size;
	void **kept;                   /* buffers from ms_ck_keep() */
	size_t *kept_size;             /* their usable sizes */
	size_t kept_count, kept_cap;
	int64_t elements_total;        /* summed over all tensors added */
	size_t skipped_cap;            /* allocated entries of ck->skipped */
};

/* Returns CK's private state, allocating it on first use; NULL when
 * memory runs out. */
struct ms_ck_priv *ms_ck_priv(struct ms_checkpoint *ck);

/* Returns NAME past any number of leading "module." prefixes, which
 * torch.nn.DataParallel adds. */
const char *ms_ck_strip_module(const char *name);

/* Records that the object at key path NAME, a placeholder for global
 * MODULE.GLOBAL, was skipped. Past MS_MAX_SKIPPED records it does
 * nothing. Returns 0, or -1 with ERR set when memory runs out. */
int ms_ck_skip(struct ms_checkpoint *ck, const char *name, const char *module,
	       const char *global, struct ms_error *err);

/* Finds mask tensors (NAME.mask, and NAME.weight_mask next to
 * NAME.weight_orig), scans every tensor with its mask applied, drops the
 * masks from the list, keys NAME.weight_orig as NAME.weight and stores the
 * mask's name in the tensor it masks. Keys the (weight, bias) tuple that
 * quantized Linear modules store, NAME._packed_params._packed_params.0
 * and .1, as NAME.weight and NAME.bias. Returns 0, or -1 with ERR set. */
int ms_ck_finish(struct ms_checkpoint *ck, struct ms_error *err);

#endif
