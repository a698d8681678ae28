/* Element access and the one-pass statistics of a tensor: nonzero counts
 * per output channel, integer range and distinct values. */
#include "tensor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	size_t size;
} dtype_info[MS_DTYPE_COUNT] = {
	[MS_DTYPE_F32] = { "float32", 4 },
	[MS_DTYPE_F16] = { "float16", 2 },
	[MS_DTYPE_BF16] = { "bfloat16", 2 },
	[MS_DTYPE_F64] = { "float64", 8 },
	[MS_DTYPE_I8] = { "int8", 1 },
	[MS_DTYPE_I16] = { "int16", 2 },
	[MS_DTYPE_I32] = { "int32", 4 },
	[MS_DTYPE_I64] = { "int64", 8 },
	[MS_DTYPE_U8] = { "uint8", 1 },
	[MS_DTYPE_BOOL] = { "bool", 1 },
};

size_t ms_dtype_size(enum ms_dtype dtype)
{
	if ((unsigned)dtype >= MS_DTYPE_COUNT)
		return 0;
	return dtype_info[dtype].size;
}

const char *ms_dtype_name(enum ms_dtype dtype)
{
	if ((unsigned)dtype >= MS_DTYPE_COUNT)
		return "unknown";
	return dtype_info[dtype].name;
}

int64_t ms_shape_elements(int ndim, const int64_t *shape)
{
	int64_t n = 1;

	for (int i = 0; i < ndim; i++) {
		if (shape[i] < 0 || __builtin_mul_overflow(n, shape[i], &n))
			return -1;
	}
	return n;
}

/* IEEE 754 half precision to single precision, exact for every input. */
static float half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f;
	uint32_t mant = h & 0x3ff;
	uint32_t bits;
	float f;

	if (exp == 0) {
		/* zero or subnormal: mant * 2^-24 */
		f = ldexpf((float)mant, -24);
		return sign ? -f : f;
	}
	if (exp == 31)
		bits = sign | 0x7f800000u | (mant << 13);
	else
		bits = sign | ((exp + 112) << 23) | (mant << 13);
	memcpy(&f, &bits, sizeof f);
	return f;
}

static uint16_t load16(const unsigned char *p, bool swap)
{
	uint16_t v;

	memcpy(&v, p, sizeof v);
	return swap ? __builtin_bswap16(v) : v;
}

static uint32_t load32(const unsigned char *p, bool swap)
{
	uint32_t v;

	memcpy(&v, p, sizeof v);
	return swap ? __builtin_bswap32(v) : v;
}

static uint64_t load64(const unsigned char *p, bool swap)
{
	uint64_t v;

	memcpy(&v, p, sizeof v);
	return swap ? __builtin_bswap64(v) : v;
}

/* Reads one element of DTYPE at P, which need not be aligned. */
static double load_value(enum ms_dtype dtype, const unsigned char *p,
			 bool swap)
{
	uint32_t u32;
	uint64_t u64;
	float f;
	double d;

	switch (dtype) {
	case MS_DTYPE_F32:
		u32 = load32(p, swap);
		memcpy(&f, &u32, sizeof f);
		return f;
	case MS_DTYPE_F16:
		return half_to_float(load16(p, swap));
	case MS_DTYPE_BF16:
		u32 = (uint32_t)load16(p, swap) << 16;
		memcpy(&f, &u32, sizeof f);
		return f;
	case MS_DTYPE_F64:
		u64 = load64(p, swap);
		memcpy(&d, &u64, sizeof d);
		return d;
	case MS_DTYPE_I8:
		return (int8_t)p[0];
	case MS_DTYPE_I16:
		return (int16_t)load16(p, swap);
	case MS_DTYPE_I32:
		return (int32_t)load32(p, swap);
	case MS_DTYPE_I64:
		return (double)(int64_t)load64(p, swap);
	case MS_DTYPE_U8:
		return p[0];
	case MS_DTYPE_BOOL:
		return p[0] != 0;
	default:
		return 0;
	}
}

double ms_tensor_get(const struct ms_tensor *t, int64_t i)
{
	int64_t off = t->offset;

	for (int d = t->ndim - 1; d >= 0; d--) {
		int64_t n = t->shape[d];

		off += (i % n) * t->stride[d];
		i /= n;
	}
	return load_value(t->dtype, t->data + (size_t)off * ms_dtype_size(t->dtype),
			  t->big_endian);
}

/* ---------------------------------------------------------------------
 * Distinct values: an open-addressing set of bit patterns that stops
 * growing at MS_DISTINCT_CAP entries. */

