/* Zip member access for checkpoints. libzip lists the members. Our own
 * walk of the central directory finds where each member's bytes start,
 * because libzip has no public API for that. zlib inflates deflated
 * members into buffers whose size the caller bounds. */
#include "zipfile.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <zip.h>
#include <zlib.h>

#define EOCD_SIG 0x06054b50u
#define EOCD_SIZE 22
#define ZIP64_LOCATOR_SIG 0x07064b50u
#define ZIP64_LOCATOR_SIZE 20
#define ZIP64_EOCD_SIG 0x06064b50u
#define ZIP64_EOCD_SIZE 56
#define CENTRAL_SIG 0x02014b50u
#define CENTRAL_SIZE 46
#define LOCAL_SIG 0x04034b50u
#define LOCAL_SIZE 30
#define ZIP64_EXTRA_ID 0x0001

struct ms_zip {
	const char *path;
	struct ms_bytes in;
	zip_t *archive;
	struct ms_zip_member *members;
	size_t count;
};

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Returns true when [OFFSET, OFFSET + LENGTH) lies inside the input. */
static bool in_range(const struct ms_zip *zip, uint64_t offset,
		     uint64_t length)
{
	return offset <= zip->in.size && length <= zip->in.size - offset;
}

/* The central directory's place, from the end records. */
struct directory {
	uint64_t entries;
	uint64_t size;
	uint64_t offset;
};

static int find_directory(struct ms_zip *zip, struct directory *dir,
			  struct ms_error *err)
{
	const unsigned char *d = zip->in.data;
	size_t n = zip->in.size;
	size_t eocd, low;

	if (n < EOCD_SIZE)
		return ms_fail(err, "%s: too short for a zip archive (%zu bytes)",
			       zip->path, n);
	/* The end record is followed by a comment of at most 65535 bytes. */
	low = n - EOCD_SIZE > 65535 ? n - EOCD_SIZE - 65535 : 0;
	for (eocd = n - EOCD_SIZE;; eocd--) {
		if (get32(d + eocd) == EOCD_SIG &&
		    eocd + EOCD_SIZE + get16(d + eocd + 20) == n)
			break;
		if (eocd == low)
			return ms_fail(err, "%s: zip end of central directory "
				       "record not found", zip->path);
	}
	if (get16(d + eocd + 4) != 0 || get16(d + eocd + 6) != 0)
		return ms_fail(err, "%s: multi-disk zip archives are not "
			       "supported", zip->path);
	dir->entries = get16(d + eocd + 10);
	dir->size = get32(d + eocd + 12);
	dir->offset = get32(d + eocd + 16);

	if (eocd >= ZIP64_LOCATOR_SIZE &&
	    get32(d + eocd - ZIP64_LOCATOR_SIZE) == ZIP64_LOCATOR_SIG) {
		uint64_t at = get64(d + eocd - ZIP64_LOCATOR_SIZE + 8);

		if (!in_range(zip, at, ZIP64_EOCD_SIZE) ||
		    get32(d + at) != ZIP64_EOCD_SIG)
			return ms_fail(err, "%s: invalid ZIP64 end record "
				       "offset %llu", zip->path,
				       (unsigned long long)at);
		dir->entries = get64(d + at + 32);
		dir->size = get64(d + at + 40);
		dir->offset = get64(d + at + 48);
	}
	if (!in_range(zip, dir->offset, dir->size))
		return ms_fail(err, "%s: zip central directory (offset %llu, "
			       "%llu bytes) runs past the end of the file",
			       zip->path, (unsigned long long)dir->offset,
			       (unsigned long long)dir->size);
	/* Each entry takes at least CENTRAL_SIZE bytes. */
	if (dir->entries > dir->size / CENTRAL_SIZE)
		return ms_fail(err, "%s: zip central directory declares %llu "
			       "entries in %llu bytes", zip->path,
			       (unsigned long long)dir->entries,
			       (unsigned long long)dir->size);
	return 0;
}

/* Replaces the 32-bit fields of an entry that are all ones with the values
 * of its ZIP64 extra field, which lists them in a fixed order. */
