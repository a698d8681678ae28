/* Tests of gzip-wrapped checkpoints. Gzip bombs in each format must stop
 * at the size their headers declare, in bounded time and memory, and the
 * cap must stop content that declares no size. The torchvision fixtures,
 * which compress about 850 times, must open. Gzip-wrapped files, in one or
 * two gzip members, must read exactly as the plain ones, and every
 * truncation of a gzip stream must be rejected. */
#include "tap.h"
#include "testfile.h"

#include <stdint.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "format.h"
#include "json.h"
#include "readers.h"
#include "tensor.h"
#include "zipfile.h"

/* Each bomb inflates to its header plus this many zero bytes, which
 * deflate's run-length strategy packs into about 1 MiB. */
#define BOMB_ZEROS ((size_t)1 << 30)

static char fixture_dir[4096];

static const char *fixture(const char *name)
{
	static char path[4096 + 256];

	snprintf(path, sizeof path, "%s/%s", fixture_dir, name);
	return path;
}

/* Returns the inflated content of gzip file PATH (read with zlib's own
 * gzread, not the code under test). */
static unsigned char *slurp_gunzipped(const char *path, size_t *size)
{
	gzFile gz = gzopen(path, "rb");
	size_t cap = 1 << 20;
	unsigned char *data = malloc(cap);
	int n;

	*size = 0;
	if (gz == NULL || data == NULL) {
		if (gz != NULL)
			gzclose(gz);
		free(data);
		return NULL;
	}
	while ((n = gzread(gz, data + *size, (unsigned)(cap - *size))) > 0) {
		*size += (size_t)n;
		if (*size == cap) {
			unsigned char *bigger = realloc(data, cap *= 2);

			if (bigger == NULL)
				break;
			data = bigger;
		}
	}
	gzclose(gz);
	return data;
}

/* Writes PATH as gzip member(s): DATA in one member, then ZEROS zero bytes
 * in the same member, or in a second member when SPLIT. MODE is the
 * gzopen() mode (level and strategy). */
static int write_gzip(const char *path, const char *mode, const void *data,
		      size_t size, size_t zeros, bool split)
{
	static unsigned char block[1 << 20];
	gzFile gz = gzopen(path, mode);
	int ok = gz != NULL;

	if (ok && size > 0)
		ok = gzwrite(gz, data, (unsigned)size) == (int)size;
	if (ok && split) {
		ok = gzclose(gz) == Z_OK;
		gz = ok ? gzopen(path, "ab9R") : NULL;
		ok = gz != NULL;
	}
	while (ok && zeros > 0) {
		size_t n = zeros < sizeof block ? zeros : sizeof block;

		ok = gzwrite(gz, block, (unsigned)n) == (int)n;
		zeros -= n;
	}
	if (gz != NULL && gzclose(gz) != Z_OK)
		ok = 0;
	return ok ? 0 : -1;
}

static long peak_rss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* Writes HEAD followed by BOMB_ZEROS zero bytes as one gzip stream, opens
 * it and expects a rejection whose message contains each of WANT
 * (NULL-terminated), within SECONDS of CPU time. */
static void check_bomb(const char *label, const void *head, size_t size,
		       int seconds, const char *const *want)
{
	const char *tmp = "test-gzip-bomb.gz";
	struct ms_checkpoint ck;
	struct ms_error err = { "" };
	clock_t start;
	int rc;

	if (!tap_ok(write_gzip(tmp, "wb9R", head, size, BOMB_ZEROS, false) == 0,
		    "%s: bomb written", label))
		return;
	start = clock();
	rc = ms_checkpoint_open(tmp, &ck, &err);
	tap_ok(clock() - start < seconds * CLOCKS_PER_SEC, "%s: rejected "
	       "within %d s of CPU time", label, seconds);
	if (!tap_ok(rc < 0, "%s: rejected", label))
		ms_checkpoint_close(&ck);
	tap_ok(strncmp(err.msg, tmp, strlen(tmp)) == 0 &&
	       err.msg[strlen(tmp)] == ':', "%s: message starts with the file "
	       "name", label);
	for (; *want != NULL; want++) {
		if (!tap_ok(strstr(err.msg, *want) != NULL,
			    "%s: message mentions '%s'", label, *want))
			printf("# message: %s\n", err.msg);
	}
	unlink(tmp);
}

