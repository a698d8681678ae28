/* Streaming gzip inflation for checkpoints. The output grows in a buffer
 * that doubles. Each time it fills before a bound is known, the start of
 * the content goes to its reader's bound function. Once that returns a
 * size, the output may not pass it. */
#include "gunzip.h"

#include "ckpriv.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Until the content declares its size, at most GZIP_PREFIX_BASE plus
 * GZIP_PREFIX_RATIO times the compressed size is inflated. Headers are
 * small next to it: a state dict's pickle takes an estimated 100 to 300
 * bytes per tensor, so 64 MiB is room for the pickles of over 200000
 * tensors. The ratio leaves room for pickles that embed NumPy arrays. */
#define GZIP_PREFIX_BASE ((uint64_t)64 << 20)
#define GZIP_PREFIX_RATIO 8

/* Content that declares no size of its own (a zip whose first member is
 * neither a stored data.pkl nor a member ms_npz_bound() can walk, headers
 * that do not load within the prefix) is capped at GZIP_CAP_RATIO times the compressed size plus
 * GZIP_CAP_SLACK, and never more than GZIP_HARD_MAX. NOTE: the ratio is
 * an estimate. Deflate shrinks long runs of zeros about 1000 times (zlib
 * 1.2.13 made 130 KB of 128 MiB of zeros), so such content of almost only
 * zeros is rejected. */
#define GZIP_CAP_RATIO 256
#define GZIP_CAP_SLACK ((uint64_t)64 << 20)
#define GZIP_HARD_MAX ((uint64_t)8 << 30)

/* The initial size of the output buffer, where a bound is first
 * requested. */
#define GZIP_FIRST_BUFFER ((size_t)64 << 10)

enum phase {
	PHASE_PREFIX,    /* no bound yet: LIMIT is the prefix limit */
	PHASE_WALK,      /* walking npz members: LIMIT is the next step's */
	PHASE_BOUNDED,   /* LIMIT is one byte past the declared bound */
	PHASE_CAPPED     /* LIMIT is the cap for content without a bound */
};

struct inflater {
	const char *path;
	struct ms_bytes in;
	z_stream zs;
	unsigned char *buf;
	size_t cap, used, fed;
	size_t limit;            /* the maximum size of the buffer */
	size_t cap_limit;        /* the limit of PHASE_CAPPED */
	enum phase phase;
	struct ms_size_bound bound;
	struct ms_npz_walk walk;
	struct ms_error *err;
};

/* Returns RATIO times COMPRESSED plus BASE, at most GZIP_HARD_MAX. */
static size_t scaled_limit(size_t compressed, uint64_t ratio, uint64_t base)
{
	uint64_t limit = GZIP_HARD_MAX;

	if (compressed < (GZIP_HARD_MAX - base) / ratio)
		limit = (uint64_t)compressed * ratio + base;
	return limit < SIZE_MAX / 2 ? (size_t)limit : SIZE_MAX / 2;
}

/* Asks the reader of the content's format for a bound on PREFIX. Sets
 * *UNKNOWN when the first bytes match no format that the loader reads;
 * the tests mirror those of read_content() in checkpoint.c. */
static int content_bound(const char *path, struct ms_bytes prefix,
			 struct ms_size_bound *bound, bool *unknown,
			 struct ms_error *err)
{
	const unsigned char *d = prefix.data;

	*unknown = false;
	if (prefix.size < 9)
		return MS_BOUND_MORE;
	if (memcmp(d, "PK\3\4", 4) == 0)
		return ms_torch_zip_bound(path, prefix, bound, err);
	if (memcmp(d, "\x93NUMPY", 6) == 0)
		return ms_npy_bound(path, prefix, bound, err);
	if (d[8] == '{')
		return ms_safetensors_bound(path, prefix, bound, err);
	if (d[0] == 0x80 || d[0] == 'L')
		return ms_torch_legacy_bound(path, prefix, bound, err);
	*unknown = true;
	return MS_BOUND_NONE;
}

/* Called each time the buffer fills before a bound is known. Returns 0 to
 * go on, 1 to stop at the prefix (unknown content), or -1 with the error
 * set. */
static int settle_bound(struct inflater *f)
{
	struct ms_bytes prefix = { f->buf, f->used };
	bool unknown = false;
	uint64_t need;
	int rc;

	if (f->phase == PHASE_PREFIX)
		rc = content_bound(f->path, prefix, &f->bound, &unknown, f->err);
	else
		rc = ms_npz_bound(f->path, prefix, &f->walk, &need, &f->bound,
				  f->err);
	/* A zip that is no torch archive is taken as an npz. */
	if (rc == MS_BOUND_NONE && f->phase == PHASE_PREFIX &&
	    memcmp(f->buf, "PK\3\4", 4) == 0) {
		f->phase = PHASE_WALK;
		rc = ms_npz_bound(f->path, prefix, &f->walk, &need, &f->bound,
				  f->err);
	}
	if (rc == MS_BOUND_ERROR)
		return -1;
	if (unknown)
		return 1;
	if (rc == MS_BOUND_MORE && f->phase == PHASE_WALK) {
		f->limit = need < SIZE_MAX / 2 ? (size_t)need : SIZE_MAX / 2;
		return 0;
	}
	if (rc == MS_BOUND_MORE && f->cap < f->limit)
		return 0;
	if (rc != MS_BOUND_KNOWN) {
		f->phase = PHASE_CAPPED;
		f->limit = f->cap_limit;
		return 0;
	}
	f->phase = PHASE_BOUNDED;
	f->limit = f->bound.total < SIZE_MAX / 2 ? (size_t)f->bound.total + 1
						 : SIZE_MAX / 2;
	return 0;
}