static int read_zip64_extra(struct ms_zip *zip, const unsigned char *extra,
			    size_t length, uint64_t *size, uint64_t *csize,
			    uint64_t *local, uint64_t at, struct ms_error *err)
{
	uint64_t *fields[3] = { size, csize, local };
	size_t pos = 0;

	while (length - pos >= 4) {
		uint16_t id = get16(extra + pos);
		uint16_t len = get16(extra + pos + 2);
		const unsigned char *p = extra + pos + 4;
		size_t used = 0;

		if (len > length - pos - 4)
			break;
		pos += 4 + (size_t)len;
		if (id != ZIP64_EXTRA_ID)
			continue;
		for (int i = 0; i < 3; i++) {
			if (*fields[i] != 0xffffffffu)
				continue;
			if (len - used < 8)
				return ms_fail(err, "%s: ZIP64 extra field at "
					       "offset %llu is too short",
					       zip->path,
					       (unsigned long long)at);
			*fields[i] = get64(p + used);
			used += 8;
		}
		return 0;
	}
	return 0;
}

/* Reads the central directory entry at *POS into M and moves *POS on. */
static int read_entry(struct ms_zip *zip, uint64_t *pos, uint64_t end,
		      struct ms_zip_member *m, uint64_t *local,
		      struct ms_error *err)
{
	const unsigned char *p = zip->in.data + *pos;
	uint64_t at = *pos;
	size_t name_len, extra_len, comment_len;

	if (end - *pos < CENTRAL_SIZE || get32(p) != CENTRAL_SIG)
		return ms_fail(err, "%s: invalid zip central directory entry "
			       "at offset %llu", zip->path,
			       (unsigned long long)at);
	name_len = get16(p + 28);
	extra_len = get16(p + 30);
	comment_len = get16(p + 32);
	if (end - *pos - CENTRAL_SIZE < name_len + extra_len + comment_len)
		return ms_fail(err, "%s: zip central directory entry at "
			       "offset %llu runs past the directory",
			       zip->path, (unsigned long long)at);
	if (get16(p + 8) & 1)
		return ms_fail(err, "%s: encrypted zip members are not "
			       "supported", zip->path);
	m->method = get16(p + 10);
	m->compressed_size = get32(p + 20);
	m->size = get32(p + 24);
	*local = get32(p + 42);
	if (read_zip64_extra(zip, p + CENTRAL_SIZE + name_len, extra_len,
			     &m->size, &m->compressed_size, local, at, err))
		return -1;
	*pos += CENTRAL_SIZE + name_len + extra_len + comment_len;
	return 0;
}

/* Checks the local header at offset LOCAL for member M and sets M's data
 * offset. */
static int check_local(struct ms_zip *zip, struct ms_zip_member *m,
		       uint64_t local, struct ms_error *err)
{
	const unsigned char *p;
	uint64_t data;
	size_t name_len;

	if (!in_range(zip, local, LOCAL_SIZE) ||
	    get32(zip->in.data + local) != LOCAL_SIG)
		return ms_fail(err, "%s: member '%s': no local header at "
			       "offset %llu", zip->path, m->name,
			       (unsigned long long)local);
	p = zip->in.data + local;
	name_len = get16(p + 26);
	data = local + LOCAL_SIZE + name_len + get16(p + 28);
	if (!in_range(zip, local + LOCAL_SIZE, data - local - LOCAL_SIZE))
		return ms_fail(err, "%s: member '%s': local header at offset "
			       "%llu runs past the end of the file", zip->path,
			       m->name, (unsigned long long)local);
	if (name_len != strlen(m->name) ||
	    memcmp(p + LOCAL_SIZE, m->name, name_len) != 0)
		return ms_fail(err, "%s: member '%s': local header at offset "
			       "%llu names another member", zip->path,
			       m->name, (unsigned long long)local);
	if (!in_range(zip, data, m->compressed_size))
		return ms_fail(err, "%s: member '%s': data (offset %llu, %llu "
			       "bytes) runs past the end of the file",
			       zip->path, m->name, (unsigned long long)data,
			       (unsigned long long)m->compressed_size);
	m->data_offset = data;
	return 0;
}

/* Walks the central directory, matching each entry with libzip's entry of
 * the same index, which libzip reads in the same order. */