struct distinct_set {
	uint64_t *slots;
	size_t mask;          /* slot count - 1, a power of two minus one */
	int64_t count;
	bool capped;
	bool has_empty_key;   /* EMPTY_KEY itself was inserted */
	uint64_t last;        /* the last key inserted, to skip repeats */
	bool has_last;
};

/* A NaN payload that marks empty slots. A stored value with this exact
 * pattern is tracked by has_empty_key instead. */
#define EMPTY_KEY UINT64_C(0x7ff8dead0000beef)

static int set_init(struct distinct_set *s)
{
	memset(s, 0, sizeof *s);
	s->mask = 63;
	s->slots = malloc((s->mask + 1) * sizeof *s->slots);
	if (s->slots == NULL)
		return -1;
	for (size_t i = 0; i <= s->mask; i++)
		s->slots[i] = EMPTY_KEY;
	return 0;
}

static size_t set_hash(uint64_t key, size_t mask)
{
	key ^= key >> 29;
	key *= UINT64_C(0x9e3779b97f4a7c15);
	return (size_t)(key >> 32) & mask;
}

static int set_grow(struct distinct_set *s)
{
	size_t new_mask = s->mask * 2 + 1;
	uint64_t *slots = malloc((new_mask + 1) * sizeof *slots);

	if (slots == NULL)
		return -1;
	for (size_t i = 0; i <= new_mask; i++)
		slots[i] = EMPTY_KEY;
	for (size_t i = 0; i <= s->mask; i++) {
		size_t h;

		if (s->slots[i] == EMPTY_KEY)
			continue;
		h = set_hash(s->slots[i], new_mask);
		while (slots[h] != EMPTY_KEY)
			h = (h + 1) & new_mask;
		slots[h] = s->slots[i];
	}
	free(s->slots);
	s->slots = slots;
	s->mask = new_mask;
	return 0;
}

/* Adds KEY. Returns -1 only when memory runs out. */
static int set_add(struct distinct_set *s, uint64_t key)
{
	size_t h;

	s->last = key;
	s->has_last = true;
	if (key == EMPTY_KEY) {
		if (!s->has_empty_key) {
			if (s->count == MS_DISTINCT_CAP) {
				s->capped = true;
				return 0;
			}
			s->has_empty_key = true;
			s->count++;
		}
		return 0;
	}
	h = set_hash(key, s->mask);
	while (s->slots[h] != EMPTY_KEY) {
		if (s->slots[h] == key)
			return 0;
		h = (h + 1) & s->mask;
	}
	if (s->count == MS_DISTINCT_CAP) {
		s->capped = true;
		return 0;
	}
	s->slots[h] = key;
	s->count++;
	if ((size_t)s->count * 2 > s->mask + 1)
		return set_grow(s);
	return 0;
}

static inline int set_add_fast(struct distinct_set *s, uint64_t key)
{
	if (s->capped || (s->has_last && key == s->last))
		return 0;
	return set_add(s, key);
}

/* ---------------------------------------------------------------------
 * The scan. */

struct scan_state {
	struct distinct_set set;
	int64_t nonzero;
	bool all_integer;
	double min, max;
};

static inline bool f64_bits_integer(uint64_t b)
{
	int e = (int)((b >> 52) & 0x7ff) - 1023;

	if (e == 1024)
		return false;
	if ((b & ~(UINT64_C(1) << 63)) == 0)
		return true;
	if (e < 0)
		return false;
	if (e >= 52)
		return true;
	return (b & ((UINT64_C(1) << (52 - e)) - 1)) == 0;
}

/* Tells whether the float32 V is a finite integer. Every float32 of
 * magnitude 2^23 or more is an integer, and a smaller one is an integer
 * when it survives a round trip through int32. */
static inline bool f32_is_integer(float v)
{
	float a = fabsf(v);

	if (!(a < 8388608.0f))
		return a != INFINITY && a == a;
	return v == (float)(int32_t)v;
}

/* Scans N contiguous float32 values at P: the fast path for the common
 * case. Keys of the distinct set are float32 bit patterns here. A small
 * direct-mapped table of keys already in the set lets most elements skip
 * the set lookup, and the loop avoids data-dependent branches. */
/* Scans N float32 values for the nonzero count and the range only: the
 * loop for values whose distinct count is capped and that are not all
 * integers, which is every large unquantized tensor. It has no branches
 * that depend on the data, so the compiler can vectorize it. */
