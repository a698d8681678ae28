/* Read-only access to the members of a zip archive held in memory (a
 * memory-mapped checkpoint), for the torch zip and npz readers. Stored
 * members are returned in place; deflated ones are inflated with limits. */
#ifndef MS_ZIPFILE_H
#define MS_ZIPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "readers.h"
#include "tensor.h"

/* Compression methods as the zip format numbers them. */
#define MS_ZIP_STORED 0
#define MS_ZIP_DEFLATED 8

/* Deflate cannot expand data by more than 1032 to 1 (a 258-byte match
 * costs at least 2 bits), so a member whose declared size exceeds its
 * compressed size times this factor lies about its size. */
#define MS_ZIP_DEFLATE_MAX_RATIO 1032

struct ms_zip;

/* One member, as the central directory describes it. */
struct ms_zip_member {
	const char *name;        /* owned by the archive */
	int method;              /* MS_ZIP_STORED, MS_ZIP_DEFLATED, ... */
	uint64_t compressed_size;
	uint64_t size;           /* declared uncompressed size, in bytes */
	uint64_t data_offset;    /* of the member's bytes in the input */
};

/* Opens the archive in IN, which must stay valid until ms_zip_close().
 * PATH is used in messages. Walks the central directory itself (with ZIP64
 * records) to find each member's data offset, and checks each local header
 * signature, its name and extra lengths, and that every member's compressed
 * bytes lie inside IN. Returns the archive, or NULL with ERR set to
 * "PATH: problem". */
struct ms_zip *ms_zip_open(const char *path, struct ms_bytes in,
			   struct ms_error *err);

/* Frees the archive. Bytes already returned by ms_zip_load() stay valid:
 * they lie in the input or in buffers that the checkpoint owns. */
void ms_zip_close(struct ms_zip *zip);

/* Returns the member count. */
size_t ms_zip_count(const struct ms_zip *zip);

/* Returns member I (below ms_zip_count()). */
const struct ms_zip_member *ms_zip_member(const struct ms_zip *zip,
					  size_t i);

/* Returns the index of the member named NAME, or -1 when there is none. */
long ms_zip_find(const struct ms_zip *zip, const char *name);

/* Copies the first bytes of member I, decompressed, into BUF (at most
 * SIZE bytes) and stores the count in *GOT: SIZE, or less when the member
 * is shorter. Meant for headers that tell how large the member may be.
 * Returns 0, or -1 with ERR set. */
int ms_zip_peek(struct ms_zip *zip, size_t i, void *buf, size_t size,
		size_t *got, struct ms_error *err);

/* Returns the bytes of member I in *OUT. A stored member is returned in
 * place (a pointer into the input). A deflated member is inflated into a
 * buffer handed to CK with ms_ck_keep(), after checking that its declared
 * size is at most LIMIT bytes and within the deflate ratio; inflation stops
 * one byte past the declared size, and any difference between declared and
 * actual size is an error. Other methods are rejected. Returns 0, or -1
 * with ERR set to "PATH: member 'NAME': problem". */
int ms_zip_load(struct ms_zip *zip, size_t i, uint64_t limit,
		struct ms_checkpoint *ck, struct ms_bytes *out,
		struct ms_error *err);

#endif