/* A bomb stopped by a declared bound inflates at most a few MiB, so one
 * second is ample. */
#define BOMB(label, head, size, ...) \
	check_bomb(label, head, size, 1, \
		   (const char *const[]){ __VA_ARGS__, NULL })

/* Sums numel x element size over the tensors of arch-NAME.json, which
 * PyTorch wrote: the storage bytes of that state dict. Returns 0 when the
 * file cannot be read. */
static uint64_t arch_storage_bytes(const char *name)
{
	char file[256];
	size_t size, error_offset;
	const char *error_what;
	unsigned char *text;
	struct ms_json *root;
	const struct ms_json *tensors;
	uint64_t total = 0;

	snprintf(file, sizeof file, "arch-%s.json", name);
	text = read_whole_file(fixture(file), &size);
	root = text ? ms_json_parse((const char *)text, size, &error_offset,
				    &error_what) : NULL;
	tensors = ms_json_get(root, "tensors");
	for (size_t i = 0; tensors != NULL && i < tensors->count; i++) {
		const struct ms_json *shape = ms_json_get(&tensors->items[i],
							  "shape");
		const struct ms_json *dtype = ms_json_get(&tensors->items[i],
							  "dtype");
		uint64_t n = strcmp(dtype->string, "int64") == 0 ? 8 : 4;

		for (size_t d = 0; d < shape->count; d++) {
			uint64_t dim = 0;

			ms_json_u64(&shape->items[d], &dim);
			n *= dim;
		}
		total += n;
	}
	ms_json_free(root);
	free(text);
	return total;
}

/* The npz of npz-mixed.npz.gz up to its central directory, followed by
 * the zeros. Its members declare their bytes: the stored a.npy by its npy
 * header, the deflated b.npy by its compressed size. Python wrote no data
 * descriptors, so the directory starts where the last member's bytes end,
 * and the declared total is the sum of the members' compressed sizes in
 * the central directory. */
static void check_npz_bomb(void)
{
	size_t size;
	unsigned char *npz = slurp_gunzipped(fixture("formats/npz-mixed.npz.gz"),
					     &size);
	struct ms_zip *archive = npz ? ms_zip_open("npz-mixed",
		(struct ms_bytes){ npz, size }, &(struct ms_error){ "" }) : NULL;
	uint64_t declared = 0, end = 0;
	char want[128];

	if (!tap_ok(archive != NULL && ms_zip_count(archive) == 2,
		    "npz-mixed fixture read")) {
		free(npz);
		return;
	}
	for (size_t i = 0; i < ms_zip_count(archive); i++) {
		const struct ms_zip_member *m = ms_zip_member(archive, i);

		declared += m->compressed_size;
		if (m->data_offset + m->compressed_size > end)
			end = m->data_offset + m->compressed_size;
	}
	tap_ok(ms_zip_member(archive, 0)->method == MS_ZIP_STORED &&
	       ms_zip_member(archive, 1)->method == MS_ZIP_DEFLATED,
	       "npz-mixed: a stored and a deflated member");
	snprintf(want, sizeof want, "its members declare %llu bytes",
		 (unsigned long long)declared);
	BOMB("npz bomb", npz, (size_t)end, "larger than its tensors can need",
	     want);
	ms_zip_close(archive);
	free(npz);
}

/* Bombs with valid headers that declare small tensors, followed by a
 * gigabyte of zeros: each must stop near what its header declares. */
