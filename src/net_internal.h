/* The syntax tree of a network description, shared by the parser
 * (net_parse.c) and the builder (net_build.c). Not part of the public
 * core API. Every node lives in one arena and is freed with it. */
#ifndef MS_NET_INTERNAL_H
#define MS_NET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "model.h"

/* Bounds that keep any description within bounded time and memory. The
 * man page lists them. */
#define NET_MAX_TEXT (1 << 20)        /* bytes of description text */
#define NET_MAX_NESTING 32            /* nested blocks */
#define NET_MAX_EXPR_DEPTH 64         /* nested parentheses and operators */
#define NET_MAX_REPEAT 4096           /* iterations of one repeat */
#define NET_MAX_LAYERS 100000         /* layers after expansion */
#define NET_MAX_STEPS 10000000        /* statements executed */
#define NET_MAX_NAME 256              /* bytes of an expanded name */
#define NET_MAX_DIM ((int64_t)1 << 31) /* channels, height or width */
#define NET_MAX_ELEMENTS ((int64_t)1 << 40) /* elements of one activation */
#define NET_MAX_VARS 512              /* parameters and loop variables */

struct net_arena;

/* Allocates SIZE zeroed bytes that live until net_arena_free(). Returns
 * NULL when memory runs out. */
void *net_alloc(struct net_arena **arena, size_t size);
char *net_strndup(struct net_arena **arena, const char *s, size_t len);
void net_arena_free(struct net_arena **arena);

enum net_expr_kind {
	NE_NUM,
	NE_VAR,
	NE_NEG,
	NE_NOT,
	NE_BINARY
};

/* Binary operators other than the one-character ones (+ - * / % < >). */
enum {
	NE_OP_EQ = 256,
	NE_OP_NE,
	NE_OP_LE,
	NE_OP_GE,
	NE_OP_AND,
	NE_OP_OR,
	NE_OP_SHL,
	NE_OP_SHR
};

struct net_expr {
	enum net_expr_kind kind;
	int op;
	int64_t value;
	const char *var;
	struct net_expr *a, *b;
	int line, col;
};

/* A name: literal text and ${EXPR} pieces, concatenated when expanded. */
struct net_name_part {
	const char *text;        /* literal piece, or NULL */
	struct net_expr *expr;   /* interpolated piece, or NULL */
};

struct net_name {
	struct net_name_part *parts;
	size_t count;
	int line, col;
};

/* KEY=VALUE, or a bare flag word when VALUE is NULL. */
struct net_option {
	const char *key;
	struct net_expr *value;
	int line, col;
};

enum net_stmt_kind {
	NS_NET,
	NS_BASELINE,
	NS_PARAM,
	NS_LET,
	NS_INPUT,
	NS_DEFAULT,
	NS_LAYER,
	NS_BLOCK,
	NS_REPEAT,
	NS_RESIDUAL,
	NS_DENSE,
	NS_GATE,
	NS_IF
};

struct net_stmt;

struct net_block {
	struct net_stmt *items;
	size_t count;
};

struct net_stmt {
	enum net_stmt_kind kind;
	int line, col;
	enum ms_layer_kind layer;   /* NS_LAYER */
	struct net_name *name;      /* layer name, block prefix or net name */
	const char *ident;          /* parameter, loop variable or the
				     * baseline's track */
	struct net_expr *expr[3];   /* param or let value, input C H W,
				     * repeat count, if condition, the
				     * condition of a residual's add */
	struct net_option *opts;
	size_t nopts;
	struct net_block body;
	struct net_block alt;       /* shortcut of a residual, else branch */
	bool has_alt;
};

struct net_ast {
	struct net_arena *arena;
	struct net_block top;
};

/* Parses TEXT (LEN bytes) into AST. PATH is used in messages. Returns 0,
 * or -1 with ERR set to "PATH:LINE:COL: problem"; the arena is freed on
 * failure. */
int net_parse_text(const char *path, const char *text, size_t len,
		   struct net_ast *ast, struct ms_error *err);

/* A command-line parameter value that replaces a param's default. */
struct net_override {
	const char *name;
	int64_t value;
	bool used;
};

/* Expands AST into NET: evaluates parameters, repetitions and names,
 * infers shapes and binds tensors of CK (may be NULL). Returns 0, or -1
 * with ERR set; NET is then left for the caller to free. */
int net_build(const char *path, const struct net_ast *ast,
	      const struct ms_checkpoint *ck, struct net_override *overrides,
	      size_t noverrides, struct ms_net *net, struct ms_error *err);