static int read_members(struct ms_zip *zip, struct ms_error *err)
{
	struct directory dir = { 0, 0, 0 };
	uint64_t pos, end;
	zip_int64_t listed;

	if (find_directory(zip, &dir, err))
		return -1;
	listed = zip_get_num_entries(zip->archive, 0);
	if (listed < 0 || (uint64_t)listed != dir.entries)
		return ms_fail(err, "%s: zip central directory declares %llu "
			       "entries, libzip lists %lld", zip->path,
			       (unsigned long long)dir.entries,
			       (long long)listed);
	zip->members = calloc(dir.entries ? dir.entries : 1,
			      sizeof *zip->members);
	if (zip->members == NULL)
		return ms_fail(err, "%s: out of memory", zip->path);
	pos = dir.offset;
	end = dir.offset + dir.size;
	for (uint64_t i = 0; i < dir.entries; i++) {
		struct ms_zip_member *m = &zip->members[i];
		zip_stat_t st;
		uint64_t local;

		if (read_entry(zip, &pos, end, m, &local, err))
			return -1;
		zip_stat_init(&st);
		if (zip_stat_index(zip->archive, i, ZIP_FL_ENC_RAW, &st) != 0)
			return ms_fail(err, "%s: zip member %llu: %s", zip->path,
				       (unsigned long long)i,
				       zip_strerror(zip->archive));
		m->name = st.name;
		if (m->name == NULL || st.size != m->size ||
		    st.comp_size != m->compressed_size ||
		    st.comp_method != m->method)
			return ms_fail(err, "%s: zip member %llu: central "
				       "directory entry is inconsistent",
				       zip->path, (unsigned long long)i);
		zip->count++;
		if (check_local(zip, m, local, err))
			return -1;
	}
	return 0;
}

struct ms_zip *ms_zip_open(const char *path, struct ms_bytes in,
			   struct ms_error *err)
{
	struct ms_zip *zip = calloc(1, sizeof *zip);
	zip_source_t *source;
	zip_error_t zerr;

	if (zip == NULL) {
		ms_fail(err, "%s: out of memory", path);
		return NULL;
	}
	zip->path = path;
	zip->in = in;
	zip_error_init(&zerr);
	source = zip_source_buffer_create(in.data, in.size, 0, &zerr);
	if (source != NULL) {
		zip->archive = zip_open_from_source(source, ZIP_RDONLY, &zerr);
		if (zip->archive == NULL)
			zip_source_free(source);
	}
	if (zip->archive == NULL) {
		ms_fail(err, "%s: invalid zip archive: %s", path,
			zip_error_strerror(&zerr));
		zip_error_fini(&zerr);
		free(zip);
		return NULL;
	}
	zip_error_fini(&zerr);
	if (read_members(zip, err)) {
		ms_zip_close(zip);
		return NULL;
	}
	return zip;
}

void ms_zip_close(struct ms_zip *zip)
{
	if (zip == NULL)
		return;
	if (zip->archive != NULL)
		zip_discard(zip->archive);
	free(zip->members);
	free(zip);
}

size_t ms_zip_count(const struct ms_zip *zip)
{
	return zip->count;
}

const struct ms_zip_member *ms_zip_member(const struct ms_zip *zip, size_t i)
{
	return &zip->members[i];
}

long ms_zip_find(const struct ms_zip *zip, const char *name)
{
	for (size_t i = 0; i < zip->count; i++)
		if (strcmp(zip->members[i].name, name) == 0)
			return (long)i;
	return -1;
}

/* Inflates the raw deflate stream of M into OUT (at most CAPACITY bytes)
 * and stores the byte count in *GOT. Stops when OUT is full. */
static int inflate_member(struct ms_zip *zip, const struct ms_zip_member *m,
			  unsigned char *out, size_t capacity, size_t *got,
			  struct ms_error *err)
{
	const unsigned char *src = zip->in.data + m->data_offset;
	uint64_t left = m->compressed_size;
	z_stream zs;
	int rc = Z_OK;

