/* Strict JSON parsing into a tree, by recursive descent with a depth
 * limit. */
#include "json.h"

#include <stdlib.h>
#include <string.h>

struct parser {
	const unsigned char *text;
	size_t pos, len;
	size_t error_offset;
	const char *error_what;
};

static int fail(struct parser *p, const char *what)
{
	if (p->error_what == NULL) {
		p->error_offset = p->pos;
		p->error_what = what;
	}
	return -1;
}

static void skip_space(struct parser *p)
{
	while (p->pos < p->len && (p->text[p->pos] == ' ' ||
				   p->text[p->pos] == '\t' ||
				   p->text[p->pos] == '\n' ||
				   p->text[p->pos] == '\r'))
		p->pos++;
}

static bool match(struct parser *p, const char *word)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->text + p->pos, word, n) != 0)
		return false;
	p->pos += n;
	return true;
}

static size_t count_digits(struct parser *p)
{
	size_t start = p->pos;

	while (p->pos < p->len && p->text[p->pos] >= '0' &&
	       p->text[p->pos] <= '9')
		p->pos++;
	return p->pos - start;
}

static int parse_number(struct parser *p, struct ms_json *v)
{
	size_t start = p->pos;

	if (p->pos < p->len && p->text[p->pos] == '-')
		p->pos++;
	if (p->pos < p->len && p->text[p->pos] == '0')
		p->pos++;
	else if (count_digits(p) == 0)
		return fail(p, "invalid number");
	if (p->pos < p->len && p->text[p->pos] == '.') {
		p->pos++;
		if (count_digits(p) == 0)
			return fail(p, "expected digits after '.'");
	}
	if (p->pos < p->len && (p->text[p->pos] == 'e' ||
				p->text[p->pos] == 'E')) {
		p->pos++;
		if (p->pos < p->len && (p->text[p->pos] == '+' ||
					p->text[p->pos] == '-'))
			p->pos++;
		if (count_digits(p) == 0)
			return fail(p, "expected digits in the exponent");
	}
	v->type = MS_JSON_NUMBER;
	v->number = (const char *)p->text + start;
	v->number_len = p->pos - start;
	return 0;
}

static int hex4(struct parser *p, unsigned *out)
{
	*out = 0;
	for (int i = 0; i < 4; i++, p->pos++) {
		int c = p->pos < p->len ? p->text[p->pos] : -1;

		*out <<= 4;
		if (c >= '0' && c <= '9')
			*out |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*out |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*out |= (unsigned)(c - 'A' + 10);
		else
			return fail(p, "invalid \\u escape");
	}
	return 0;
}

static size_t put_utf8(unsigned char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | cp >> 6);
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | cp >> 12);
		out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | cp >> 18);
	out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decodes the escape after a backslash into OUT; returns its length. */
static int parse_escape(struct parser *p, unsigned char *out, size_t *n)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *hit;
	unsigned cp, low;

	if (p->pos >= p->len)
		return fail(p, "unterminated string");
	hit = memchr(from, p->text[p->pos], 8);
	if (hit != NULL) {
		p->pos++;
		out[0] = (unsigned char)to[hit - from];
		*n = 1;
		return 0;
	}
	if (p->text[p->pos++] != 'u')
		return fail(p, "invalid escape");
	if (hex4(p, &cp))
		return -1;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return fail(p, "unpaired UTF-16 surrogate");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (!match(p, "\\u") || hex4(p, &low))
			return fail(p, "unpaired UTF-16 surrogate");
		if (low < 0xdc00 || low > 0xdfff)
			return fail(p, "unpaired UTF-16 surrogate");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
	}
	if (cp == 0)
		return fail(p, "\\u0000 is not allowed in strings");
	*n = put_utf8(out, cp);
	return 0;
}