/* ------------------------------------------------------------------ */
/* Builder state, shared by net_build.c (statements) and net_layers.c
 * (one layer: options, shapes, binding). */

struct net_var {
	const char *name;
	int64_t value;
};

/* Precision set by "default" and by layer options. */
struct net_prec {
	int weight_bits;       /* 0 when not set */
	bool weight_auto;      /* wbits=auto */
	int act_bits;
	bool act_signed;
	enum ms_accum accum;
};

/* The context of a statement: the name prefix of the enclosing blocks,
 * the precision defaults in force and the display depth. */
struct net_scope {
	const char *prefix;    /* "" at the top */
	struct net_prec prec;
	int depth;
	bool top;              /* directly in the file, outside any block */
	int *label_counts;     /* per layer kind, for labels under PREFIX */
};

struct net_builder {
	const char *path;
	const struct ms_checkpoint *ck;
	struct ms_net *net;
	size_t cap;            /* allocated entries of net->layers */
	size_t missing_cap;
	struct ms_error *err;
	struct net_var vars[NET_MAX_VARS];
	size_t nvars;
	struct net_override *overrides;
	size_t noverrides;
	bool *used;            /* per checkpoint tensor */
	bool have_input;
	const struct ms_shape *cur;  /* for in_c, in_h and in_w */
	long steps;
	struct net_arena *arena;  /* expanded names and label counters */
};

/* Formats "PATH:LINE:COL: problem" into the builder's error; returns -1. */
int net_fail(struct net_builder *b, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Evaluates E with the builder's variables. Returns 0, or -1 with the
 * error set (unknown name, division by zero, overflow). */
int net_eval(struct net_builder *b, const struct net_expr *e, int64_t *out);

/* Expands name N under PREFIX into a string in the builder's arena. */
const char *net_expand_name(struct net_builder *b, const char *prefix,
			    const struct net_name *n);

/* Runs layer statement ST on the activation shape *CUR, appending its
 * layer and updating *CUR. */
int net_build_layer(struct net_builder *b, const struct net_stmt *st,
		    const struct net_scope *sc, struct ms_shape *cur);

/* Appends a layer of KIND named NAME (copied) to the net. Returns its
 * index, or -1 with the error set at LINE:COL. */
long net_emit(struct net_builder *b, enum ms_layer_kind kind,
	      const char *name, bool has_tensors, const struct net_scope *sc,
	      int line, int col);

/* Returns a label for a layer without tensors: PREFIX.KIND, numbered from
 * the second one of that kind under the same prefix (quant2, or relu6_2
 * when the kind ends in a digit). */
const char *net_label(struct net_builder *b, const struct net_scope *sc,
		      enum ms_layer_kind kind, const char *word);

/* Applies precision option O (wbits, abits, signed, unsigned, accum) to P.
 * Returns 1 when O was a precision option, 0 when not, -1 on error. */
int net_apply_prec(struct net_builder *b, const struct net_option *o,
		   struct net_prec *p);

/* Returns true when E is the bare word WORD ("same", "auto", ...). */
bool net_is_word(const struct net_expr *e, const char *word);

/* Returns option KEY of ST, or NULL when it is not given. */
const struct net_option *net_find_opt(const struct net_stmt *st,
				      const char *key);

/* Evaluates option KEY into *OUT when present, checking MIN <= v <= MAX.
 * Returns 1 when present, 0 when absent, -1 on error. */
int net_int_opt(struct net_builder *b, const struct net_stmt *st,
		const char *key, int64_t min, int64_t max, int64_t *out);

/* Checks an output shape: at least 1 and at most the bounds in each
 * dimension. Returns 0, or -1 with an error naming layer NAME. */
int net_check_out(struct net_builder *b, const struct net_stmt *st,
		  const char *name, struct ms_shape in, struct ms_shape out);

/* Build the layer L (name, input shape and precision set) of statement
 * ST: bind its tensors, check their shapes and set its output shape. */
int net_build_conv(struct net_builder *b, const struct net_stmt *st,
		   struct ms_layer *l);
int net_build_linear(struct net_builder *b, const struct net_stmt *st,
		     struct ms_layer *l);
int net_build_scale(struct net_builder *b, const struct net_stmt *st,
		    struct ms_layer *l);
int net_build_bn(struct net_builder *b, const struct net_stmt *st,
		 struct ms_layer *l);

#endif
