/* The pickle opcode loop: reads protocols 0 to 5 into values in an arena,
 * with a bounded memory budget, and checks every length, stack pop and
 * memo index before use. */
#include "pickle_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct arena_block {
	struct arena_block *next;
	size_t used, size;
	max_align_t data[];
};

#define ARENA_BLOCK (64 * 1024)

struct ms_pickle *ms_pickle_new(const char *path, size_t limit_bytes)
{
	struct ms_pickle *p = calloc(1, sizeof *p);

	if (p != NULL) {
		p->path = path;
		p->limit = limit_bytes;
	}
	return p;
}

void ms_pickle_free(struct ms_pickle *p)
{
	if (p == NULL)
		return;
	while (p->blocks != NULL) {
		struct arena_block *b = p->blocks;

		p->blocks = b->next;
		free(b);
	}
	free(p);
}

int ld_fail(struct loader *ld, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return ms_fail(ld->err, "%s: pickle at byte %zu: %s", ld->p->path,
		       ld->base + ld->op_pos, msg);
}

void *ld_alloc(struct loader *ld, size_t n)
{
	struct ms_pickle *p = ld->p;
	struct arena_block *b = p->blocks;
	size_t align = sizeof(max_align_t), size;
	void *mem;

	n = (n + align - 1) / align * align;
	if (n == 0 || n > p->limit)
		goto too_much;
	if (b == NULL || b->size - b->used < n) {
		size = n > ARENA_BLOCK ? n : ARENA_BLOCK;
		if (size > p->limit - p->used)
			goto too_much;
		b = malloc(sizeof *b + size);
		if (b == NULL) {
			ld_fail(ld, "out of memory");
			return NULL;
		}
		b->size = size;
		b->used = 0;
		b->next = p->blocks;
		p->blocks = b;
		p->used += size;
	}
	mem = (unsigned char *)b->data + b->used;
	b->used += n;
	memset(mem, 0, n);
	return mem;
too_much:
	ld_fail(ld, "the objects need more than %zu bytes of memory, the limit "
		"set for this file", p->limit);
	return NULL;
}

struct ms_pval *ld_value(struct loader *ld, enum ms_pkind kind)
{
	struct ms_pval *v = ld_alloc(ld, sizeof *v);

	if (v != NULL)
		v->kind = kind;
	return v;
}

int ld_seq_push(struct loader *ld, struct ms_pseq *seq, struct ms_pval *v)
{
	if (seq->len == seq->cap) {
		size_t cap = seq->cap ? seq->cap * 2 : 4;
		struct ms_pval **items;

		if (cap > SIZE_MAX / sizeof *items)
			return ld_fail(ld, "sequence too long");
		items = ld_alloc(ld, cap * sizeof *items);
		if (items == NULL)
			return -1;
		if (seq->len)
			memcpy(items, seq->items, seq->len * sizeof *items);
		seq->items = items;
		seq->cap = cap;
	}
	seq->items[seq->len++] = v;
	return 0;
}

struct ms_pval *ld_str(struct loader *ld, const char *s, size_t n)
{
	struct ms_pval *v = ld_value(ld, MS_PV_STR);
	char *copy;

	if (v == NULL || n == SIZE_MAX || (copy = ld_alloc(ld, n + 1)) == NULL)
		return NULL;
	memcpy(copy, s, n);
	v->u.str.data = copy;
	v->u.str.len = n;
	return v;
}

struct ms_pval *ld_placeholder(struct loader *ld, const char *module,
			       const char *name)
{
	struct ms_pval *v = ld_value(ld, MS_PV_OBJECT);

	if (v != NULL) {
		v->u.global.module = module;
		v->u.global.name = name;
	}
	return v;
}

const struct ms_pval *const *ms_pickle_persids(const struct ms_pickle *p,
					       size_t *count)
{
	*count = p->persids.len;
	return (const struct ms_pval *const *)p->persids.items;
}

bool ms_pval_is_str(const struct ms_pval *v, const char *s)
{
	return v != NULL && v->kind == MS_PV_STR && strcmp(v->u.str.data, s) == 0;
}

