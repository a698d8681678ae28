/* Inflating a gzip-wrapped checkpoint within the size that its own content
 * declares, so that a gzip bomb is stopped at what its tensors can need.
 * The size bounds come from the container readers, which parse the start
 * of the inflated content with their usual code. Not part of the public
 * core API: only the checkpoint loader and the readers include this. */
#ifndef MS_GUNZIP_H
#define MS_GUNZIP_H

#include <stdint.h>

#include "error.h"
#include "readers.h"
#include "tensor.h"

/* The maximum size of a whole content, given what its first bytes
 * declare. */
struct ms_size_bound {
	uint64_t total;          /* the whole content, headers included */
	uint64_t tensor_bytes;   /* the tensor data declared, in bytes */
	const char *declared_by; /* for messages: "its storages declare" */
};

/* Results of the ms_*_bound() functions. */
enum ms_bound_result {
	MS_BOUND_ERROR = -1,     /* the declarations are invalid: ERR is set */
	MS_BOUND_MORE = 0,       /* PREFIX is too short to tell */
	MS_BOUND_KNOWN = 1,      /* *BOUND is set */
	MS_BOUND_NONE = 2        /* this content declares no usable bound */
};

/* Sets BOUND for a torch file whose storages declare DATA bytes, to which
 * its headers and records add OVERHEAD bytes. Returns MS_BOUND_KNOWN, or
 * MS_BOUND_ERROR with ERR set when the sum overflows. */
int ms_storage_bound(const char *path, uint64_t data, uint64_t overhead,
		     struct ms_size_bound *bound, struct ms_error *err);

/* Each reads PREFIX, the first bytes of an inflated content of the
 * reader's format (more may follow), and returns an enum ms_bound_result.
 * They parse headers with the readers' own code, so a content they bound
 * is read by the reader under the same rules. PATH names the file in ERR.
 * Time and memory are linear in PREFIX.SIZE.
 *
 * torch legacy: the five pickles, then per listed storage an 8-byte count
 * and its elements, whose counts and types the persistent ids give.
 * torch zip: TOP/data.pkl must be the first member and stored; the bound
 * counts its storages and the zip records around them (torch_zip.c).
 * npy: the header, then the array its shape and dtype declare.
 * safetensors: the header length, the header and the largest end offset. */
int ms_torch_legacy_bound(const char *path, struct ms_bytes prefix,
			  struct ms_size_bound *bound, struct ms_error *err);
int ms_torch_zip_bound(const char *path, struct ms_bytes prefix,
		       struct ms_size_bound *bound, struct ms_error *err);
int ms_npy_bound(const char *path, struct ms_bytes prefix,
		 struct ms_size_bound *bound, struct ms_error *err);
int ms_safetensors_bound(const char *path, struct ms_bytes prefix,
			 struct ms_size_bound *bound, struct ms_error *err);

/* The state of a walk over the members of an npz archive. Zero it to
 * start at the first local header. */
struct ms_npz_walk {
	uint64_t pos;            /* the offset of the next local header */
	uint64_t data;           /* the member bytes walked over */
	uint64_t central;        /* their central directory entries, at most */
};

/* Walks the local headers of an npz archive in PREFIX from WALK->pos on,
 * and returns an enum ms_bound_result. MS_BOUND_MORE sets *NEED to the
 * prefix size that the next step reads; call again with a longer prefix
 * and the same WALK. The bound is known once the walk meets anything but
 * a local header (normally the central directory): it is the members
 * walked over, a central directory entry each, and the end records.
 * MS_BOUND_NONE: a member is encrypted, uses another method than stored
 * or deflated, or is deflated with its sizes only in a data descriptor. */
int ms_npz_bound(const char *path, struct ms_bytes prefix,
		 struct ms_npz_walk *walk, uint64_t *need,
		 struct ms_size_bound *bound, struct ms_error *err);

/* Inflates IN, a gzip stream of one or more members, into a buffer that CK
 * owns (struct ms_ck_priv.inflated), and stores it in *OUT. The output may
 * not exceed the bound that its content declares. Content that declares
 * none is capped at a multiple of IN.SIZE, as gunzip.c states.
 * Content whose first bytes match no checkpoint format is returned after
 * a short prefix, which the caller rejects by those bytes. Returns 0, or
 * -1 with ERR set to "PATH: problem" (truncated or invalid data, a bound
 * passed, no memory). */
int ms_ck_gunzip(struct ms_checkpoint *ck, struct ms_bytes in,
		 struct ms_bytes *out, struct ms_error *err);

#endif