static void test_declared_bombs(void)
{
	size_t size, st_size;
	unsigned char *legacy = read_whole_file(fixture("readers/legacy-proto2.pth"), &size);
	unsigned char *st = read_whole_file(fixture("formats/safetensors-all.safetensors"),
				  &st_size);
	unsigned char *npy, *zip;
	char want[2][128];
	uint64_t resnet20 = arch_storage_bytes("resnet20");
	struct ms_error err;
	struct ms_zip *archive;
	long member;

	/* conv.weight is 2x2 and conv.bias 2 float32 values: 24 bytes.
	 * torch's legacy format ends with the last storage, so the whole
	 * file is what the content may take. */
	if (tap_ok(legacy != NULL, "legacy fixture read")) {
		snprintf(want[0], sizeof want[0], "at most %zu bytes", size);
		BOMB("legacy bomb", legacy, size, "larger than its tensors can "
		     "need", "its storages declare 24 bytes", want[0]);
	}
	free(legacy);

	/* The same state dict, its header pickled at protocol 0. */
	legacy = read_whole_file(fixture("readers/legacy-magic-proto0.pth"), &size);
	if (tap_ok(legacy != NULL, "protocol 0 legacy fixture read")) {
		snprintf(want[0], sizeof want[0], "at most %zu bytes", size);
		BOMB("protocol 0 legacy bomb", legacy, size,
		     "its storages declare 24 bytes", want[0]);
	}
	free(legacy);

	/* The header of a 4x3x3x3 float32 array: 432 bytes of data. */
	npy = read_whole_file(fixture("formats/npy-c.npy"), &size);
	if (tap_ok(npy != NULL && size > 10, "npy fixture read"))
		BOMB("npy bomb", npy, 10 + (npy[8] | (size_t)npy[9] << 8),
		     "its npy header declares 432 bytes");
	free(npy);

	/* The fixture script writes the header, then exactly the data. */
	if (tap_ok(st != NULL && st_size > 8, "safetensors fixture read")) {
		size_t header = 8 + (st[0] | (size_t)st[1] << 8);

		snprintf(want[0], sizeof want[0], "its safetensors header "
			 "declares %zu bytes", st_size - header);
		BOMB("safetensors bomb", st, header, want[0]);
	}
	free(st);

	/* resnet20's torch zip up to the data of its first storage member,
	 * whose bytes are replaced by the zeros. */
	zip = slurp_gunzipped(fixture("arch-resnet20.pth.gz"), &size);
	archive = zip ? ms_zip_open("resnet20", (struct ms_bytes){ zip, size },
				    &err) : NULL;
	member = archive ? ms_zip_find(archive, "archive/data/0") : -1;
	if (tap_ok(member >= 0 && resnet20 > 0, "resnet20 zip fixture read")) {
		snprintf(want[1], sizeof want[1], "its storages declare %llu "
			 "bytes", (unsigned long long)resnet20);
		BOMB("torch zip bomb", zip,
		     ms_zip_member(archive, (size_t)member)->data_offset,
		     "larger than its tensors can need", want[1]);
	}
	if (archive != NULL)
		ms_zip_close(archive);
	free(zip);

	check_npz_bomb();

	/* Content that matches no format stops after its first bytes. */
	BOMB("zeros only", NULL, 0, "unknown format (first bytes 00 00");

	/* The largest bound above is resnet20's storages, about 1 MiB. */
	tap_ok(peak_rss_kib() < (long)(4 * resnet20 / 1024) + 128 * 1024,
	       "peak RSS %ld KiB below 4 x %llu bytes + 128 MiB", peak_rss_kib(),
	       (unsigned long long)resnet20);
}

/* A zip whose first member is stored but contains no npy (here: zeros)
 * declares no size, so the ratio cap stops it. */
