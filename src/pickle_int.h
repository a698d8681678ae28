/* Internals shared by the pickle interpreter's files: the value arena and
 * the state of one load. */
#ifndef MS_PICKLE_INT_H
#define MS_PICKLE_INT_H

#include "pickle.h"

struct arena_block;

struct ms_pickle {
	const char *path;
	size_t limit;                /* bytes the arena may hold in total */
	size_t used;
	struct arena_block *blocks;
	struct ms_pseq persids;      /* every PERSID value built */
};

struct memo_slot {
	uint64_t key_plus_one;       /* 0 marks an empty slot */
	struct ms_pval *value;
};

/* The state of one ms_pickle_load() call. */
struct loader {
	struct ms_pickle *p;
	const unsigned char *data;
	size_t size, pos;
	size_t op_pos;               /* offset of the opcode being run */
	size_t base;                 /* file offset of data[0] */
	struct ms_pval **stack;
	size_t sp, stack_cap;
	size_t *marks;               /* stack heights saved by MARK */
	size_t mark_count, mark_cap;
	struct memo_slot *memo;
	size_t memo_mask, memo_count;
	struct ms_error *err;
};

/* Formats "PATH: pickle at byte N: MESSAGE" into the loader's error and
 * returns -1. */
int ld_fail(struct loader *ld, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Allocates N zeroed bytes that live until ms_pickle_free(), or fails
 * the load when the memory limit would be passed. */
void *ld_alloc(struct loader *ld, size_t n);

/* Allocates a value of KIND, or returns NULL with the error set. */
struct ms_pval *ld_value(struct loader *ld, enum ms_pkind kind);

/* Appends V to SEQ, or returns -1 with the error set. */
int ld_seq_push(struct loader *ld, struct ms_pseq *seq, struct ms_pval *v);

/* Makes a str value holding a NUL-terminated copy of S[0..N). */
struct ms_pval *ld_str(struct loader *ld, const char *s, size_t n);

/* Applies REDUCE, NEWOBJ and BUILD semantics (pickle_call.c): calling
 * FUNC with ARGS, or setting STATE on OBJ. Each stores the result in *OUT
 * and returns 0, or returns -1 with the error set. */
int ld_reduce(struct loader *ld, struct ms_pval *func, struct ms_pval *args,
	      struct ms_pval **out);
int ld_newobj(struct loader *ld, struct ms_pval *cls, struct ms_pval **out);
int ld_build(struct loader *ld, struct ms_pval *obj, struct ms_pval *state);

/* Makes a placeholder for an object that calling or building MODULE.NAME
 * would have made. */
struct ms_pval *ld_placeholder(struct loader *ld, const char *module,
			       const char *name);

/* Decode the text operands of STRING (a quoted Python 2 literal with
 * backslash escapes) and UNICODE (raw-unicode-escape) into str values. */
struct ms_pval *ld_decode_string(struct loader *ld, const char *s, size_t n);
struct ms_pval *ld_decode_unicode(struct loader *ld, const char *s, size_t n);

#endif