const char *ms_pval_kind_name(const struct ms_pval *v)
{
	static const char *const names[] = {
		"None", "bool", "int", "int", "float", "str", "bytes", "tuple",
		"list", "set", "dict", "global", "object", "persistent id",
		"tensor", "NumPy array", "NumPy dtype"
	};

	return names[v->kind];
}

/* ---------------------------------------------------------------------
 * Stack, marks and memo. */

static int push(struct loader *ld, struct ms_pval *v)
{
	if (v == NULL)
		return -1;
	if (ld->sp == ld->stack_cap) {
		size_t cap = ld->stack_cap ? ld->stack_cap * 2 : 64;
		struct ms_pval **s = ld_alloc(ld, cap * sizeof *s);

		if (s == NULL)
			return -1;
		if (ld->sp)
			memcpy(s, ld->stack, ld->sp * sizeof *s);
		ld->stack = s;
		ld->stack_cap = cap;
	}
	ld->stack[ld->sp++] = v;
	return 0;
}

/* The stack height below which the current MARK forbids popping. */
static size_t floor_height(const struct loader *ld)
{
	return ld->mark_count ? ld->marks[ld->mark_count - 1] : 0;
}

static struct ms_pval *pop(struct loader *ld)
{
	if (ld->sp <= floor_height(ld)) {
		ld_fail(ld, "stack underflow");
		return NULL;
	}
	return ld->stack[--ld->sp];
}

static struct ms_pval *top(struct loader *ld)
{
	if (ld->sp <= floor_height(ld)) {
		ld_fail(ld, "stack underflow");
		return NULL;
	}
	return ld->stack[ld->sp - 1];
}

static int push_mark(struct loader *ld)
{
	if (ld->mark_count == ld->mark_cap) {
		size_t cap = ld->mark_cap ? ld->mark_cap * 2 : 16;
		size_t *m = ld_alloc(ld, cap * sizeof *m);

		if (m == NULL)
			return -1;
		if (ld->mark_count)
			memcpy(m, ld->marks, ld->mark_count * sizeof *m);
		ld->marks = m;
		ld->mark_cap = cap;
	}
	ld->marks[ld->mark_count++] = ld->sp;
	return 0;
}

/* Pops the items above the last MARK: they are STACK[*START .. SP) until
 * the next push. */
static int pop_mark(struct loader *ld, size_t *start)
{
	if (ld->mark_count == 0)
		return ld_fail(ld, "no MARK to pop (mark stack underflow)");
	*start = ld->marks[--ld->mark_count];
	ld->sp = *start;
	return 0;
}

static struct memo_slot *memo_slot(struct loader *ld, uint64_t key)
{
	size_t h = (size_t)((key * UINT64_C(0x9e3779b97f4a7c15)) >> 20);

	for (h &= ld->memo_mask;; h = (h + 1) & ld->memo_mask) {
		struct memo_slot *s = &ld->memo[h];

		if (s->key_plus_one == 0 || s->key_plus_one == key + 1)
			return s;
	}
}

static int memo_put(struct loader *ld, uint64_t key)
{
	struct ms_pval *v = top(ld);
	struct memo_slot *s;

	if (v == NULL)
		return -1;
	if (key == UINT64_MAX)
		return ld_fail(ld, "memo index out of range");
	if (ld->memo == NULL || (ld->memo_count + 1) * 2 > ld->memo_mask + 1) {
		struct memo_slot *old = ld->memo;
		size_t old_mask = ld->memo_mask;

		ld->memo_mask = old ? old_mask * 2 + 1 : 63;
		ld->memo = ld_alloc(ld, (ld->memo_mask + 1) * sizeof *ld->memo);
		if (ld->memo == NULL)
			return -1;
		for (size_t i = 0; old != NULL && i <= old_mask; i++) {
			if (old[i].key_plus_one != 0)
				*memo_slot(ld, old[i].key_plus_one - 1) = old[i];
		}
	}
	s = memo_slot(ld, key);
	if (s->key_plus_one == 0)
		ld->memo_count++;
	s->key_plus_one = key + 1;
	s->value = v;
	return 0;
}

static int memo_get(struct loader *ld, uint64_t key)
{
	struct memo_slot *s = NULL;

	if (ld->memo != NULL && key != UINT64_MAX)
		s = memo_slot(ld, key);
	if (s == NULL || s->key_plus_one == 0)
		return ld_fail(ld, "memo index %llu is out of range (never "
			       "stored)", (unsigned long long)key);
	return push(ld, s->value);
}