static void test_capped_bomb(void)
{
	size_t size;
	unsigned char *npz = read_whole_file(fixture("formats/npz-stored.npz"), &size);

	if (!tap_ok(npz != NULL && size > 30, "npz fixture read"))
		return;
	/* It inflates about 320 MiB before the cap stops it. */
	check_bomb("npz without npy bomb", npz, 30 + (npz[26] | (size_t)npz[27] << 8) +
		   (npz[28] | (size_t)npz[29] << 8), 10,
		   (const char *const[]){ "256 times its compressed size",
					  "gzip bomb", NULL });
	free(npz);
}

/* The torchvision fixtures, all zeros, open and hold every tensor of the
 * JSON that PyTorch wrote, in order, with its shape and dtype. */
static void test_arch(const char *name)
{
	char file[256], shape[256], got_shape[256];
	size_t size, error_offset;
	const char *error_what;
	unsigned char *text;
	struct ms_json *root;
	const struct ms_json *tensors, *count;
	struct ms_checkpoint ck;
	struct ms_error err;
	uint64_t expected = 0;

	snprintf(file, sizeof file, "arch-%s.json", name);
	text = read_whole_file(fixture(file), &size);
	root = text ? ms_json_parse((const char *)text, size, &error_offset,
				    &error_what) : NULL;
	tensors = ms_json_get(root, "tensors");
	count = ms_json_get(root, "tensor_count");
	if (!tap_ok(tensors != NULL && count != NULL &&
		    ms_json_u64(count, &expected) == 0, "%s: JSON read", name))
		goto out;
	snprintf(file, sizeof file, "arch-%s.pth.gz", name);
	if (!tap_ok(ms_checkpoint_open(fixture(file), &ck, &err) == 0,
		    "%s: gzip-wrapped torch zip opens", name)) {
		printf("# %s\n", err.msg);
		goto out;
	}
	tap_str(ck.format, "torch-zip+gzip", "%s: format", name);
	tap_ok(ck.count == expected && tensors->count == expected,
	       "%s: %llu tensors (got %zu)", name,
	       (unsigned long long)expected, ck.count);
	for (size_t i = 0; i < ck.count && i < tensors->count; i++) {
		const struct ms_json *t = &tensors->items[i];
		const struct ms_json *dims = ms_json_get(t, "shape");
		const struct ms_tensor *got = &ck.tensors[i];
		size_t n = 0;

		shape[0] = '\0';
		for (size_t d = 0; dims != NULL && d < dims->count; d++)
			n += (size_t)snprintf(shape + n, sizeof shape - n, "%s%.*s",
					      d ? "x" : "",
					      (int)dims->items[d].number_len,
					      dims->items[d].number);
		if (dims != NULL && dims->count == 0)
			snprintf(shape, sizeof shape, "scalar");
		if (!tap_str(got->name, ms_json_get(t, "name")->string,
			     "%s: tensor %zu name", name, i))
			continue;
		ms_format_dims(got->ndim, got->shape, got_shape,
			       sizeof got_shape);
		tap_str(got_shape, shape, "%s: %s shape", name, got->name);
		tap_str(ms_dtype_name(got->dtype),
			ms_json_get(t, "dtype")->string, "%s: %s dtype", name,
			got->name);
	}
	ms_checkpoint_close(&ck);
out:
	ms_json_free(root);
	free(text);
}

/* Writes DATA as a gzip file of two members, split at CUT. */
static int write_two_members(const char *path, const unsigned char *data,
			     size_t size, size_t cut)
{
	gzFile gz = gzopen(path, "wb9");
	int ok = gz != NULL && (cut == 0 ||
				gzwrite(gz, data, (unsigned)cut) == (int)cut);

	if (gz != NULL && gzclose(gz) != Z_OK)
		ok = 0;
	gz = ok ? gzopen(path, "ab9") : NULL;
	ok = gz != NULL && (size == cut ||
			    gzwrite(gz, data + cut, (unsigned)(size - cut)) ==
			    (int)(size - cut));
	if (gz != NULL && gzclose(gz) != Z_OK)
		ok = 0;
	return ok ? 0 : -1;
}

