/* NumPy .npy arrays, alone or as the members of an .npz archive. The
 * header is a Python dict literal that is parsed strictly here, with the
 * byte offset of any error. */
#define _POSIX_C_SOURCE 200809L  /* strndup */

#include "gunzip.h"
#include "readers.h"
#include "zipfile.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_SIZE 6

/* NumPy pads headers to a multiple of 64 bytes and writes a few hundred at
 * most, even with MS_MAX_DIMS dimensions. A longer header is rejected, so
 * that an npz member's header can be read before the member is loaded. */
#define NPY_HEADER_MAX (1u << 20)

/* The declarations of an npy header. */
struct npy_header {
	size_t data_start;       /* byte offset of the array data */
	enum ms_dtype dtype;
	bool big_endian;
	bool fortran_order;
	int ndim;
	int64_t shape[MS_MAX_DIMS];
	uint64_t data_bytes;     /* elements times element size */
};

/* A cursor over the header dict, for messages with byte offsets. */
struct cursor {
	const char *where;       /* "FILE" or "FILE: member 'NAME'" */
	const unsigned char *text;
	size_t pos, end;
	size_t base;             /* file offset of TEXT */
	struct ms_error *err;
};

static int fail_at(struct cursor *c, const char *what)
{
	return ms_fail(c->err, "%s: npy header, byte %zu: %s", c->where,
		       c->base + c->pos, what);
}

static void skip_space(struct cursor *c)
{
	while (c->pos < c->end && (c->text[c->pos] == ' ' ||
				   c->text[c->pos] == '\t'))
		c->pos++;
}

/* Consumes CH after optional spaces, or fails. */
static int expect(struct cursor *c, char ch, const char *what)
{
	skip_space(c);
	if (c->pos >= c->end || c->text[c->pos] != ch)
		return fail_at(c, what);
	c->pos++;
	return 0;
}

static bool accept(struct cursor *c, char ch)
{
	skip_space(c);
	if (c->pos < c->end && c->text[c->pos] == ch) {
		c->pos++;
		return true;
	}
	return false;
}

/* Reads a quoted string without escapes into OUT (SIZE bytes). */
static int parse_string(struct cursor *c, char *out, size_t size)
{
	size_t n = 0;
	char quote;

	skip_space(c);
	if (c->pos >= c->end || (c->text[c->pos] != '\'' &&
				 c->text[c->pos] != '"'))
		return fail_at(c, "expected a quoted string");
	quote = (char)c->text[c->pos++];
	while (c->pos < c->end && c->text[c->pos] != quote) {
		if (c->text[c->pos] == '\\' || n + 1 >= size)
			return fail_at(c, "string is too long or has escapes");
		out[n++] = (char)c->text[c->pos++];
	}
	if (c->pos >= c->end)
		return fail_at(c, "unterminated string");
	c->pos++;
	out[n] = '\0';
	return 0;
}

static int parse_descr(struct cursor *c, struct npy_header *h)
{
	static const struct {
		const char *code;
		enum ms_dtype dtype;
	} codes[] = {
		{ "f2", MS_DTYPE_F16 }, { "f4", MS_DTYPE_F32 },
		{ "f8", MS_DTYPE_F64 }, { "i1", MS_DTYPE_I8 },
		{ "i2", MS_DTYPE_I16 }, { "i4", MS_DTYPE_I32 },
		{ "i8", MS_DTYPE_I64 }, { "u1", MS_DTYPE_U8 },
		{ "b1", MS_DTYPE_BOOL },
	};
	size_t at = c->pos;
	char descr[16];

	skip_space(c);
	if (c->pos < c->end && c->text[c->pos] == '[')
		return fail_at(c, "structured dtypes are not supported");
	if (parse_string(c, descr, sizeof descr))
		return -1;
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		if (strcmp(descr + 1, codes[i].code) != 0)
			continue;
		h->dtype = codes[i].dtype;
		h->big_endian = descr[0] == '>';
		if (descr[0] == '<' || descr[0] == '>' ||
		    (descr[0] == '|' && ms_dtype_size(h->dtype) == 1))
			return 0;
	}
	c->pos = at;
	skip_space(c);
	return ms_fail(c->err, "%s: npy header, byte %zu: unsupported dtype "
		       "'%s' (expected f2, f4, f8, i1, i2, i4, i8, u1 or b1 "
		       "with byte order < or >)", c->where, c->base + c->pos,
		       descr);
}

static int parse_bool(struct cursor *c, bool *out)
{
	skip_space(c);
	if (c->end - c->pos >= 4 && memcmp(c->text + c->pos, "True", 4) == 0) {
		c->pos += 4;
		*out = true;
		return 0;
	}
	if (c->end - c->pos >= 5 && memcmp(c->text + c->pos, "False", 5) == 0) {
		c->pos += 5;
		*out = false;
		return 0;
	}
	return fail_at(c, "expected True or False");
}

