/* The contract between the checkpoint loader and its container readers.
 * Not part of the public core API: only reader files include it. */
#ifndef MS_READERS_H
#define MS_READERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "tensor.h"

/* A byte range of the input: a memory-mapped file, or a buffer that the
 * checkpoint owns (a decompressed member, say). */
struct ms_bytes {
	const unsigned char *data;
	size_t size;
};

/* Adds a tensor to CK. NAME is copied. STORAGE is the whole storage the
 * tensor views (STORAGE_BYTES long); it must stay valid until CK is closed,
 * so it lies in the input mapping or in a buffer passed to ms_ck_keep().
 * Checks that the shape's element count does not overflow and that every
 * element that SHAPE, STRIDE and OFFSET can reach lies inside the storage.
 * Does not scan the tensor. Returns 0, or -1 with ERR set to
 * "PATH: tensor 'NAME': problem". */
int ms_ck_add(struct ms_checkpoint *ck, const char *name,
	      enum ms_dtype dtype, int ndim, const int64_t *shape,
	      const int64_t *stride, int64_t offset,
	      const unsigned char *storage, size_t storage_bytes,
	      bool big_endian, struct ms_error *err);

/* Hands BUFFER (from malloc) to CK, which frees it on close. Returns 0, or
 * -1 with ERR set when memory runs out; BUFFER is freed in that case too. */
int ms_ck_keep(struct ms_checkpoint *ck, void *buffer, struct ms_error *err);

/* Container readers. Each reads IN (the whole file, or a decompressed
 * copy) and adds its tensors to CK with ms_ck_add(); CK->path is set for
 * messages. Each returns 0, or -1 with ERR set, and must stay within
 * bounded time and memory on any input. */
int ms_read_torch_legacy(struct ms_checkpoint *ck, struct ms_bytes in,
			 struct ms_error *err);
int ms_read_torch_zip(struct ms_checkpoint *ck, struct ms_bytes in,
		      struct ms_error *err);
int ms_read_npz(struct ms_checkpoint *ck, struct ms_bytes in,
		struct ms_error *err);
int ms_read_npy(struct ms_checkpoint *ck, const char *name,
		struct ms_bytes in, struct ms_error *err);
int ms_read_safetensors(struct ms_checkpoint *ck, struct ms_bytes in,
			struct ms_error *err);

#endif