/* ---------------------------------------------------------------------
 * Reading operands. */

static int need(struct loader *ld, size_t n, const unsigned char **out)
{
	if (ld->size - ld->pos < n)
		return ld_fail(ld, "truncated: the opcode needs %zu more bytes "
			       "than the %zu left", n, ld->size - ld->pos);
	*out = ld->data + ld->pos;
	ld->pos += n;
	return 0;
}

static uint64_t le_uint(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Reads a length of N bytes (little-endian) and then that many bytes. */
static int counted(struct loader *ld, int n, const unsigned char **out,
		   size_t *len)
{
	const unsigned char *p = NULL;
	uint64_t v;

	if (need(ld, (size_t)n, &p) < 0)
		return -1;
	v = le_uint(p, n);
	if (v > ld->size - ld->pos)
		return ld_fail(ld, "truncated: length %llu runs past the end of "
			       "the data", (unsigned long long)v);
	*len = (size_t)v;
	return need(ld, *len, out);
}

/* Reads a text operand up to a newline; *LEN excludes the newline. */
static int line(struct loader *ld, const char **out, size_t *len)
{
	const unsigned char *s = ld->data + ld->pos;
	const unsigned char *nl = memchr(s, '\n', ld->size - ld->pos);

	if (nl == NULL)
		return ld_fail(ld, "truncated: a text operand has no newline");
	*out = (const char *)s;
	*len = (size_t)(nl - s);
	ld->pos += *len + 1;
	return 0;
}

/* Makes an int from a little-endian two's complement number of N bytes,
 * as LONG1 and LONG4 store it. */
static struct ms_pval *int_from_bytes(struct loader *ld,
				      const unsigned char *p, size_t n)
{
	struct ms_pval *v;

	if (n <= 8) {
		uint64_t u = le_uint(p, (int)n);

		if (n > 0 && n < 8 && (p[n - 1] & 0x80))
			u |= ~UINT64_C(0) << (8 * n);
		v = ld_value(ld, MS_PV_INT);
		if (v != NULL)
			v->u.i = (int64_t)u;
		return v;
	}
	v = ld_value(ld, MS_PV_BIGINT);
	if (v != NULL) {
		v->u.str.data = (const char *)p;
		v->u.str.len = n;
	}
	return v;
}

/* Makes an int from decimal text, as INT and LONG store it. */
static struct ms_pval *int_from_text(struct loader *ld, const char *s,
				     size_t n)
{
	enum { MAX_DIGITS = 1024 };
	unsigned char mag[MAX_DIGITS / 2 + 2] = { 0 };
	size_t i = 0, bytes = sizeof mag;
	bool negative = false;
	char buf[32];

	if (n > 0 && s[n - 1] == 'L')
		n--;
	if (n > 0 && (s[0] == '-' || s[0] == '+'))
		negative = s[i++] == '-';
	if (i == n) {
		ld_fail(ld, "invalid integer literal");
		return NULL;
	}
	for (size_t k = i; k < n; k++) {
		if (s[k] < '0' || s[k] > '9') {
			ld_fail(ld, "invalid integer literal");
			return NULL;
		}
	}
	if (n < sizeof buf) {
		char *end;
		long long x;

		memcpy(buf, s, n);
		buf[n] = '\0';
		errno = 0;
		x = strtoll(buf, &end, 10);
		if (errno == 0) {
			struct ms_pval *v = ld_value(ld, MS_PV_INT);

			if (v != NULL)
				v->u.i = x;
			return v;
		}
	}
	if (n - i > MAX_DIGITS) {
		/* Too long to be a value a checkpoint cares about: keep it
		 * as a big int of unknown value (no bytes). */
		return ld_value(ld, MS_PV_BIGINT);
	}
	/* Magnitude by repeated multiply-add, then two's complement. */
	for (; i < n; i++) {
		unsigned carry = (unsigned)(s[i] - '0');

		for (size_t k = 0; k < bytes; k++) {
			unsigned x = mag[k] * 10u + carry;

			mag[k] = (unsigned char)x;
			carry = x >> 8;
		}
	}
	if (negative) {
		unsigned carry = 1;

		for (size_t k = 0; k < bytes; k++) {
			unsigned x = (unsigned char)~mag[k] + carry;

			mag[k] = (unsigned char)x;
			carry = x >> 8;
		}
	}
	/* Trim redundant sign bytes. */
	while (bytes > 1 && mag[bytes - 1] == (negative ? 0xff : 0) &&
	       ((mag[bytes - 2] & 0x80) != 0) == negative)
		bytes--;
	{
		unsigned char *copy = ld_alloc(ld, bytes);

		if (copy == NULL)
			return NULL;
		memcpy(copy, mag, bytes);
		return int_from_bytes(ld, copy, bytes);
	}
}

/* ---------------------------------------------------------------------
 * Containers. */

static int make_tuple(struct loader *ld, size_t start, size_t end)
{
	struct ms_pval *t = ld_value(ld, MS_PV_TUPLE);

	if (t == NULL)
		return -1;
	for (size_t i = start; i < end; i++) {
		if (ld_seq_push(ld, &t->u.seq, ld->stack[i]) < 0)
			return -1;
	}
	ld->sp = start;
	return push(ld, t);
}

static int tuple_n(struct loader *ld, size_t n)
{
	if (ld->sp < floor_height(ld) + n)
		return ld_fail(ld, "stack underflow");
	return make_tuple(ld, ld->sp - n, ld->sp);
}

/* Appends STACK[START .. END) to the list or set TARGET. */
static int append_items(struct loader *ld, struct ms_pval *target,
			size_t start, size_t end)
{
	if (target->kind == MS_PV_OBJECT)
		return 0;   /* an unknown object's own append is never run */
	if (target->kind != MS_PV_LIST && target->kind != MS_PV_SET)
		return ld_fail(ld, "APPEND or ADDITEMS on a %s, not a list",
			       ms_pval_kind_name(target));
	for (size_t i = start; i < end; i++) {
		if (ld_seq_push(ld, &target->u.seq, ld->stack[i]) < 0)
			return -1;
	}
	return 0;
}

/* Sets the key-value pairs STACK[START .. END) in the dict TARGET. */
static int set_items(struct loader *ld, struct ms_pval *target, size_t start,
		     size_t end)
{
	if ((end - start) % 2 != 0)
		return ld_fail(ld, "odd number of items for a dict");
	if (target->kind == MS_PV_OBJECT)
		return 0;
	if (target->kind != MS_PV_DICT)
		return ld_fail(ld, "SETITEM on a %s, not a dict",
			       ms_pval_kind_name(target));
	/* NOTE: a repeated key is kept twice rather than replaced, so this
	 * stays linear. A tensor name that appears twice is rejected when
	 * the checkpoint is finished. */
	for (size_t i = start; i < end; i += 2) {
		if (ld_seq_push(ld, &target->u.dict.keys, ld->stack[i]) < 0 ||
		    ld_seq_push(ld, &target->u.dict.values, ld->stack[i + 1]) < 0)
			return -1;
	}
	return 0;
}

static int op_marked(struct loader *ld, unsigned char op)
{
	struct ms_pval *v, *target;
	size_t start = 0, end = ld->sp;

	if (pop_mark(ld, &start) < 0)
		return -1;
	switch (op) {
	case 't':
		ld->sp = end;
		return make_tuple(ld, start, end);
	case 'l':
	case 0x91:          /* FROZENSET */
		v = ld_value(ld, op == 'l' ? MS_PV_LIST : MS_PV_SET);
		if (v == NULL || append_items(ld, v, start, end) < 0)
			return -1;
		return push(ld, v);
	case 'd':
		v = ld_value(ld, MS_PV_DICT);
		if (v == NULL || set_items(ld, v, start, end) < 0)
			return -1;
		return push(ld, v);
	case 'e':           /* APPENDS */
	case 0x90:          /* ADDITEMS */
		target = top(ld);
		return target ? append_items(ld, target, start, end) : -1;
	case 'u':           /* SETITEMS */
		target = top(ld);
		return target ? set_items(ld, target, start, end) : -1;
	}
	return -1;
}

/* INST and OBJ: build an instance of a class from the items above MARK. */
static int op_inst(struct loader *ld, unsigned char op)
{
	const char *module = NULL, *name = NULL;
	struct ms_pval *m, *n;
	size_t len, start = 0, end;
	const char *s;

	if (op == 'i') {
		if (line(ld, &s, &len) < 0 || (m = ld_str(ld, s, len)) == NULL ||
		    line(ld, &s, &len) < 0 || (n = ld_str(ld, s, len)) == NULL)
			return -1;
		module = m->u.str.data;
		name = n->u.str.data;
	}
	end = ld->sp;
	if (pop_mark(ld, &start) < 0)
		return -1;
	if (op == 'o') {
		struct ms_pval *cls;

		if (start == end)
			return ld_fail(ld, "stack underflow: OBJ has no class");
		cls = ld->stack[start];
		if (cls->kind != MS_PV_GLOBAL && cls->kind != MS_PV_OBJECT)
			return ld_fail(ld, "OBJ on a %s, not a class",
				       ms_pval_kind_name(cls));
		module = cls->u.global.module;
		name = cls->u.global.name;
	}
	return push(ld, ld_placeholder(ld, module, name));
}

/* ---------------------------------------------------------------------
 * Opcodes that push one scalar, string or bytes value. Returns 1 when OP
 * is not one of them. */

static int op_scalar(struct loader *ld, unsigned char op)
{
	const unsigned char *p = NULL;
	struct ms_pval *v;
	const char *s;
	size_t n;

	switch (op) {
	case 'N':
		return push(ld, ld_value(ld, MS_PV_NONE));
	case 0x88:          /* NEWTRUE */
	case 0x89:          /* NEWFALSE */
		v = ld_value(ld, MS_PV_BOOL);
		if (v != NULL)
			v->u.b = op == 0x88;
		return push(ld, v);
	case 'J':           /* BININT */
	case 'K':           /* BININT1 */
	case 'M':           /* BININT2 */
		n = op == 'J' ? 4 : op == 'K' ? 1 : 2;
		if (need(ld, n, &p) < 0)
			return -1;
		v = ld_value(ld, MS_PV_INT);
		if (v != NULL)
			v->u.i = op == 'J' ? (int32_t)(uint32_t)le_uint(p, 4)
					   : (int64_t)le_uint(p, (int)n);
		return push(ld, v);
	case 'I':
	case 'L':
		if (line(ld, &s, &n) < 0)
			return -1;
		if (op == 'I' && n == 2 && s[0] == '0' && (s[1] == '0' || s[1] == '1')) {
			v = ld_value(ld, MS_PV_BOOL);
			if (v != NULL)
				v->u.b = s[1] == '1';
			return push(ld, v);
		}
		return push(ld, int_from_text(ld, s, n));
	case 0x8a:          /* LONG1 */
	case 0x8b:          /* LONG4 */
		if (counted(ld, op == 0x8a ? 1 : 4, &p, &n) < 0)
			return -1;
		return push(ld, int_from_bytes(ld, p, n));
	case 'F': {
		char buf[64], *end;

		if (line(ld, &s, &n) < 0)
			return -1;
		if (n == 0 || n >= sizeof buf)
			return ld_fail(ld, "invalid float literal");
		memcpy(buf, s, n);
		buf[n] = '\0';
		v = ld_value(ld, MS_PV_FLOAT);
		if (v == NULL)
			return -1;
		v->u.f = strtod(buf, &end);
		if (*end != '\0')
			return ld_fail(ld, "invalid float literal");
		return push(ld, v);
	}
	case 'G': {         /* BINFLOAT: big-endian IEEE 754 double */
		uint64_t bits = 0;

		if (need(ld, 8, &p) < 0)
			return -1;
		for (int i = 0; i < 8; i++)
			bits = bits << 8 | p[i];
		v = ld_value(ld, MS_PV_FLOAT);
		if (v != NULL)
			memcpy(&v->u.f, &bits, sizeof v->u.f);
		return push(ld, v);
	}
	case 'S':
		if (line(ld, &s, &n) < 0)
			return -1;
		return push(ld, ld_decode_string(ld, s, n));
	case 'V':
		if (line(ld, &s, &n) < 0)
			return -1;
		return push(ld, ld_decode_unicode(ld, s, n));
	case 'T':           /* BINSTRING */
	case 'U':           /* SHORT_BINSTRING */
	case 'X':           /* BINUNICODE */
	case 0x8c:          /* SHORT_BINUNICODE */
	case 0x8d:          /* BINUNICODE8 */
		if (counted(ld, op == 'U' || op == 0x8c ? 1 : op == 0x8d ? 8 : 4,
			    &p, &n) < 0)
			return -1;
		return push(ld, ld_str(ld, (const char *)p, n));
	case 'B':           /* BINBYTES */
	case 'C':           /* SHORT_BINBYTES */
	case 0x8e:          /* BINBYTES8 */
	case 0x96:          /* BYTEARRAY8 */
		if (counted(ld, op == 'C' ? 1 : op == 'B' ? 4 : 8, &p, &n) < 0)
			return -1;
		v = ld_value(ld, MS_PV_BYTES);
		if (v != NULL) {
			v->u.str.data = (const char *)p;
			v->u.str.len = n;
		}
		return push(ld, v);
	}
	return 1;
}

/* Opcodes that build containers or reference globals. Returns 1 when OP
 * is not one of them. */
static int op_build(struct loader *ld, unsigned char op)
{
	struct ms_pval *v, *k, *target, *args, *func;
	const char *s;
	size_t n;
	int rc;

	switch (op) {
	case ')':
		return make_tuple(ld, ld->sp, ld->sp);
	case 0x85:
	case 0x86:
	case 0x87:          /* TUPLE1, TUPLE2, TUPLE3 */
		return tuple_n(ld, (size_t)(op - 0x84));
	case ']':
		return push(ld, ld_value(ld, MS_PV_LIST));
	case '}':
		return push(ld, ld_value(ld, MS_PV_DICT));
	case 0x8f:          /* EMPTY_SET */
		return push(ld, ld_value(ld, MS_PV_SET));
	case 't': case 'l': case 'd': case 'e': case 'u': case 0x90: case 0x91:
		return op_marked(ld, op);
	case 'a':           /* APPEND */
		if ((v = pop(ld)) == NULL || (target = top(ld)) == NULL)
			return -1;
		ld->stack[ld->sp++] = v;     /* append_items reads the stack */
		rc = append_items(ld, target, ld->sp - 1, ld->sp);
		ld->sp--;
		return rc;
	case 's':           /* SETITEM */
		if ((v = pop(ld)) == NULL || (k = pop(ld)) == NULL ||
		    (target = top(ld)) == NULL)
			return -1;
		ld->sp += 2;
		rc = set_items(ld, target, ld->sp - 2, ld->sp);
		ld->sp -= 2;
		return rc;
	case 'c':           /* GLOBAL */
	case 0x93:          /* STACK_GLOBAL */
		v = ld_value(ld, MS_PV_GLOBAL);
		if (v == NULL)
			return -1;
		if (op == 'c') {
			if (line(ld, &s, &n) < 0 || (k = ld_str(ld, s, n)) == NULL)
				return -1;
			v->u.global.module = k->u.str.data;
			if (line(ld, &s, &n) < 0 || (k = ld_str(ld, s, n)) == NULL)
				return -1;
			v->u.global.name = k->u.str.data;
		} else {
			if ((k = pop(ld)) == NULL || (target = pop(ld)) == NULL)
				return -1;
			if (k->kind != MS_PV_STR || target->kind != MS_PV_STR)
				return ld_fail(ld, "STACK_GLOBAL needs two str values");
			v->u.global.module = target->u.str.data;
			v->u.global.name = k->u.str.data;
		}
		return push(ld, v);
	case 'i':
	case 'o':
		return op_inst(ld, op);
	case 'R':           /* REDUCE */
		if ((args = pop(ld)) == NULL || (func = pop(ld)) == NULL ||
		    ld_reduce(ld, func, args, &v) < 0)
			return -1;
		return push(ld, v);
	case 0x81:          /* NEWOBJ */
	case 0x92:          /* NEWOBJ_EX */
		if (op == 0x92 && pop(ld) == NULL)
			return -1;
		if ((args = pop(ld)) == NULL || (func = pop(ld)) == NULL ||
		    ld_newobj(ld, func, &v) < 0)
			return -1;
		return push(ld, v);
	case 'b':           /* BUILD */
		if ((args = pop(ld)) == NULL || (target = top(ld)) == NULL)
			return -1;
		return ld_build(ld, target, args);
	case 'P':           /* PERSID */
	case 'Q':           /* BINPERSID */
		if (op == 'P') {
			if (line(ld, &s, &n) < 0 || (k = ld_str(ld, s, n)) == NULL)
				return -1;
		} else if ((k = pop(ld)) == NULL) {
			return -1;
		}
		v = ld_value(ld, MS_PV_PERSID);
		if (v == NULL || ld_seq_push(ld, &ld->p->persids, v) < 0)
			return -1;
		v->u.pid = k;
		return push(ld, v);
	}
	return 1;
}

/* Opcodes that manage the stack, marks, memo and framing. Returns 1 when
 * OP is not one of them. */
static int op_control(struct loader *ld, unsigned char op)
{
	const unsigned char *p = NULL;
	const char *s;
	size_t n, start = 0;
	char buf[24], *end;
	unsigned long long key;

	switch (op) {
	case '(':
		return push_mark(ld);
	case '0':           /* POP: an item, or the mark when none is above it */
		if (ld->sp > floor_height(ld)) {
			ld->sp--;
			return 0;
		}
		return pop_mark(ld, &start);
	case '1':           /* POP_MARK */
		return pop_mark(ld, &start);
	case '2':           /* DUP */
		return push(ld, top(ld));
	case 'p':
	case 'g':           /* PUT and GET with a decimal index */
		if (line(ld, &s, &n) < 0)
			return -1;
		if (n == 0 || n >= sizeof buf || s[0] == '-')
			return ld_fail(ld, "invalid memo index");
		memcpy(buf, s, n);
		buf[n] = '\0';
		errno = 0;
		key = strtoull(buf, &end, 10);
		if (*end != '\0' || errno != 0)
			return ld_fail(ld, "invalid memo index");
		return op == 'p' ? memo_put(ld, key) : memo_get(ld, key);
	case 'q':
	case 'h':
	case 'r':
	case 'j':           /* BINPUT, BINGET, LONG_BINPUT, LONG_BINGET */
		n = op == 'q' || op == 'h' ? 1 : 4;
		if (need(ld, n, &p) < 0)
			return -1;
		return op == 'q' || op == 'r' ? memo_put(ld, le_uint(p, (int)n))
					      : memo_get(ld, le_uint(p, (int)n));
	case 0x94:          /* MEMOIZE */
		return memo_put(ld, ld->memo_count);
	case 0x95:          /* FRAME: only a hint for buffering */
		return need(ld, 8, &p);
	case 0x98:          /* READONLY_BUFFER */
		return top(ld) ? 0 : -1;
	case 0x97:
		return ld_fail(ld, "NEXT_BUFFER: out-of-band buffers are not "
			       "supported");
	case 0x82:
	case 0x83:
	case 0x84:
		return ld_fail(ld, "EXT opcodes (the copyreg extension "
			       "registry) are not supported");
	}
	return 1;
}

int ms_pickle_load(struct ms_pickle *p, const unsigned char *data,
		   size_t size, size_t base, const struct ms_pval **out,
		   size_t *used, struct ms_error *err)
{
	struct loader ld = { .p = p, .data = data, .size = size, .base = base,
			     .err = err };

	for (;;) {
		unsigned char op;
		int rc;

		ld.op_pos = ld.pos;
		if (ld.pos >= ld.size)
			return ld_fail(&ld, "truncated: no STOP opcode");
		op = data[ld.pos++];
		if (op == '.') {
			struct ms_pval *v = pop(&ld);

			if (v == NULL)
				return -1;
			*out = v;
			*used = ld.pos;
			return 0;
		}
		if (op == 0x80) {   /* PROTO */
			const unsigned char *q = NULL;

			if (need(&ld, 1, &q) < 0)
				return -1;
			if (q[0] > 5)
				return ld_fail(&ld, "unsupported pickle protocol %d",
					       q[0]);
			continue;
		}
		rc = op_scalar(&ld, op);
		if (rc == 1)
			rc = op_build(&ld, op);
		if (rc == 1)
			rc = op_control(&ld, op);
		if (rc == 1)
			return ld_fail(&ld, "unknown opcode 0x%02x", op);
		if (rc < 0)
			return -1;
	}
}