static int parse_dim(struct cursor *c, int64_t *out)
{
	int64_t v = 0;

	skip_space(c);
	if (c->pos >= c->end || c->text[c->pos] < '0' || c->text[c->pos] > '9')
		return fail_at(c, "expected a dimension");
	while (c->pos < c->end && c->text[c->pos] >= '0' &&
	       c->text[c->pos] <= '9') {
		int digit = c->text[c->pos] - '0';

		if (v > (INT64_MAX - digit) / 10)
			return fail_at(c, "dimension is too large");
		v = v * 10 + digit;
		c->pos++;
	}
	if (c->pos < c->end && c->text[c->pos] == 'L')
		c->pos++;  /* Python 2 long suffix */
	*out = v;
	return 0;
}

/* Parses "(A, B, ...)" with an optional trailing comma; "(A,)" has one. */
static int parse_shape(struct cursor *c, struct npy_header *h)
{
	if (expect(c, '(', "expected '(' to start the shape"))
		return -1;
	h->ndim = 0;
	while (!accept(c, ')')) {
		if (h->ndim == MS_MAX_DIMS)
			return fail_at(c, "too many dimensions");
		if (parse_dim(c, &h->shape[h->ndim++]))
			return -1;
		if (accept(c, ')'))
			break;
		if (expect(c, ',', "expected ',' or ')' in the shape"))
			return -1;
	}
	return 0;
}

static int parse_dict(struct cursor *c, struct npy_header *h)
{
	bool seen[3] = { false, false, false };
	static const char *keys[3] = { "descr", "fortran_order", "shape" };

	if (expect(c, '{', "expected '{'"))
		return -1;
	while (!accept(c, '}')) {
		char key[32];
		size_t at;
		int k;

		skip_space(c);
		at = c->pos;
		if (parse_string(c, key, sizeof key))
			return -1;
		for (k = 0; k < 3 && strcmp(key, keys[k]) != 0; k++)
			;
		if (k == 3 || seen[k]) {
			c->pos = at;
			return fail_at(c, k == 3 ? "unknown key" :
				       "duplicate key");
		}
		seen[k] = true;
		if (expect(c, ':', "expected ':'"))
			return -1;
		if ((k == 0 && parse_descr(c, h)) ||
		    (k == 1 && parse_bool(c, &h->fortran_order)) ||
		    (k == 2 && parse_shape(c, h)))
			return -1;
		if (accept(c, '}'))
			break;
		if (expect(c, ',', "expected ',' or '}'"))
			return -1;
	}
	for (int k = 0; k < 3; k++)
		if (!seen[k])
			return ms_fail(c->err, "%s: npy header: missing key '%s'",
				       c->where, keys[k]);
	/* Padding: spaces, then one newline that ends the header. */
	skip_space(c);
	if (c->pos + 1 != c->end || c->text[c->pos] != '\n')
		return fail_at(c, "expected spaces and a newline after '}'");
	return 0;
}

/* Parses the header at the start of IN (at least the magic, the version and
 * the header length must be there; the header itself must be complete). */
static int parse_header(const char *where, struct ms_bytes in,
			struct npy_header *h, struct ms_error *err)
{
	struct cursor c = { .where = where, .err = err };
	size_t prefix, length;
	int64_t elements;

	if (in.size < NPY_MAGIC_SIZE + 4 ||
	    memcmp(in.data, NPY_MAGIC, NPY_MAGIC_SIZE) != 0)
		return ms_fail(err, "%s: not an npy array (bad magic)", where);
	if (in.data[6] < 1 || in.data[6] > 3)
		return ms_fail(err, "%s: unsupported npy version %d.%d", where,
			       in.data[6], in.data[7]);
	if (in.data[6] == 1) {
		prefix = 10;
		length = in.data[8] | (size_t)in.data[9] << 8;
	} else {
		prefix = 12;
		if (in.size < prefix)
			return ms_fail(err, "%s: npy header is truncated", where);
		length = in.data[8] | (size_t)in.data[9] << 8 |
			 (size_t)in.data[10] << 16 | (size_t)in.data[11] << 24;
	}
	if (length > NPY_HEADER_MAX)
		return ms_fail(err, "%s: npy header length %zu exceeds %u bytes",
			       where, length, NPY_HEADER_MAX);
	if (in.size - prefix < length)
		return ms_fail(err, "%s: npy header (%zu bytes) runs past the "
			       "end of the data", where, length);
	c.text = in.data + prefix;
	c.end = length;
	c.base = prefix;
	if (parse_dict(&c, h))
		return -1;
	h->data_start = prefix + length;
	elements = ms_shape_elements(h->ndim, h->shape);
	if (elements < 0 || (uint64_t)elements > UINT64_MAX /
	    ms_dtype_size(h->dtype))
		return ms_fail(err, "%s: npy shape element count overflows",
			       where);
	h->data_bytes = (uint64_t)elements * ms_dtype_size(h->dtype);
	return 0;
}