static void scan_f32_range(const unsigned char *p, int64_t n, float *lo,
			   float *hi, int64_t *nonzero)
{
	float l = *lo, h = *hi;
	int64_t nz = 0;

	for (int64_t i = 0; i < n; i++) {
		uint32_t b;
		float v;

		memcpy(&b, p + 4 * i, sizeof b);
		memcpy(&v, &b, sizeof v);
		nz += (b & 0x7fffffffu) != 0;
		l = v < l ? v : l;
		h = v > h ? v : h;
	}
	*lo = l;
	*hi = h;
	*nonzero += nz;
}

static int scan_f32(struct scan_state *s, const unsigned char *p, int64_t n,
		    bool swap, int64_t *nonzero)
{
	uint32_t seen[256];
	float lo = (float)s->min, hi = (float)s->max;
	int64_t nz = 0;
	bool all_integer = s->all_integer;

	if (!swap && !all_integer && s->set.capped) {
		scan_f32_range(p, n, &lo, &hi, nonzero);
		s->min = lo;
		s->max = hi;
		return 0;
	}
	memset(seen, 0xff, sizeof seen);
	for (int64_t i = 0; i < n; i++) {
		uint32_t b, h;
		float v;
		bool is_nonzero;

		memcpy(&b, p + 4 * i, sizeof b);
		if (swap)
			b = __builtin_bswap32(b);
		memcpy(&v, &b, sizeof v);
		is_nonzero = (b & 0x7fffffffu) != 0;
		nz += is_nonzero;
		b = is_nonzero ? b : 0;     /* -0 and +0 are one value */
		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
		if (all_integer)
			all_integer = f32_is_integer(v);
		h = (b * 0x9e3779b1u) >> 24;
		if (seen[h] != b && !s->set.capped) {
			if (set_add(&s->set, b) < 0)
				return -1;
			seen[h] = b;
		}
	}
	s->all_integer = all_integer;
	s->min = lo;
	s->max = hi;
	*nonzero += nz;
	return 0;
}

static inline int scan_value(struct scan_state *s, double v, int64_t *nz)
{
	uint64_t b;

	if (v != 0.0)
		(*nz)++;
	else
		v = 0.0;
	if (v < s->min)
		s->min = v;
	if (v > s->max)
		s->max = v;
	memcpy(&b, &v, sizeof b);
	if (s->all_integer && !f64_bits_integer(b))
		s->all_integer = false;
	return set_add_fast(&s->set, b);
}

static bool is_contiguous(const struct ms_tensor *t)
{
	int64_t expect = 1;

	for (int d = t->ndim - 1; d >= 0; d--) {
		if (t->shape[d] != 1 && t->stride[d] != expect)
			return false;
		expect *= t->shape[d];
	}
	return true;
}

/* A row-major walk over the elements of a tensor, tracking the storage
 * offset of the current element. */
struct cursor {
	const struct ms_tensor *t;
	int64_t idx[MS_MAX_DIMS];
	int64_t off;
	size_t esize;
};

static void cursor_init(struct cursor *c, const struct ms_tensor *t)
{
	memset(c, 0, sizeof *c);
	c->t = t;
	c->off = t->offset;
	c->esize = ms_dtype_size(t->dtype);
}

static double cursor_value(const struct cursor *c)
{
	return load_value(c->t->dtype, c->t->data + (size_t)c->off * c->esize,
			  c->t->big_endian);
}

static void cursor_next(struct cursor *c)
{
	const struct ms_tensor *t = c->t;

	for (int d = t->ndim - 1; d >= 0; d--) {
		c->off += t->stride[d];
		if (++c->idx[d] < t->shape[d])
			return;
		c->off -= t->stride[d] * t->shape[d];
		c->idx[d] = 0;
	}
}

/* Scans any layout and dtype, with an optional mask, one element at a
 * time. Keys of the distinct set are float64 bit patterns here. */
static int scan_general(struct scan_state *s, const struct ms_tensor *t,
			const struct ms_tensor *mask, int64_t per_channel,
			int64_t *channel_nonzero)
{
	struct cursor c, m;

	cursor_init(&c, t);
	if (mask != NULL)
		cursor_init(&m, mask);
	for (int64_t ch = 0; ch < t->stats.channels; ch++) {
		int64_t nz = 0;

		for (int64_t j = 0; j < per_channel; j++) {
			double v = cursor_value(&c);

			if (mask != NULL) {
				if (cursor_value(&m) == 0.0)
					v = 0.0;
				cursor_next(&m);
			}
			if (scan_value(s, v, &nz) < 0)
				return -1;
			cursor_next(&c);
		}
		channel_nonzero[ch] = nz;
		s->nonzero += nz;
	}
	return 0;
}