	memset(&zs, 0, sizeof zs);
	if (inflateInit2(&zs, -MAX_WBITS) != Z_OK)
		return ms_fail(err, "%s: member '%s': cannot start inflate",
			       zip->path, m->name);
	zs.next_out = out;
	/* zlib counts in uInt, so large members are fed in pieces. */
	while (rc == Z_OK && (size_t)(zs.next_out - out) < capacity) {
		size_t room = capacity - (size_t)(zs.next_out - out);

		if (zs.avail_in == 0 && left > 0) {
			zs.next_in = (unsigned char *)src;
			zs.avail_in = left > UINT32_MAX ? UINT32_MAX : (uInt)left;
			src += zs.avail_in;
			left -= zs.avail_in;
		}
		zs.avail_out = room > UINT32_MAX ? UINT32_MAX : (uInt)room;
		rc = inflate(&zs, Z_NO_FLUSH);
		if (rc == Z_BUF_ERROR && zs.avail_in == 0 && left == 0)
			break;
	}
	*got = (size_t)(zs.next_out - out);
	inflateEnd(&zs);
	if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
		return ms_fail(err, "%s: member '%s': invalid deflate data: %s",
			       zip->path, m->name,
			       zs.msg != NULL ? zs.msg : "inflate failed");
	return 0;
}

int ms_zip_peek(struct ms_zip *zip, size_t i, void *buf, size_t size,
		size_t *got, struct ms_error *err)
{
	const struct ms_zip_member *m = &zip->members[i];

	if (m->method == MS_ZIP_STORED) {
		/* Only the compressed size was checked against the input. */
		uint64_t stored = m->size < m->compressed_size ?
				  m->size : m->compressed_size;

		*got = stored < size ? (size_t)stored : size;
		memcpy(buf, zip->in.data + m->data_offset, *got);
		return 0;
	}
	if (m->method != MS_ZIP_DEFLATED)
		return ms_fail(err, "%s: member '%s': unsupported compression "
			       "method %d", zip->path, m->name, m->method);
	return inflate_member(zip, m, buf, size, got, err);
}

static int load_deflated(struct ms_zip *zip, const struct ms_zip_member *m,
			 uint64_t limit, struct ms_checkpoint *ck,
			 struct ms_bytes *out, struct ms_error *err)
{
	unsigned char *buf;
	size_t got;

	if (m->size > limit)
		return ms_fail(err, "%s: member '%s': declared size %llu "
			       "exceeds the %llu bytes its contents can need",
			       zip->path, m->name, (unsigned long long)m->size,
			       (unsigned long long)limit);
	if (m->size / MS_ZIP_DEFLATE_MAX_RATIO > m->compressed_size)
		return ms_fail(err, "%s: member '%s': declared size %llu is "
			       "impossible for %llu compressed bytes",
			       zip->path, m->name, (unsigned long long)m->size,
			       (unsigned long long)m->compressed_size);
	if (m->size >= SIZE_MAX)
		return ms_fail(err, "%s: member '%s': too large", zip->path,
			       m->name);
	/* One byte past the declared size shows a member that inflates to
	 * more than it declares, without inflating the rest of it. */
	buf = malloc((size_t)m->size + 1);
	if (buf == NULL)
		return ms_fail(err, "%s: member '%s': out of memory for %llu "
			       "bytes", zip->path, m->name,
			       (unsigned long long)m->size);
	if (inflate_member(zip, m, buf, (size_t)m->size + 1, &got, err)) {
		free(buf);
		return -1;
	}
	if (got != m->size) {
		free(buf);
		return ms_fail(err, "%s: member '%s': inflates to %s bytes but "
			       "declares %llu", zip->path, m->name,
			       got > m->size ? "more" : "fewer",
			       (unsigned long long)m->size);
	}
	if (ms_ck_keep(ck, buf, err))
		return -1;
	out->data = buf;
	out->size = got;
	return 0;
}

int ms_zip_load(struct ms_zip *zip, size_t i, uint64_t limit,
		struct ms_checkpoint *ck, struct ms_bytes *out,
		struct ms_error *err)
{
	const struct ms_zip_member *m = &zip->members[i];

	if (m->method == MS_ZIP_DEFLATED)
		return load_deflated(zip, m, limit, ck, out, err);
	if (m->method != MS_ZIP_STORED)
		return ms_fail(err, "%s: member '%s': unsupported compression "
			       "method %d", zip->path, m->name, m->method);
	if (m->size != m->compressed_size)
		return ms_fail(err, "%s: member '%s': stored member declares "
			       "%llu bytes but occupies %llu", zip->path,
			       m->name, (unsigned long long)m->size,
			       (unsigned long long)m->compressed_size);
	out->data = zip->in.data + m->data_offset;
	out->size = (size_t)m->size;
	return 0;
}