/* Adds the array in IN, described by H, as tensor NAME. */
static int add_array(struct ms_checkpoint *ck, const char *name,
		     const char *where, struct ms_bytes in,
		     const struct npy_header *h, struct ms_error *err)
{
	int64_t stride[MS_MAX_DIMS];
	int64_t step = 1;
	size_t available = in.size - h->data_start;

	if (h->data_bytes != available)
		return ms_fail(err, "%s: npy header declares %llu data bytes "
			       "but %zu follow it", where,
			       (unsigned long long)h->data_bytes, available);
	/* Fortran order is column-major: the first index varies fastest. */
	for (int i = 0; i < h->ndim; i++) {
		int d = h->fortran_order ? i : h->ndim - 1 - i;

		stride[d] = step;
		if (__builtin_mul_overflow(step, h->shape[d] > 0 ?
					   h->shape[d] : 1, &step))
			return ms_fail(err, "%s: npy shape is too large", where);
	}
	return ms_ck_add(ck, name, h->dtype, h->ndim, h->shape, stride, 0,
			 in.data + h->data_start, available, h->big_endian,
			 err);
}

int ms_read_npy(struct ms_checkpoint *ck, const char *name,
		struct ms_bytes in, struct ms_error *err)
{
	struct npy_header h;

	if (parse_header(ck->path, in, &h, err))
		return -1;
	return add_array(ck, name, ck->path, in, &h, err);
}

/* Reads member I of an npz archive as the tensor its name gives. */
static int read_npz_member(struct ms_checkpoint *ck, struct ms_zip *zip,
			   size_t i, struct ms_error *err)
{
	const struct ms_zip_member *m = ms_zip_member(zip, i);
	size_t len = strlen(m->name);
	char where[400], *name;
	unsigned char *head;
	struct ms_bytes bytes = { NULL, 0 };
	struct npy_header h;
	int rc = -1;

	snprintf(where, sizeof where, "%s: member '%s'", ck->path, m->name);
	if (len <= 4 || strcmp(m->name + len - 4, ".npy") != 0)
		return ms_fail(err, "%s: not an .npy member", where);
	/* The header bounds the member's size before it is inflated. */
	head = malloc(12 + NPY_HEADER_MAX);
	name = strndup(m->name, len - 4);
	if (head == NULL || name == NULL) {
		ms_fail(err, "%s: out of memory", where);
		goto out;
	}
	if (ms_zip_peek(zip, i, head, 12, &bytes.size, err))
		goto out;
	bytes.data = head;
	if (bytes.size >= 12 && head[6] == 1)
		bytes.size = 10 + (head[8] | (size_t)head[9] << 8);
	else if (bytes.size >= 12)
		bytes.size = 12 + (head[8] | (size_t)head[9] << 8 |
				   (size_t)head[10] << 16 |
				   (size_t)head[11] << 24);
	if (bytes.size > 12 + NPY_HEADER_MAX)
		bytes.size = 12 + NPY_HEADER_MAX;
	if (ms_zip_peek(zip, i, head, bytes.size, &bytes.size, err) ||
	    parse_header(where, bytes, &h, err))
		goto out;
	if (h.data_bytes > UINT64_MAX - h.data_start) {
		ms_fail(err, "%s: npy data size overflows", where);
		goto out;
	}
	if (ms_zip_load(zip, i, h.data_start + h.data_bytes, ck, &bytes, err) ||
	    parse_header(where, bytes, &h, err))
		goto out;
	rc = add_array(ck, name, where, bytes, &h, err);
out:
	free(head);
	free(name);
	return rc;
}

int ms_read_npz(struct ms_checkpoint *ck, struct ms_bytes in,
		struct ms_error *err)
{
	struct ms_zip *zip = ms_zip_open(ck->path, in, err);
	int rc = 0;

	if (zip == NULL)
		return -1;
	for (size_t i = 0; i < ms_zip_count(zip) && rc == 0; i++)
		rc = read_npz_member(ck, zip, i, err);
	ms_zip_close(zip);
	return rc;
}

/* The array data follows the header and ends the file. */
int ms_npy_bound(const char *path, struct ms_bytes prefix,
		 struct ms_size_bound *bound, struct ms_error *err)
{
	struct npy_header h;
	size_t length;

	if (prefix.size < 12)
		return MS_BOUND_MORE;
	if (prefix.data[6] == 1)
		length = 10 + (prefix.data[8] | (size_t)prefix.data[9] << 8);
	else
		length = 12 + (prefix.data[8] | (size_t)prefix.data[9] << 8 |
			       (size_t)prefix.data[10] << 16 |
			       (size_t)prefix.data[11] << 24);
	if (prefix.size < length && length <= 12 + NPY_HEADER_MAX)
		return MS_BOUND_MORE;
	if (parse_header(path, prefix, &h, err) < 0)
		return MS_BOUND_ERROR;
	if (h.data_bytes > UINT64_MAX - h.data_start) {
		ms_fail(err, "%s: npy data size overflows", path);
		return MS_BOUND_ERROR;
	}
	bound->total = h.data_start + h.data_bytes;
	bound->tensor_bytes = h.data_bytes;
	bound->declared_by = "its npy header declares";
	return MS_BOUND_KNOWN;
}