static double element_sum(const struct ms_tensor *t)
{
	double sum = 0;

	for (int64_t i = 0; i < t->stats.elements; i++)
		sum += ms_tensor_get(t, i);
	return sum;
}

/* Compares tensor Z of a gzip-wrapped checkpoint with tensor P of the
 * plain one: names, layout, statistics and the sum of the elements. */
static void compare_tensor(const char *label, const struct ms_tensor *p,
			   const struct ms_tensor *z)
{
	const struct ms_tensor_stats *a = &p->stats, *b = &z->stats;
	bool same_shape = p->ndim == z->ndim, same_channels;

	for (int d = 0; same_shape && d < p->ndim; d++)
		same_shape = p->shape[d] == z->shape[d];
	same_channels = a->channels == b->channels;
	for (int64_t c = 0; same_channels && c < a->channels; c++)
		same_channels = a->channel_nonzero[c] == b->channel_nonzero[c];
	tap_str(z->name, p->name, "%s: tensor name", label);
	tap_str(z->key, p->key, "%s: %s key", label, p->name);
	tap_ok(z->dtype == p->dtype && same_shape, "%s: %s dtype and shape",
	       label, p->name);
	tap_ok(b->elements == a->elements && b->nonzero == a->nonzero,
	       "%s: %s elements and nonzeros", label, p->name);
	tap_ok(same_channels, "%s: %s nonzeros per channel", label, p->name);
	tap_ok(b->min == a->min && b->max == a->max && b->first == a->first,
	       "%s: %s min, max and first value", label, p->name);
	tap_ok(b->distinct == a->distinct &&
	       b->distinct_capped == a->distinct_capped &&
	       b->all_integer == a->all_integer,
	       "%s: %s distinct values and integrality", label, p->name);
	tap_close(element_sum(z), element_sum(p), 0, "%s: %s sum of elements",
		  label, p->name);
}

/* Opens PLAIN and the gzip file GZ and compares every tensor. */
static void compare_files(const char *label, const char *plain,
			  const char *gz)
{
	struct ms_checkpoint p, z;
	struct ms_error err;
	char format[64];

	if (!tap_ok(ms_checkpoint_open(plain, &p, &err) == 0, "%s: plain file "
		    "opens", label)) {
		printf("# %s\n", err.msg);
		return;
	}
	if (!tap_ok(ms_checkpoint_open(gz, &z, &err) == 0, "%s: gzip file "
		    "opens", label)) {
		printf("# %s\n", err.msg);
		ms_checkpoint_close(&p);
		return;
	}
	snprintf(format, sizeof format, "%s+gzip", p.format);
	tap_str(z.format, format, "%s: format", label);
	tap_ok(z.count == p.count, "%s: %zu tensors (got %zu)", label, p.count,
	       z.count);
	for (size_t i = 0; i < p.count && i < z.count; i++)
		compare_tensor(label, &p.tensors[i], &z.tensors[i]);
	ms_checkpoint_close(&z);
	ms_checkpoint_close(&p);
}

/* Fixtures of every format, read plain and gzip-wrapped. */
static const char *const wrapped[] = {
	"readers/legacy-proto2.pth", "readers/legacy-magic-proto0.pth",
	"readers/legacy-rebuild-v1.pth", "readers/legacy-training.pth",
	"readers/legacy-dtypes.pth", "describe-tiny-cnn.pth",
	"formats/torch-all.pt", "formats/torch-deflated.pt",
	"formats/torch-zip64cd.pt", "formats/npz-stored.npz",
	"formats/npz-compressed.npz", "formats/npz-zip64.npz",
	"formats/npy-c.npy",
	"formats/npy-v3.npy", "formats/safetensors-all.safetensors",
};

