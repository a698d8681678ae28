/* Writes a synthetic checkpoint of pruned float32 weights in one container
 * format, for the read benchmark. It needs no PyTorch: the pickles, zip
 * records, npy headers and safetensors header are written here, following
 * the formats that torch.save (legacy and zip), np.savez and safetensors
 * use.
 *
 * Usage: bench-gen FORMAT OUTPUT MIB
 * FORMAT is torch-zip, torch-legacy, npz or safetensors; MIB is the
 * tensor data size in MiB (a multiple of 4: each tensor is 4 MiB). */
#define _POSIX_C_SOURCE 200809L  /* open_memstream */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define TENSOR_ELEMENTS (1 << 20)   /* [512, 512, 2, 2] float32: 4 MiB */
#define TENSOR_BYTES (4u * TENSOR_ELEMENTS)

static FILE *out;
static uint64_t written;
static float *values;

static void put(const void *p, size_t n)
{
	if (fwrite(p, 1, n, out) != n) {
		fprintf(stderr, "bench-gen: write failed: %s\n",
			strerror(errno));
		exit(1);
	}
	written += n;
}

static void put_u8(unsigned v) { unsigned char b = (unsigned char)v; put(&b, 1); }

static void put_le(uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		put_u8((unsigned)(v >> (8 * i)) & 0xff);
}

/* Fills VALUES with tensor K: about half zeros (pruned), the rest uniform
 * in [-0.5, 0.5). */
static void fill(unsigned k)
{
	uint64_t s = 0x9e3779b97f4a7c15ull * (k + 1);

	for (size_t i = 0; i < TENSOR_ELEMENTS; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		values[i] = (s & 1) ? 0.0f :
			    ((float)(s >> 40) / (float)(1 << 24) - 0.5f);
	}
}

static void tensor_name(unsigned k, char *buf, size_t size)
{
	snprintf(buf, size, "layer%u.conv.weight", k);
}

/* ---- pickle opcodes (protocol 2) ---- */

static void pk_str(const char *s)
{
	put_u8('X');
	put_le(strlen(s), 4);
	put(s, strlen(s));
}

static void pk_global(const char *module, const char *name)
{
	put_u8('c');
	put(module, strlen(module));
	put_u8('\n');
	put(name, strlen(name));
	put_u8('\n');
}

static void pk_int(int64_t v)
{
	put_u8('J');  /* BININT: 4-byte signed */
	put_le((uint64_t)v, 4);
}

/* Writes one _rebuild_tensor_v2 call for tensor K. LEGACY adds the
 * view_metadata field (None) that the legacy format's ids have. */
static void pk_tensor(unsigned k, int legacy)
{
	static const int64_t shape[4] = { 512, 512, 2, 2 };
	static const int64_t stride[4] = { 2048, 4, 2, 1 };
	char key[32];

	snprintf(key, sizeof key, "%u", k);
	pk_global("torch._utils", "_rebuild_tensor_v2");
	put_u8('(');
	put_u8('(');
	pk_str("storage");
	pk_global("torch", "FloatStorage");
	pk_str(key);
	pk_str("cpu");
	pk_int(TENSOR_ELEMENTS);
	if (legacy)
		put_u8('N');
	put_u8('t');
	put_u8('Q');               /* BINPERSID */
	pk_int(0);
	put_u8('(');
	for (int i = 0; i < 4; i++)
		pk_int(shape[i]);
	put_u8('t');
	put_u8('(');
	for (int i = 0; i < 4; i++)
		pk_int(stride[i]);
	put_u8('t');
	put_u8(0x89);              /* NEWFALSE: requires_grad */
	pk_global("collections", "OrderedDict");
	put_u8(')');
	put_u8('R');
	put_u8('t');
	put_u8('R');
}

static void pk_state_dict(unsigned n, int legacy)
{
	char name[64];

	(void)legacy;
	put("\x80\x02", 2);
	put_u8('}');
	put_u8('(');
	for (unsigned k = 0; k < n; k++) {
		tensor_name(k, name, sizeof name);
		pk_str(name);
		pk_tensor(k, legacy);
	}
	put_u8('u');
	put_u8('.');
}

/* ---- zip (stored members, no ZIP64: the benchmark stays below 4 GiB) */

struct zip_entry {
	char name[96];
	uint32_t crc, size, offset;
};

static struct zip_entry *entries;
static size_t entry_count;

static void zip_member(const char *name, const void *data, size_t size)
{
	struct zip_entry *e = &entries[entry_count++];

	snprintf(e->name, sizeof e->name, "%s", name);
	e->crc = (uint32_t)crc32(0, data, (uInt)size);
	e->size = (uint32_t)size;
	e->offset = (uint32_t)written;
	put_le(0x04034b50, 4);
	put_le(20, 2);
	put_le(0, 2);
	put_le(0, 2);              /* stored */
	put_le(0, 4);              /* time and date */
	put_le(e->crc, 4);
	put_le(size, 4);
	put_le(size, 4);
	put_le(strlen(name), 2);
	put_le(0, 2);
	put(name, strlen(name));
	put(data, size);
}

static void zip_finish(void)
{
	uint64_t start = written, size;

	for (size_t i = 0; i < entry_count; i++) {
		struct zip_entry *e = &entries[i];

		put_le(0x02014b50, 4);
		put_le(20, 2);
		put_le(20, 2);
		put_le(0, 2);
		put_le(0, 2);
		put_le(0, 4);
		put_le(e->crc, 4);
		put_le(e->size, 4);
		put_le(e->size, 4);
		put_le(strlen(e->name), 2);
		put_le(0, 2);
		put_le(0, 2);
		put_le(0, 2);
		put_le(0, 2);
		put_le(0, 4);
		put_le(e->offset, 4);
		put(e->name, strlen(e->name));
	}
	size = written - start;
	put_le(0x06054b50, 4);
	put_le(0, 4);
	put_le(entry_count, 2);
	put_le(entry_count, 2);
	put_le(size, 4);
	put_le(start, 4);
	put_le(0, 2);
}