/* Returns the length of the valid UTF-8 sequence at the cursor, or 0. */
static size_t utf8_length(const struct parser *p)
{
	const unsigned char *s = p->text + p->pos;
	size_t left = p->len - p->pos, n;
	unsigned cp;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	n = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (left < n)
		return 0;
	cp = s[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Parses a string at the opening quote into a malloc'd C string. */
static int parse_string(struct parser *p, char **out)
{
	unsigned char *buf;
	size_t n = 0;

	p->pos++;
	/* Decoded text is never longer than the source text. */
	buf = malloc(p->len - p->pos + 1);
	if (buf == NULL)
		return fail(p, "out of memory");
	for (;;) {
		unsigned char c;
		size_t used;

		if (p->pos >= p->len) {
			free(buf);
			return fail(p, "unterminated string");
		}
		c = p->text[p->pos];
		if (c == '"')
			break;
		if (c < 0x20) {
			free(buf);
			return fail(p, "control character in string");
		}
		if (c == '\\') {
			p->pos++;
			if (parse_escape(p, buf + n, &used)) {
				free(buf);
				return -1;
			}
			n += used;
			continue;
		}
		used = c < 0x80 ? 1 : utf8_length(p);
		if (used == 0) {
			free(buf);
			return fail(p, "invalid UTF-8 in string");
		}
		memcpy(buf + n, p->text + p->pos, used);
		n += used;
		p->pos += used;
	}
	p->pos++;
	buf[n] = '\0';
	*out = (char *)buf;
	return 0;
}

static int parse_value(struct parser *p, struct ms_json *v, int depth);

/* Appends a zeroed item to V, growing its array geometrically. */
static struct ms_json *add_item(struct parser *p, struct ms_json *v,
				size_t *capacity)
{
	if (v->count == *capacity) {
		size_t more = *capacity ? *capacity * 2 : 4;
		struct ms_json *items;

		if (more > SIZE_MAX / sizeof *items)
			return fail(p, "out of memory"), NULL;
		items = realloc(v->items, more * sizeof *items);
		if (items == NULL)
			return fail(p, "out of memory"), NULL;
		v->items = items;
		*capacity = more;
	}
	memset(&v->items[v->count], 0, sizeof v->items[0]);
	return &v->items[v->count++];
}

static int compare_keys(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Rejects an object with two members of the same name. */
static int check_duplicates(struct parser *p, const struct ms_json *v)
{
	const char **keys;
	int rc = 0;

	if (v->count < 2)
		return 0;
	keys = malloc(v->count * sizeof *keys);
	if (keys == NULL)
		return fail(p, "out of memory");
	for (size_t i = 0; i < v->count; i++)
		keys[i] = v->items[i].key;
	qsort(keys, v->count, sizeof *keys, compare_keys);
	for (size_t i = 1; i < v->count && rc == 0; i++) {
		if (strcmp(keys[i - 1], keys[i]) != 0)
			continue;
		for (size_t j = 0; j < v->count; j++)
			if (v->items[j].key == keys[i])
				p->pos = v->items[j].offset;
		rc = fail(p, "duplicate object key");
	}
	free(keys);
	return rc;
}

/* Parses an array or object after its opening bracket. */
static int parse_container(struct parser *p, struct ms_json *v, int depth)
{
	bool object = p->text[p->pos] == '{';
	char close = object ? '}' : ']';
	size_t capacity = 0;

	if (depth >= MS_JSON_MAX_DEPTH)
		return fail(p, "nesting is too deep");
	v->type = object ? MS_JSON_OBJECT : MS_JSON_ARRAY;
	p->pos++;
	skip_space(p);
	if (p->pos < p->len && p->text[p->pos] == close) {
		p->pos++;
		return 0;
	}
	for (;;) {
		struct ms_json *item = add_item(p, v, &capacity);
		char *key = NULL;

		if (item == NULL)
			return -1;
		skip_space(p);
		if (object) {
			if (p->pos >= p->len || p->text[p->pos] != '"')
				return fail(p, "expected a string key");
			if (parse_string(p, &key))
				return -1;
			item->key = key;
			skip_space(p);
			if (!match(p, ":"))
				return fail(p, "expected ':'");
			skip_space(p);
		}
		if (parse_value(p, item, depth + 1))
			return -1;
		skip_space(p);
		if (match(p, ","))
			continue;
		if (p->pos < p->len && p->text[p->pos] == close)
			break;
		return fail(p, object ? "expected ',' or '}'" :
			    "expected ',' or ']'");
	}
	p->pos++;
	return object ? check_duplicates(p, v) : 0;
}

static int parse_value(struct parser *p, struct ms_json *v, int depth)
{
	unsigned char c;

	v->offset = p->pos;
	if (p->pos >= p->len)
		return fail(p, "expected a value");
	c = p->text[p->pos];
	if (c == '{' || c == '[')
		return parse_container(p, v, depth);
	if (c == '"') {
		v->type = MS_JSON_STRING;
		return parse_string(p, &v->string);
	}
	if (c == '-' || (c >= '0' && c <= '9'))
		return parse_number(p, v);
	if (match(p, "null"))
		v->type = MS_JSON_NULL;
	else if (match(p, "true"))
		v->type = MS_JSON_TRUE;
	else if (match(p, "false"))
		v->type = MS_JSON_FALSE;
	else
		return fail(p, "expected a value");
	return 0;
}

static void free_contents(struct ms_json *v)
{
	for (size_t i = 0; i < v->count; i++)
		free_contents(&v->items[i]);
	free(v->items);
	free(v->key);
	free(v->string);
}

struct ms_json *ms_json_parse(const char *text, size_t len,
			      size_t *error_offset, const char **error_what)
{
	struct parser p = { (const unsigned char *)text, 0, len, 0, NULL };
	struct ms_json *v = calloc(1, sizeof *v);

	if (v == NULL) {
		*error_offset = 0;
		*error_what = "out of memory";
		return NULL;
	}
	skip_space(&p);
	if (parse_value(&p, v, 0) == 0) {
		skip_space(&p);
		if (p.pos != p.len)
			fail(&p, "unexpected text after the value");
	}
	if (p.error_what != NULL) {
		*error_offset = p.error_offset;
		*error_what = p.error_what;
		ms_json_free(v);
		return NULL;
	}
	return v;
}

void ms_json_free(struct ms_json *value)
{
	if (value == NULL)
		return;
	free_contents(value);
	free(value);
}

const struct ms_json *ms_json_get(const struct ms_json *obj, const char *key)
{
	if (obj == NULL || obj->type != MS_JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->count; i++)
		if (strcmp(obj->items[i].key, key) == 0)
			return &obj->items[i];
	return NULL;
}

int ms_json_u64(const struct ms_json *value, uint64_t *out)
{
	uint64_t v = 0;

	if (value == NULL || value->type != MS_JSON_NUMBER)
		return -1;
	for (size_t i = 0; i < value->number_len; i++) {
		unsigned digit = (unsigned char)value->number[i] - '0';

		if (digit > 9 || v > (UINT64_MAX - digit) / 10)
			return -1;
		v = v * 10 + digit;
	}
	*out = v;
	return 0;
}