/* Reports that the output reached F->limit. */
static int fail_limit(struct inflater *f)
{
	if (f->phase == PHASE_BOUNDED && f->used > f->bound.total)
		return ms_fail(f->err, "%s: gzip data is larger than its tensors "
			       "can need: %s %llu bytes, so the content with its "
			       "headers takes at most %llu bytes", f->path,
			       f->bound.declared_by,
			       (unsigned long long)f->bound.tensor_bytes,
			       (unsigned long long)f->bound.total);
	if (f->phase == PHASE_CAPPED)
		return ms_fail(f->err, "%s: gzip data expands to more than %zu "
			       "bytes, the cap of %d times its compressed size "
			       "plus 64 MiB for content that does not declare "
			       "its size; this looks like a gzip bomb", f->path,
			       f->limit, GZIP_CAP_RATIO);
	return ms_fail(f->err, "%s: gzip data expands to more than %zu bytes, "
		       "more than this program can hold", f->path, f->limit);
}

static int grow(struct inflater *f)
{
	size_t cap = f->cap <= f->limit / 2 ? f->cap * 2 : f->limit;
	unsigned char *bigger = realloc(f->buf, cap);

	if (bigger == NULL)
		return ms_fail(f->err, "%s: out of memory while inflating gzip "
			       "data to %zu bytes", f->path, cap);
	f->buf = bigger;
	f->cap = cap;
	return 0;
}

/* Inflates until the stream ends. Returns 0 at the end, 1 when stopped at
 * the prefix of unknown content, or -1 with the error set. */
static int inflate_all(struct inflater *f)
{
	for (;;) {
		size_t in_left = f->in.size - f->fed, out_left;
		int ret;

		if (f->used == f->cap) {
			ret = f->phase == PHASE_PREFIX || f->phase == PHASE_WALK
				      ? settle_bound(f) : 0;
			if (ret != 0)
				return ret;
			if (f->cap >= f->limit)
				return fail_limit(f);
			if (grow(f) < 0)
				return -1;
		}
		out_left = f->cap - f->used;
		f->zs.next_in = (unsigned char *)f->in.data + f->fed;
		f->zs.avail_in = in_left < UINT_MAX ? (uInt)in_left : UINT_MAX;
		f->zs.next_out = f->buf + f->used;
		f->zs.avail_out = out_left < UINT_MAX ? (uInt)out_left : UINT_MAX;
		ret = inflate(&f->zs, Z_NO_FLUSH);
		f->fed = (size_t)(f->zs.next_in - f->in.data);
		f->used = (size_t)(f->zs.next_out - f->buf);
		if (f->phase == PHASE_BOUNDED && f->used > f->bound.total)
			return fail_limit(f);
		if (ret == Z_STREAM_END) {
			/* Another member may follow; anything else is ignored,
			 * as gzip(1) does. */
			if (f->in.size - f->fed < 2 || f->in.data[f->fed] != 0x1f ||
			    f->in.data[f->fed + 1] != 0x8b)
				return 0;
			if (inflateReset(&f->zs) != Z_OK)
				return ms_fail(f->err, "%s: invalid gzip data",
					       f->path);
			continue;
		}
		if (ret == Z_BUF_ERROR && f->fed == f->in.size)
			return ms_fail(f->err, "%s: gzip data is truncated",
				       f->path);
		if (ret != Z_OK && ret != Z_BUF_ERROR)
			return ms_fail(f->err, "%s: invalid gzip data at "
				       "compressed byte %zu: %s", f->path, f->fed,
				       f->zs.msg ? f->zs.msg : "error");
	}
}

int ms_ck_gunzip(struct ms_checkpoint *ck, struct ms_bytes in,
		 struct ms_bytes *out, struct ms_error *err)
{
	struct ms_ck_priv *pv = ck->priv;
	struct inflater f = { .path = ck->path, .in = in, .err = err };
	unsigned char *shrunk;
	int rc;

	f.cap_limit = scaled_limit(in.size, GZIP_CAP_RATIO, GZIP_CAP_SLACK);
	f.limit = scaled_limit(in.size, GZIP_PREFIX_RATIO, GZIP_PREFIX_BASE);
	if (f.limit > f.cap_limit)
		f.limit = f.cap_limit;
	f.cap = GZIP_FIRST_BUFFER;
	f.buf = malloc(f.cap);
	if (f.buf == NULL || inflateInit2(&f.zs, 16 + MAX_WBITS) != Z_OK) {
		free(f.buf);
		return ms_fail(err, "%s: out of memory", ck->path);
	}
	rc = inflate_all(&f);
	inflateEnd(&f.zs);
	if (rc < 0) {
		free(f.buf);
		return -1;
	}
	/* Tensors will point into the buffer, so it is trimmed now. */
	shrunk = realloc(f.buf, f.used ? f.used : 1);
	if (shrunk != NULL)
		f.buf = shrunk;
	pv->inflated = f.buf;
	pv->inflated_size = f.used;
	out->data = f.buf;
	out->size = f.used;
	return 0;
}

int ms_storage_bound(const char *path, uint64_t data, uint64_t overhead,
		     struct ms_size_bound *bound, struct ms_error *err)
{
	uint64_t total;

	if (__builtin_add_overflow(data, overhead, &total)) {
		ms_fail(err, "%s: the storages declare more than 2^64 bytes",
			path);
		return MS_BOUND_ERROR;
	}
	bound->total = total;
	bound->tensor_bytes = data;
	bound->declared_by = "its storages declare";
	return MS_BOUND_KNOWN;
}