/* Builds a small member in memory by redirecting OUT to a buffer. */
static void zip_small_member(const char *name, void (*body)(unsigned, int),
			     unsigned n)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *saved = out;
	uint64_t saved_written = written;

	out = open_memstream(&buf, &size);
	if (out == NULL)
		exit(1);
	body(n, 0);
	fclose(out);
	out = saved;
	written = saved_written;
	zip_member(name, buf, size);
	free(buf);
}

static void write_torch_zip(unsigned n)
{
	char name[64];

	entries = calloc(n + 2, sizeof *entries);
	zip_small_member("bench/data.pkl", pk_state_dict, n);
	for (unsigned k = 0; k < n; k++) {
		fill(k);
		snprintf(name, sizeof name, "bench/data/%u", k);
		zip_member(name, values, TENSOR_BYTES);
	}
	zip_member("bench/version", "3\n", 2);
	zip_finish();
}

static void write_torch_legacy(unsigned n)
{
	char key[32];

	/* The magic number 0x1950a86a20f9469cfc6c as a LONG1. */
	put("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15);
	put("\x80\x02M\xe9\x03.", 6);  /* protocol version 1001 */
	put("\x80\x02}(", 4);
	pk_str("protocol_version");
	put("M\xe9\x03", 3);
	pk_str("little_endian");
	put_u8(0x88);
	pk_str("type_sizes");
	put("}(", 2);
	pk_str("short");
	put("K\x02", 2);
	pk_str("int");
	put("K\x04", 2);
	pk_str("long");
	put("K\x04", 2);
	put("uu.", 3);
	pk_state_dict(n, 1);
	put("\x80\x02](", 4);
	for (unsigned k = 0; k < n; k++) {
		snprintf(key, sizeof key, "%u", k);
		pk_str(key);
	}
	put("e.", 2);
	for (unsigned k = 0; k < n; k++) {
		fill(k);
		put_le(TENSOR_ELEMENTS, 8);
		put(values, TENSOR_BYTES);
	}
}

static void write_npz(unsigned n)
{
	static const char dict[] =
		"{'descr': '<f4', 'fortran_order': False, "
		"'shape': (512, 512, 2, 2), }";
	size_t header = 10 + sizeof dict - 1;
	size_t pad = 64 - (header + 1) % 64;
	unsigned char *member = malloc(header + pad + 1 + TENSOR_BYTES);
	size_t at = 0;
	char name[64];

	entries = calloc(n, sizeof *entries);
	memcpy(member, "\x93NUMPY\x01\x00", 8);
	member[8] = (unsigned char)((sizeof dict - 1 + pad + 1) & 0xff);
	member[9] = (unsigned char)((sizeof dict - 1 + pad + 1) >> 8);
	at = 10;
	memcpy(member + at, dict, sizeof dict - 1);
	at += sizeof dict - 1;
	memset(member + at, ' ', pad);
	at += pad;
	member[at++] = '\n';
	for (unsigned k = 0; k < n; k++) {
		fill(k);
		memcpy(member + at, values, TENSOR_BYTES);
		tensor_name(k, name, sizeof name);
		strcat(name, ".npy");
		zip_member(name, member, at + TENSOR_BYTES);
	}
	zip_finish();
	free(member);
}

static void write_safetensors(unsigned n)
{
	size_t cap = 128 * (size_t)n + 64, len = 0;
	char *json = malloc(cap), name[64];

	len += (size_t)snprintf(json, cap, "{");
	for (unsigned k = 0; k < n; k++) {
		tensor_name(k, name, sizeof name);
		len += (size_t)snprintf(json + len, cap - len,
			"%s\"%s\":{\"dtype\":\"F32\",\"shape\":[512,512,2,2],"
			"\"data_offsets\":[%llu,%llu]}", k ? "," : "", name,
			(unsigned long long)k * TENSOR_BYTES,
			(unsigned long long)(k + 1) * TENSOR_BYTES);
	}
	json[len++] = '}';
	while (len % 8 != 0)
		json[len++] = ' ';
	put_le(len, 8);
	put(json, len);
	for (unsigned k = 0; k < n; k++) {
		fill(k);
		put(values, TENSOR_BYTES);
	}
	free(json);
}

int main(int argc, char **argv)
{
	unsigned mib, n;

	if (argc != 4 || (mib = (unsigned)atoi(argv[3])) < 4 || mib % 4 ||
	    mib > 3072) {
		fprintf(stderr, "usage: bench-gen FORMAT OUTPUT MIB (4 to 3072, "
			"a multiple of 4)\n");
		return 2;
	}
	n = mib / 4;
	values = malloc(TENSOR_BYTES);
	out = fopen(argv[2], "wb");
	if (values == NULL || out == NULL) {
		fprintf(stderr, "bench-gen: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	if (strcmp(argv[1], "torch-zip") == 0)
		write_torch_zip(n);
	else if (strcmp(argv[1], "torch-legacy") == 0)
		write_torch_legacy(n);
	else if (strcmp(argv[1], "npz") == 0)
		write_npz(n);
	else if (strcmp(argv[1], "safetensors") == 0)
		write_safetensors(n);
	else {
		fprintf(stderr, "bench-gen: unknown format '%s'\n", argv[1]);
		return 2;
	}
	if (fclose(out) != 0) {
		fprintf(stderr, "bench-gen: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	free(values);
	return 0;
}