/* An npz of over 64 KiB, whose members the gzip reader walks as they
 * are inflated, matches its plain form (inflated by zlib's gzread). */
static void test_walked_npz(void)
{
	const char *plain = "npz-mixed.npz";
	size_t size;
	unsigned char *npz = slurp_gunzipped(fixture("formats/npz-mixed.npz.gz"),
					     &size);
	FILE *f = fopen(plain, "wb");
	bool written = f != NULL && npz != NULL &&
		       fwrite(npz, 1, size, f) == size;

	if (f != NULL && fclose(f) != 0)
		written = false;
	if (tap_ok(written && size > 64 * 1024, "npz-mixed: plain file "
		   "of over 64 KiB written"))
		compare_files("npz-mixed", plain,
			      fixture("formats/npz-mixed.npz.gz"));
	unlink(plain);
	free(npz);
}

static void test_wrapped(void)
{
	for (size_t i = 0; i < sizeof wrapped / sizeof wrapped[0]; i++) {
		const char *base = strrchr(wrapped[i], '/');
		char gz[256], plain[4096 + 256];
		size_t size;
		unsigned char *data;

		base = base ? base + 1 : wrapped[i];
		snprintf(plain, sizeof plain, "%s", fixture(wrapped[i]));
		/* The base name is kept: it names the tensor of an npy. */
		snprintf(gz, sizeof gz, "%s.gz", base);
		data = read_whole_file(plain, &size);
		if (!tap_ok(data != NULL && write_gzip(gz, "wb9", data, size, 0,
						       false) == 0,
			    "%s: gzip file written", base)) {
			free(data);
			continue;
		}
		compare_files(base, plain, gz);
		if (tap_ok(write_two_members(gz, data, size, size / 2) == 0,
			   "%s: two-member gzip file written", base))
			compare_files(base, plain, gz);
		unlink(gz);
		free(data);
	}
}

/* Writes PATH as an npy file of N float32 values i % 7 - 3, and with
 * TRAILING extra zero bytes after the data. */
