/* Lexer and recursive-descent parser for network descriptions: text to a
 * syntax tree (net_internal.h). The grammar is in microscore-net(5). */
#include "net_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Arena */

struct net_arena {
	struct net_arena *next;
	size_t used, size;
	max_align_t data[];
};

void *net_alloc(struct net_arena **arena, size_t size)
{
	struct net_arena *a = *arena;
	size_t align = sizeof(max_align_t);

	size = (size + align - 1) / align * align;
	if (size == 0)
		size = align;
	if (a == NULL || a->size - a->used < size) {
		size_t chunk = size > 65536 ? size : 65536;

		a = malloc(sizeof *a + chunk);
		if (a == NULL)
			return NULL;
		a->next = *arena;
		a->used = 0;
		a->size = chunk;
		*arena = a;
	}
	void *p = (char *)a->data + a->used;
	a->used += size;
	memset(p, 0, size);
	return p;
}

char *net_strndup(struct net_arena **arena, const char *s, size_t len)
{
	char *d = net_alloc(arena, len + 1);

	if (d != NULL) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

void net_arena_free(struct net_arena **arena)
{
	while (*arena != NULL) {
		struct net_arena *next = (*arena)->next;

		free(*arena);
		*arena = next;
	}
}

/* ------------------------------------------------------------------ */
/* Lexer */

enum tok {
	T_EOF,
	T_NL,        /* end of line or ';' */
	T_INT,
	T_IDENT,
	T_OP,        /* operator; see struct token.op */
	T_LBRACE,
	T_RBRACE,
	T_LPAREN,
	T_RPAREN,
	T_ASSIGN,
	T_BAD
};

struct token {
	enum tok kind;
	int op;
	int64_t value;
	const char *start;
	size_t len;
	int line, col;
};

struct parser {
	const char *path;
	const char *s;
	size_t len, pos;
	int line;
	size_t line_start;
	struct token tok;
	bool peeked;
	size_t tok_pos;          /* where the peeked token starts */
	int tok_line;
	size_t tok_line_start;
	struct net_arena *arena;
	struct ms_error *err;
	int nesting;
	int expr_depth;
};

static int col_of(size_t pos, size_t line_start)
{
	return (int)(pos - line_start) + 1;
}

static int fail_at(struct parser *p, int line, int col, const char *fmt,
		   ...) __attribute__((format(printf, 4, 5)));

static int fail_at(struct parser *p, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ms_vfail_at(p->err, p->path, line, col, fmt, ap);
	va_end(ap);
	return -1;
}

static int fail_oom(struct parser *p)
{
	return fail_at(p, p->line, col_of(p->pos, p->line_start),
		       "out of memory");
}

/* Skips blanks, comments and backslash-newline continuations, but not
 * the newline that ends a statement. */
static void skip_blanks(struct parser *p)
{
	while (p->pos < p->len) {
		char c = p->s[p->pos];

		if (c == ' ' || c == '\t' || c == '\r') {
			p->pos++;
		} else if (c == '#') {
			while (p->pos < p->len && p->s[p->pos] != '\n')
				p->pos++;
		} else if (c == '\\' && p->pos + 1 < p->len &&
			   p->s[p->pos + 1] == '\n') {
			p->pos += 2;
			p->line++;
			p->line_start = p->pos;
		} else {
			break;
		}
	}
}

static bool is_ident_start(int c)
{
	return isalpha(c) || c == '_';
}

static bool is_ident_char(int c)
{
	return isalnum(c) || c == '_';
}

static bool is_name_char(int c)
{
	return isalnum(c) || c == '_' || c == '.' || c == '-' || c == '/' ||
	       c == ':';
}

static int two_char_op(const char *s, size_t left)
{
	static const struct {
		char text[3];
		int op;
	} ops[] = {
		{ "==", NE_OP_EQ }, { "!=", NE_OP_NE }, { "<=", NE_OP_LE },
		{ ">=", NE_OP_GE }, { "&&", NE_OP_AND }, { "||", NE_OP_OR },
		{ "<<", NE_OP_SHL }, { ">>", NE_OP_SHR },
	};

	if (left < 2)
		return 0;
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (s[0] == ops[i].text[0] && s[1] == ops[i].text[1])
			return ops[i].op;
	return 0;
}

static void lex(struct parser *p, struct token *t)
{
	skip_blanks(p);
	memset(t, 0, sizeof *t);
	t->start = p->s + p->pos;
	t->line = p->line;
	t->col = col_of(p->pos, p->line_start);
	if (p->pos >= p->len) {
		t->kind = T_EOF;
		return;
	}

	const char *s = p->s + p->pos;
	size_t left = p->len - p->pos;
	int c = (unsigned char)s[0];
	size_t n = 1;

	if (c == '\n' || c == ';') {
		t->kind = T_NL;
	} else if (isdigit(c)) {
		int64_t v = 0;

		t->kind = T_INT;
		for (n = 0; n < left && isdigit((unsigned char)s[n]); n++) {
			if (t->kind == T_BAD)
				continue;
			if (v > (INT64_MAX - (s[n] - '0')) / 10) {
				t->kind = T_BAD;
				t->op = 'O';
				continue;
			}
			v = v * 10 + (s[n] - '0');
		}
		t->value = v;
	} else if (is_ident_start(c)) {
		t->kind = T_IDENT;
		for (n = 0; n < left && is_ident_char((unsigned char)s[n]); n++)
			;
	} else if ((t->op = two_char_op(s, left)) != 0) {
		t->kind = T_OP;
		n = 2;
	} else if (strchr("+-*/%<>!", c) != NULL) {
		t->kind = T_OP;
		t->op = c;
	} else if (c == '{') {
		t->kind = T_LBRACE;
	} else if (c == '}') {
		t->kind = T_RBRACE;
	} else if (c == '(') {
		t->kind = T_LPAREN;
	} else if (c == ')') {
		t->kind = T_RPAREN;
	} else if (c == '=') {
		t->kind = T_ASSIGN;
	} else {
		t->kind = T_BAD;
	}
	t->len = n;
	p->pos += n;
	if (c == '\n') {
		p->line++;
		p->line_start = p->pos;
	}
}

static const struct token *peek(struct parser *p)
{
	if (!p->peeked) {
		p->tok_pos = p->pos;
		p->tok_line = p->line;
		p->tok_line_start = p->line_start;
		lex(p, &p->tok);
		p->peeked = true;
	}
	return &p->tok;
}

static struct token next(struct parser *p)
{
	peek(p);
	p->peeked = false;
	return p->tok;
}

/* Forgets a peeked token, so that raw (name) lexing starts where it did. */
static void unpeek(struct parser *p)
{
	if (p->peeked) {
		p->pos = p->tok_pos;
		p->line = p->tok_line;
		p->line_start = p->tok_line_start;
		p->peeked = false;
	}
}

/* Describes token T for a message: "'text'", "end of line" or "end of
 * file". */
static const char *tok_text(const struct token *t, char *buf, size_t size)
{
	if (t->kind == T_EOF)
		return "end of file";
	if (t->kind == T_NL && t->start[0] == '\n')
		return "end of line";
	if (t->kind == T_BAD && !isprint((unsigned char)t->start[0])) {
		snprintf(buf, size, "byte 0x%02x",
			 (unsigned)(unsigned char)t->start[0]);
		return buf;
	}
	snprintf(buf, size, "'%.*s'", (int)(t->len > 24 ? 24 : t->len),
		 t->start);
	return buf;
}

static int fail_tok(struct parser *p, const struct token *t,
		    const char *expected)
{
	char buf[40];

	if (t->kind == T_BAD && t->op == 'O')
		return fail_at(p, t->line, t->col,
			       "integer '%.*s' is too large", (int)t->len,
			       t->start);
	return fail_at(p, t->line, t->col, "expected %s but found %s",
		       expected, tok_text(t, buf, sizeof buf));
}

/* ------------------------------------------------------------------ */
/* Expressions */

static struct net_expr *new_expr(struct parser *p, enum net_expr_kind kind,
				 const struct token *t)
{
	struct net_expr *e = net_alloc(&p->arena, sizeof *e);

	if (e == NULL) {
		fail_oom(p);
		return NULL;
	}
	e->kind = kind;
	e->line = t->line;
	e->col = t->col;
	return e;
}

static struct net_expr *parse_expr_level(struct parser *p, int level);

static struct net_expr *parse_primary(struct parser *p)
{
	struct token t = next(p);
	struct net_expr *e;

	switch (t.kind) {
	case T_INT:
		e = new_expr(p, NE_NUM, &t);
		if (e != NULL)
			e->value = t.value;
		return e;
	case T_IDENT:
		e = new_expr(p, NE_VAR, &t);
		if (e != NULL)
			e->var = net_strndup(&p->arena, t.start, t.len);
		if (e != NULL && e->var == NULL) {
			fail_oom(p);
			return NULL;
		}
		return e;
	case T_LPAREN:
		e = parse_expr_level(p, 0);
		if (e == NULL)
			return NULL;
		t = next(p);
		if (t.kind != T_RPAREN) {
			fail_tok(p, &t, "')'");
			return NULL;
		}
		return e;
	case T_OP:
		if (t.op == '-' || t.op == '!') {
			e = new_expr(p, t.op == '-' ? NE_NEG : NE_NOT, &t);
			if (e == NULL)
				return NULL;
			if (++p->expr_depth > NET_MAX_EXPR_DEPTH) {
				fail_at(p, t.line, t.col,
					"expression nested deeper than %d",
					NET_MAX_EXPR_DEPTH);
				return NULL;
			}
			e->a = parse_primary(p);
			p->expr_depth--;
			return e->a != NULL ? e : NULL;
		}
		break;
	default:
		break;
	}
	fail_tok(p, &t, "a number, a parameter or '('");
	return NULL;
}

/* Binding strength of operator OP: higher binds tighter; 0 when OP is
 * not a binary operator. */
static int op_level(int op)
{
	switch (op) {
	case NE_OP_OR:
		return 1;
	case NE_OP_AND:
		return 2;
	case NE_OP_EQ: case NE_OP_NE: case '<': case '>':
	case NE_OP_LE: case NE_OP_GE:
		return 3;
	case NE_OP_SHL: case NE_OP_SHR:
		return 4;
	case '+': case '-':
		return 5;
	case '*': case '/': case '%':
		return 6;
	default:
		return 0;
	}
}

/* Parses operators of binding strength above LEVEL, left to right. */
static struct net_expr *parse_expr_level(struct parser *p, int level)
{
	const struct token *t = peek(p);
	struct net_expr *left;

	if (++p->expr_depth > NET_MAX_EXPR_DEPTH) {
		fail_at(p, t->line, t->col, "expression nested deeper than %d",
			NET_MAX_EXPR_DEPTH);
		return NULL;
	}
	left = parse_primary(p);
	while (left != NULL) {
		t = peek(p);
		if (t->kind != T_OP || op_level(t->op) <= level)
			break;

		struct token op = next(p);
		struct net_expr *e = new_expr(p, NE_BINARY, &op);

		if (e == NULL)
			return NULL;
		e->op = op.op;
		e->a = left;
		e->b = parse_expr_level(p, op_level(op.op));
		if (e->b == NULL)
			return NULL;
		left = e;
	}
	p->expr_depth--;
	return left;
}

static struct net_expr *parse_expr(struct parser *p)
{
	return parse_expr_level(p, 0);
}

/* ------------------------------------------------------------------ */
/* Names */

/* Words that are flags, never a layer name, when they follow a keyword. */
static bool is_flag_word(const char *s, size_t n)
{
	static const char *const flags[] = {
		"bias", "nobias", "ceil", "signed", "unsigned", "depthwise",
		"noaffine",
	};

	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
		if (strlen(flags[i]) == n && memcmp(flags[i], s, n) == 0)
			return true;
	return false;
}

/* Looks ahead without consuming: does a name follow, rather than an
 * option (KEY=...), a flag, or the end of the statement? */
static bool name_follows(struct parser *p)
{
	unpeek(p);
	skip_blanks(p);

	size_t i = p->pos;
	const char *s = p->s;
	bool plain = true;

	if (i < p->len && s[i] == '"')
		return true;
	if (i >= p->len || !(isalnum((unsigned char)s[i]) || s[i] == '_' ||
			     (s[i] == '$' && i + 1 < p->len && s[i + 1] == '{')))
		return false;
	while (i < p->len) {
		if (s[i] == '$' && i + 1 < p->len && s[i + 1] == '{') {
			int braces = 0;

			plain = false;
			for (i++; i < p->len && s[i] != '\n'; i++) {
				if (s[i] == '{')
					braces++;
				else if (s[i] == '}' && --braces == 0)
					break;
			}
			if (i < p->len && s[i] == '}')
				i++;
		} else if (is_name_char((unsigned char)s[i])) {
			if (!is_ident_char((unsigned char)s[i]))
				plain = false;
			i++;
		} else {
			break;
		}
	}
	if (plain && (is_flag_word(s + p->pos, i - p->pos) ||
		      (i - p->pos == 2 && memcmp(s + p->pos, "if", 2) == 0)))
		return false;
	while (i < p->len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return !(i < p->len && s[i] == '=' && (i + 1 >= p->len ||
					       s[i + 1] != '='));
}

static int add_part(struct parser *p, struct net_name *n, const char *text,
		    size_t len, struct net_expr *expr)
{
	struct net_name_part *parts;

	if (text != NULL && len == 0)
		return 0;
	parts = net_alloc(&p->arena, (n->count + 1) * sizeof *parts);
	if (parts == NULL)
		return fail_oom(p);
	if (n->count > 0)
		memcpy(parts, n->parts, n->count * sizeof *parts);
	if (text != NULL) {
		parts[n->count].text = net_strndup(&p->arena, text, len);
		if (parts[n->count].text == NULL)
			return fail_oom(p);
	}
	parts[n->count].expr = expr;
	n->parts = parts;
	n->count++;
	return 0;
}

static int parse_quoted(struct parser *p, struct net_name *n)
{
	size_t start = ++p->pos;

	while (p->pos < p->len && p->s[p->pos] != '"' &&
	       p->s[p->pos] != '\n')
		p->pos++;
	if (p->pos >= p->len || p->s[p->pos] != '"')
		return fail_at(p, n->line, n->col,
			       "quoted name is not closed on its line");
	if (p->pos == start)
		return fail_at(p, n->line, n->col, "quoted name is empty");
	if (add_part(p, n, p->s + start, p->pos - start, NULL) < 0)
		return -1;
	p->pos++;
	return 0;
}

/* Parses a name at the current position: name characters and ${EXPR}
 * pieces, or a "quoted" literal. */
static struct net_name *parse_name(struct parser *p, const char *what)
{
	struct net_name *n;

	unpeek(p);
	skip_blanks(p);
	n = net_alloc(&p->arena, sizeof *n);
	if (n == NULL) {
		fail_oom(p);
		return NULL;
	}
	n->line = p->line;
	n->col = col_of(p->pos, p->line_start);
	if (p->pos < p->len && p->s[p->pos] == '"')
		return parse_quoted(p, n) < 0 ? NULL : n;

	for (;;) {
		size_t start = p->pos;

		while (p->pos < p->len &&
		       is_name_char((unsigned char)p->s[p->pos]))
			p->pos++;
		if (add_part(p, n, p->s + start, p->pos - start, NULL) < 0)
			return NULL;
		if (!(p->pos + 1 < p->len && p->s[p->pos] == '$' &&
		      p->s[p->pos + 1] == '{'))
			break;
		p->pos += 2;

		struct net_expr *e = parse_expr(p);
		struct token t;

		if (e == NULL)
			return NULL;
		t = next(p);
		if (t.kind != T_RBRACE) {
			fail_tok(p, &t, "'}' to close '${'");
			return NULL;
		}
		if (add_part(p, n, NULL, 0, e) < 0)
			return NULL;
	}
	if (n->count == 0) {
		struct token t = next(p);

		fail_tok(p, &t, what);
		return NULL;
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* Statements */

static int parse_block(struct parser *p, struct net_block *b, bool top,
		       int open_line, int open_col);

static int parse_options(struct parser *p, struct net_stmt *st)
{
	for (;;) {
		const struct token *t = peek(p);

		if (t->kind == T_NL || t->kind == T_EOF ||
		    t->kind == T_RBRACE || t->kind == T_LBRACE)
			return 0;
		if (t->kind != T_IDENT)
			return fail_tok(p, t, "an option (KEY=VALUE or a flag)");

		struct token key = next(p);
		struct net_option *opts;

		opts = net_alloc(&p->arena, (st->nopts + 1) * sizeof *opts);
		if (opts == NULL)
			return fail_oom(p);
		if (st->nopts > 0)
			memcpy(opts, st->opts, st->nopts * sizeof *opts);
		st->opts = opts;
		opts += st->nopts++;
		opts->key = net_strndup(&p->arena, key.start, key.len);
		if (opts->key == NULL)
			return fail_oom(p);
		opts->line = key.line;
		opts->col = key.col;
		if (peek(p)->kind == T_ASSIGN) {
			next(p);
			opts->value = parse_expr(p);
			if (opts->value == NULL)
				return -1;
		}
	}
}

static int expect_lbrace(struct parser *p, struct net_block *b)
{
	struct token t = next(p);

	if (t.kind != T_LBRACE)
		return fail_tok(p, &t, "'{'");
	if (++p->nesting > NET_MAX_NESTING)
		return fail_at(p, t.line, t.col, "blocks nested deeper than %d",
			       NET_MAX_NESTING);
	if (parse_block(p, b, false, t.line, t.col) < 0)
		return -1;
	p->nesting--;
	return 0;
}

/* Skips end-of-line tokens and reports whether the next token is the
 * identifier WORD; consumes it if so. */
static bool accept_word_after_lines(struct parser *p, const char *word)
{
	const struct token *t;

	unpeek(p);

	size_t pos = p->pos, line_start = p->line_start;
	int line = p->line;

	while ((t = peek(p))->kind == T_NL && t->start[0] == '\n')
		next(p);
	if (t->kind == T_IDENT && t->len == strlen(word) &&
	    memcmp(t->start, word, t->len) == 0) {
		next(p);
		return true;
	}
	p->peeked = false;
	p->pos = pos;
	p->line = line;
	p->line_start = line_start;
	return false;
}

static bool word_is(const struct token *t, const char *word)
{
	return t->len == strlen(word) && memcmp(t->start, word, t->len) == 0;
}

static int layer_kind_of(const struct token *t)
{
	for (int k = 0; k < MS_LAYER_KIND_COUNT; k++)
		if (word_is(t, ms_layer_kind_name(k)))
			return k;
	return -1;
}

static int parse_compound(struct parser *p, struct net_stmt *st,
			  const struct token *kw)
{
	if (word_is(kw, "repeat")) {
		struct token v = next(p);

		st->kind = NS_REPEAT;
		if (v.kind != T_IDENT)
			return fail_tok(p, &v, "a loop variable name");
		st->ident = net_strndup(&p->arena, v.start, v.len);
		if (st->ident == NULL)
			return fail_oom(p);
		st->expr[0] = parse_expr(p);
		if (st->expr[0] == NULL)
			return -1;
		return expect_lbrace(p, &st->body);
	}
	if (word_is(kw, "if")) {
		st->kind = NS_IF;
		st->expr[0] = parse_expr(p);
		if (st->expr[0] == NULL || expect_lbrace(p, &st->body) < 0)
			return -1;
		if (accept_word_after_lines(p, "else")) {
			st->has_alt = true;
			return expect_lbrace(p, &st->alt);
		}
		return 0;
	}

	/* block, residual, dense, gate: an optional name prefix */
	if (word_is(kw, "block"))
		st->kind = NS_BLOCK;
	else if (word_is(kw, "residual"))
		st->kind = NS_RESIDUAL;
	else if (word_is(kw, "dense"))
		st->kind = NS_DENSE;
	else
		st->kind = NS_GATE;
	if (name_follows(p)) {
		st->name = parse_name(p, "a name prefix");
		if (st->name == NULL)
			return -1;
	}
	if (st->kind == NS_RESIDUAL && peek(p)->kind == T_IDENT &&
	    word_is(peek(p), "if")) {
		next(p);
		st->expr[0] = parse_expr(p);
		if (st->expr[0] == NULL)
			return -1;
	}
	if (expect_lbrace(p, &st->body) < 0)
		return -1;
	if (st->kind == NS_RESIDUAL && accept_word_after_lines(p, "shortcut")) {
		st->has_alt = true;
		return expect_lbrace(p, &st->alt);
	}
	return 0;
}

static int parse_simple(struct parser *p, struct net_stmt *st,
			const struct token *kw)
{
	if (word_is(kw, "net")) {
		st->kind = NS_NET;
		st->name = parse_name(p, "a network name");
		return st->name == NULL ? -1 : 0;
	}
	if (word_is(kw, "baseline")) {
		struct token v = next(p);

		st->kind = NS_BASELINE;
		if (v.kind != T_IDENT)
			return fail_tok(p, &v, "cifar100 or imagenet");
		if (!word_is(&v, "cifar100") && !word_is(&v, "imagenet"))
			return fail_at(p, v.line, v.col, "unknown baseline "
				       "'%.*s': expected cifar100 or imagenet",
				       (int)(v.len > 24 ? 24 : v.len), v.start);
		st->ident = word_is(&v, "imagenet") ? "imagenet" : "cifar100";
		return 0;
	}
	if (word_is(kw, "param") || word_is(kw, "let")) {
		struct token v = next(p), eq;

		st->kind = word_is(kw, "let") ? NS_LET : NS_PARAM;
		if (v.kind != T_IDENT)
			return fail_tok(p, &v, st->kind == NS_LET ?
					"a variable name" : "a parameter name");
		st->ident = net_strndup(&p->arena, v.start, v.len);
		if (st->ident == NULL)
			return fail_oom(p);
		eq = next(p);
		if (eq.kind != T_ASSIGN)
			return fail_tok(p, &eq, "'=' after the name");
		st->expr[0] = parse_expr(p);
		return st->expr[0] == NULL ? -1 : 0;
	}
	if (word_is(kw, "input")) {
		st->kind = NS_INPUT;
		for (int i = 0; i < 3; i++) {
			st->expr[i] = parse_expr(p);
			if (st->expr[i] == NULL)
				return -1;
		}
		return 0;
	}
	if (word_is(kw, "default")) {
		st->kind = NS_DEFAULT;
		return parse_options(p, st);
	}

	int kind = layer_kind_of(kw);

	if (kind < 0)
		return fail_at(p, kw->line, kw->col,
			       "unknown statement '%.*s': expected a layer kind "
			       "or a keyword (see microscore-net(5))",
			       (int)(kw->len > 24 ? 24 : kw->len), kw->start);
	st->kind = NS_LAYER;
	st->layer = (enum ms_layer_kind)kind;
	if (name_follows(p)) {
		st->name = parse_name(p, "a layer name");
		if (st->name == NULL)
			return -1;
	}
	return parse_options(p, st);
}

static bool is_compound(const struct token *t)
{
	return word_is(t, "block") || word_is(t, "residual") ||
	       word_is(t, "dense") || word_is(t, "gate") ||
	       word_is(t, "repeat") || word_is(t, "if");
}

static int parse_stmt(struct parser *p, struct net_stmt *st)
{
	struct token kw = next(p);
	const struct token *t;

	if (kw.kind != T_IDENT)
		return fail_tok(p, &kw, "a statement");
	st->line = kw.line;
	st->col = kw.col;
	if (word_is(&kw, "shortcut") || word_is(&kw, "else"))
		return fail_at(p, kw.line, kw.col,
			       "'%s' must follow the '}' of a %s block",
			       word_is(&kw, "else") ? "else" : "shortcut",
			       word_is(&kw, "else") ? "if" : "residual");
	if (is_compound(&kw) ? parse_compound(p, st, &kw) < 0 :
	    parse_simple(p, st, &kw) < 0)
		return -1;
	t = peek(p);
	if (t->kind != T_NL && t->kind != T_EOF && t->kind != T_RBRACE)
		return fail_tok(p, t, "the end of the statement");
	return 0;
}

static int parse_block(struct parser *p, struct net_block *b, bool top,
		       int open_line, int open_col)
{
	size_t cap = 0;

	for (;;) {
		const struct token *t = peek(p);

		if (t->kind == T_NL) {
			next(p);
			continue;
		}
		if (t->kind == T_EOF) {
			if (top)
				return 0;
			return fail_at(p, t->line, t->col,
				       "expected '}' to close the block opened "
				       "at %d:%d", open_line, open_col);
		}
		if (t->kind == T_RBRACE) {
			if (!top) {
				next(p);
				return 0;
			}
			return fail_at(p, t->line, t->col,
				       "'}' without a matching '{'");
		}
		if (b->count == cap) {
			struct net_stmt *items;

			cap = cap ? 2 * cap : 8;
			items = net_alloc(&p->arena, cap * sizeof *items);
			if (items == NULL)
				return fail_oom(p);
			if (b->count > 0)
				memcpy(items, b->items,
				       b->count * sizeof *items);
			b->items = items;
		}
		if (parse_stmt(p, &b->items[b->count]) < 0)
			return -1;
		b->count++;
	}
}

int net_parse_text(const char *path, const char *text, size_t len,
		   struct net_ast *ast, struct ms_error *err)
{
	struct parser p;

	memset(ast, 0, sizeof *ast);
	memset(&p, 0, sizeof p);
	p.path = path;
	p.s = text;
	p.len = len;
	p.line = 1;
	p.err = err;
	if (len > NET_MAX_TEXT)
		return ms_fail(err, "%s: description is longer than %d bytes",
			       path, NET_MAX_TEXT);
	for (size_t i = 0; i < len; i++)
		if (text[i] == '\0') {
			size_t ls = i;

			while (ls > 0 && text[ls - 1] != '\n')
				ls--;
			p.line = 1;
			for (size_t j = 0; j < ls; j++)
				p.line += text[j] == '\n';
			return fail_at(&p, p.line, (int)(i - ls) + 1,
				       "NUL byte in the description");
		}
	if (parse_block(&p, &ast->top, true, 0, 0) < 0) {
		net_arena_free(&p.arena);
		return -1;
	}
	ast->arena = p.arena;
	return 0;
}
