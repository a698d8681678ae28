/* A Python pickle interpreter (protocols 0 to 5) that only builds data.
 * Nothing named in a pickle is ever imported or called: a few torch and
 * NumPy globals are given their data meaning, and every other global,
 * call or object build yields an inert placeholder that records the
 * global's module.name. The torch readers use it, and the walk that turns
 * the resulting object tree into checkpoint tensors. */
#ifndef MS_PICKLE_H
#define MS_PICKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "readers.h"
#include "tensor.h"

/* Limits that keep any input within bounded memory and stack. */
#define MS_PICKLE_MAX_DEPTH 1000     /* container nesting in the walk */

enum ms_pkind {
	MS_PV_NONE,
	MS_PV_BOOL,
	MS_PV_INT,      /* fits int64_t */
	MS_PV_BIGINT,   /* does not: two's complement bytes, little-endian */
	MS_PV_FLOAT,
	MS_PV_STR,      /* UTF-8, NUL-terminated copy */
	MS_PV_BYTES,
	MS_PV_TUPLE,
	MS_PV_LIST,
	MS_PV_SET,      /* set or frozenset, kept as a sequence */
	MS_PV_DICT,     /* ordered; keys may be any value */
	MS_PV_GLOBAL,   /* a reference to module.name, never resolved */
	MS_PV_OBJECT,   /* placeholder: what calling or building module.name
			 * would have made */
	MS_PV_PERSID,   /* a persistent id: a storage reference */
	MS_PV_TENSOR,   /* torch._utils._rebuild_tensor(_v2) */
	MS_PV_ARRAY,    /* a NumPy array */
	MS_PV_NPDTYPE   /* a numpy.dtype */
};

struct ms_pval;

struct ms_pseq {
	struct ms_pval **items;
	size_t len, cap;
};

struct ms_ptensor {
	const struct ms_pval *storage;   /* normally a MS_PV_PERSID */
	int64_t offset;                  /* in elements */
	int ndim;
	int64_t shape[MS_MAX_DIMS];
	int64_t stride[MS_MAX_DIMS];
};

struct ms_parray {
	bool built;                      /* BUILD gave shape, dtype, data */
	bool supported;                  /* dtype maps to an ms_dtype */
	enum ms_dtype dtype;
	bool big_endian;
	bool fortran_order;
	int ndim;
	int64_t shape[MS_MAX_DIMS];
	const unsigned char *data;       /* raw bytes, in the input or arena */
	size_t bytes;
};

struct ms_pval {
	enum ms_pkind kind;
	bool walked;                     /* the tensor walk has visited it */
	bool tensor_expected;            /* an OBJECT given as the data of a
					  * torch parameter */
	union {
		bool b;
		int64_t i;
		double f;
		struct {
			const char *data;
			size_t len;
		} str;                   /* STR, BYTES, BIGINT */
		struct ms_pseq seq;      /* TUPLE, LIST, SET */
		struct {
			struct ms_pseq keys, values;
		} dict;
		struct {
			const char *module, *name;
		} global;                /* GLOBAL, OBJECT */
		const struct ms_pval *pid;
		struct ms_ptensor *tensor;
		struct ms_parray *array;
		struct {
			char kind;       /* NumPy kind: 'f', 'i', 'u', 'b' */
			int size;        /* bytes per element */
			char order;      /* '<', '>', '|' or '=' */
		} npdtype;
	} u;
};

struct ms_pickle;

/* Creates an interpreter whose values live until ms_pickle_free(). PATH
 * names the file in messages. LIMIT_BYTES bounds the memory of all values
 * built from all pickles loaded with it. Returns NULL when memory runs
 * out. */
struct ms_pickle *ms_pickle_new(const char *path, size_t limit_bytes);

/* Frees P and every value it built. */
void ms_pickle_free(struct ms_pickle *p);

/* Runs one pickle from DATA up to its STOP opcode. BASE is the file offset
 * of DATA[0], used in messages. Stores the result in *OUT and the bytes
 * consumed in *USED. Returns 0, or -1 with ERR set to "PATH: pickle at
 * byte N: problem". */
int ms_pickle_load(struct ms_pickle *p, const unsigned char *data,
		   size_t size, size_t base, const struct ms_pval **out,
		   size_t *used, struct ms_error *err);

/* Returns every persistent id that the pickles loaded with P contain, in
 * the order they were read, and their count in *COUNT. */
const struct ms_pval *const *ms_pickle_persids(const struct ms_pickle *p,
					       size_t *count);

/* Tells whether V is the str S. */
bool ms_pval_is_str(const struct ms_pval *v, const char *s);

/* Returns the name of V's kind ("str", "dict", ...). */
const char *ms_pval_kind_name(const struct ms_pval *v);

/* ---------------------------------------------------------------------
 * Turning a torch object tree into checkpoint tensors (torch_pickle.c). */

/* A resolved storage: its bytes in the input or in a kept buffer. */
struct ms_storage {
	enum ms_dtype dtype;
	const unsigned char *data;
	size_t bytes;
	bool big_endian;
};

/* The fields of a torch storage persistent id, ('storage', TYPE, KEY,
 * LOCATION, NUMEL[, VIEW_METADATA]). VIEW_KEY is NULL when the id has no
 * view metadata; otherwise the storage is VIEW_SIZE elements of the root
 * storage starting at element VIEW_OFFSET. */
struct ms_storage_ref {
	enum ms_dtype dtype;
	const char *key;
	int64_t numel;
	const char *view_key;
	int64_t view_offset, view_size;
};

/* Parses persistent id PID. Returns 0, or -1 with ERR set to "PATH:
 * tensor 'NAME': problem" (or "PATH: storage reference: problem" when
 * NAME is NULL). */
int ms_torch_storage_ref(const char *path, const char *name,
			 const struct ms_pval *pid, struct ms_storage_ref *ref,
			 struct ms_error *err);

/* Maps a persistent id to storage bytes for tensor NAME. Returns 0, or -1
 * with ERR set. */
typedef int (*ms_storage_resolver)(void *ctx, const char *name,
				   const struct ms_pval *pid,
				   struct ms_storage *out, struct ms_error *err);

/* Walks ROOT in order and adds every tensor and NumPy array it contains
 * to CK, named by its dotted key path (dict keys, and list or tuple
 * indices as numbers). Other values are skipped. Placeholders are
 * skipped too and recorded with ms_ck_skip(), except that a placeholder
 * where a tensor's data must be is an error: as the data of a parameter
 * or quantized tensor, or when built by a torch._utils._rebuild_* function
 * this interpreter does not know. Tensor and skipped keys drop one wrapper ("state_dict", "model", "net", "model_state_dict"
 * or "ema") when ROOT is a dict whose entry of that name holds tensors.
 * NumPy array data is copied into buffers kept by CK. Returns 0, or -1
 * with ERR set to "PATH: problem". */
int ms_torch_add_tensors(struct ms_checkpoint *ck, const struct ms_pval *root,
			 ms_storage_resolver resolve, void *ctx,
			 struct ms_error *err);

#endif