static int write_big_npy(const char *path, size_t n, size_t trailing)
{
	char header[128];
	FILE *f = fopen(path, "wb");
	int len, ok = f != NULL;

	len = snprintf(header, sizeof header, "{'descr': '<f4', "
		       "'fortran_order': False, 'shape': (%zu,), }", n);
	/* Spaces pad magic, version, length and dict to 128 bytes. */
	memset(header + len, ' ', sizeof header - (size_t)len);
	header[sizeof header - 10 - 1] = '\n';
	if (ok)
		ok = fwrite("\x93NUMPY\x01\x00\x76\x00", 1, 10, f) == 10 &&
		     fwrite(header, 1, sizeof header - 10, f) ==
		     sizeof header - 10;
	for (size_t i = 0; ok && i < n; i++) {
		float v = (float)(i % 7) - 3;

		ok = fwrite(&v, sizeof v, 1, f) == 1;
	}
	for (size_t i = 0; ok && i < trailing; i++)
		ok = fputc(0, f) != EOF;
	if (f != NULL && fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

/* Writes PATH as safetensors with one F32 tensor "w" of N values. */
static int write_big_safetensors(const char *path, size_t n)
{
	char header[128];
	FILE *f = fopen(path, "wb");
	int len, ok = f != NULL;
	unsigned char length[8] = { 0 };

	len = snprintf(header, sizeof header, "{\"w\":{\"dtype\":\"F32\","
		       "\"shape\":[%zu],\"data_offsets\":[0,%zu]}}", n, 4 * n);
	length[0] = (unsigned char)len;
	if (ok)
		ok = fwrite(length, 1, 8, f) == 8 &&
		     fwrite(header, 1, (size_t)len, f) == (size_t)len;
	for (size_t i = 0; ok && i < n; i++) {
		float v = (float)(i % 5);

		ok = fwrite(&v, sizeof v, 1, f) == 1;
	}
	if (f != NULL && fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

/* Files larger than the first 64 KiB that the loader inflates before it
 * requests a bound, so the bound is checked against valid data. A file
 * that ends exactly at its bound opens; one byte more is rejected. */
static void test_big_files(void)
{
	const char *npy = "test-gzip-big.npy", *st = "test-gzip-big.safetensors";
	const char *gz = "test-gzip-big.gz";
	size_t size;
	unsigned char *data;
	struct ms_checkpoint ck;
	struct ms_error err = { "" };

	if (tap_ok(write_big_npy(npy, 100000, 0) == 0, "big npy written")) {
		data = read_whole_file(npy, &size);
		write_gzip(gz, "wb9", data, size, 0, false);
		compare_files("big npy", npy, gz);
		free(data);
	}
	if (tap_ok(write_big_npy(npy, 100000, 1) == 0, "big npy with a "
		   "trailing byte written")) {
		data = read_whole_file(npy, &size);
		write_gzip(gz, "wb9", data, size, 0, false);
		tap_ok(ms_checkpoint_open(gz, &ck, &err) < 0 &&
		       strstr(err.msg, "its npy header declares 400000 bytes") &&
		       strstr(err.msg, "at most 400128 bytes"),
		       "one byte past the npy bound rejected: %s", err.msg);
		free(data);
	}
	if (tap_ok(write_big_safetensors(st, 100000) == 0, "big safetensors "
		   "written")) {
		data = read_whole_file(st, &size);
		write_gzip(gz, "wb9", data, size, 0, false);
		compare_files("big safetensors", st, gz);
		free(data);
	}
	unlink(npy);
	unlink(st);
	unlink(gz);
}

/* Every proper prefix of the gzip-wrapped FILE, from the 2-byte magic on,
 * is rejected as truncated, when STEP is 1; larger steps sample them. */
static void test_truncation(const char *file, size_t step)
{
	const char *tmp = "test-gzip-cut.gz";
	size_t size, gz_size, truncated = 0, tried = 0;
	unsigned char *data = read_whole_file(fixture(file), &size), *gz;
	struct ms_error err;

	if (!tap_ok(data != NULL && write_gzip(tmp, "wb9", data, size, 0,
					       false) == 0,
		    "%s: gzip file for truncation written", file)) {
		free(data);
		return;
	}
	gz = read_whole_file(tmp, &gz_size);
	for (size_t n = 2; gz != NULL && n < gz_size; n += step) {
		struct ms_checkpoint ck;
		FILE *f = fopen(tmp, "wb");

		if (f == NULL || fwrite(gz, 1, n, f) != n || fclose(f) != 0)
			break;
		tried++;
		if (ms_checkpoint_open(tmp, &ck, &err) == 0)
			ms_checkpoint_close(&ck);
		else if (strstr(err.msg, "gzip data is truncated") != NULL)
			truncated++;
	}
	tap_ok(tried > 0 && truncated == tried, "%s: %zu of %zu truncated gzip "
	       "streams rejected as truncated", file, truncated, tried);
	unlink(tmp);
	free(gz);
	free(data);
}

int main(void)
{
	const char *src = getenv("TESTS_SRCDIR");

	snprintf(fixture_dir, sizeof fixture_dir, "%s/fixtures",
		 src ? src : "tests");
	/* The bombs run first, so that peak RSS measures them. */
	test_declared_bombs();
	test_capped_bomb();
	test_arch("resnet50");
	test_arch("wrn28_10");
	test_wrapped();
	test_walked_npz();
	test_big_files();
	test_truncation("formats/torch-all.pt", 1);
	test_truncation("formats/safetensors-all.safetensors", 1);
	test_truncation("formats/npy-c.npy", 1);
	test_truncation("readers/legacy-proto2.pth", 1);
	test_truncation("readers/legacy-dtypes.pth", 997);
	return tap_done();
}