int ms_tensor_scan(struct ms_tensor *t, const struct ms_tensor *mask,
		   struct ms_error *err)
{
	struct ms_tensor_stats *st = &t->stats;
	struct scan_state s;
	int64_t elements = ms_shape_elements(t->ndim, t->shape);
	int64_t channels = t->ndim == 0 ? 1 : t->shape[0];
	int64_t per_channel;
	int rc = 0;

	if (elements < 0)
		return ms_fail(err, "tensor '%s': invalid shape", t->name);
	if (mask != NULL && ms_shape_elements(mask->ndim, mask->shape) != elements)
		return ms_fail(err, "tensor '%s': mask has a different element count",
			       t->name);
	free(st->channel_nonzero);
	memset(st, 0, sizeof *st);
	st->elements = elements;
	st->channels = channels;
	st->all_integer = true;
	if (channels > 0) {
		st->channel_nonzero = calloc((size_t)channels, sizeof(int64_t));
		if (st->channel_nonzero == NULL)
			return ms_fail(err, "tensor '%s': out of memory", t->name);
	}
	if (elements == 0)
		return 0;
	per_channel = elements / channels;

	if (set_init(&s.set) < 0)
		return ms_fail(err, "tensor '%s': out of memory", t->name);
	s.nonzero = 0;
	s.all_integer = true;
	s.min = INFINITY;
	s.max = -INFINITY;
	st->first = ms_tensor_get(t, 0);
	if (mask != NULL && ms_tensor_get(mask, 0) == 0.0)
		st->first = 0.0;

	if (t->dtype == MS_DTYPE_F32 && mask == NULL && is_contiguous(t)) {
		const unsigned char *p = t->data + (size_t)t->offset * 4;

		for (int64_t ch = 0; ch < channels && rc == 0; ch++) {
			rc = scan_f32(&s, p + (size_t)(ch * per_channel) * 4,
				      per_channel, t->big_endian,
				      &st->channel_nonzero[ch]);
			s.nonzero += st->channel_nonzero[ch];
		}
	} else {
		rc = scan_general(&s, t, mask, per_channel, st->channel_nonzero);
	}
	free(s.set.slots);
	if (rc < 0)
		return ms_fail(err, "tensor '%s': out of memory", t->name);

	st->nonzero = s.nonzero;
	st->all_integer = s.all_integer;
	/* Only NaNs leave the range unset. */
	st->min = s.min <= s.max ? s.min : NAN;
	st->max = s.min <= s.max ? s.max : NAN;
	st->distinct = s.set.count;
	st->distinct_capped = s.set.capped;
	return 0;
}

/* Returns the smallest two's complement width that contains [MIN, MAX],
 * or the smallest unsigned width when IS_SIGNED is false. */
static int integer_bits(double min, double max, bool is_signed)
{
	for (int b = 1; b < 64; b++) {
		double top = ldexp(1.0, is_signed ? b - 1 : b);

		if (max <= top - 1 && (!is_signed || min >= -top))
			return b;
	}
	return 64;
}

bool ms_stats_is_codebook(const struct ms_tensor_stats *s)
{
	return !s->all_integer && !s->distinct_capped &&
	       s->distinct <= MS_CODEBOOK_MAX && s->distinct * 2 <= s->elements;
}

int ms_stats_infer_bits(const struct ms_tensor_stats *s, bool *is_signed)
{
	int bits = 0;

	*is_signed = s->min < 0;
	if (s->all_integer)
		return integer_bits(s->min, s->max, *is_signed);

	/* Floats with at most 256 distinct values, each used twice on
	 * average, are read as a codebook of ceil(log2(distinct)) bits.
	 * Otherwise the weights were not quantized and need their full
	 * width. */
	if (!ms_stats_is_codebook(s))
		return 32;
	while (ldexp(1.0, bits) < (double)s->distinct)
		bits++;
	/* A constant tensor still needs one bit per value. */
	return bits > 0 ? bits : 1;
}

int ms_tensor_infer_bits(const struct ms_tensor *t, bool *is_signed)
{
	int bits = ms_stats_infer_bits(&t->stats, is_signed);
	int width = (int)ms_dtype_size(t->dtype) * 8;

	if (t->dtype == MS_DTYPE_BOOL)
		width = 1;
	return width > 0 && width < bits ? width : bits;
}
