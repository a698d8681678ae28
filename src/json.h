/* A small strict JSON parser (RFC 8259) for checkpoint headers: the whole
 * text is parsed into a tree, and errors carry the byte offset. */
#ifndef MS_JSON_H
#define MS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Containers may nest this deep; deeper text is rejected rather than
 * risking the stack. */
#define MS_JSON_MAX_DEPTH 64

enum ms_json_type {
	MS_JSON_NULL,
	MS_JSON_FALSE,
	MS_JSON_TRUE,
	MS_JSON_NUMBER,
	MS_JSON_STRING,
	MS_JSON_ARRAY,
	MS_JSON_OBJECT
};

/* One value. Object members are the ITEMS, each with its KEY set. */
struct ms_json {
	enum ms_json_type type;
	size_t offset;              /* of the value's first byte in the text */
	char *key;                  /* member name inside an object, or NULL */
	char *string;               /* STRING: decoded UTF-8, NUL-terminated */
	const char *number;         /* NUMBER: its text, NUMBER_LEN bytes */
	size_t number_len;
	struct ms_json *items;      /* ARRAY elements or OBJECT members */
	size_t count;
};

/* Parses the LEN bytes of TEXT, which must hold one value, optionally
 * surrounded by whitespace. Rejects invalid UTF-8, "\u0000" (names are C
 * strings), duplicate object keys and nesting deeper than
 * MS_JSON_MAX_DEPTH. Returns the tree (free it with ms_json_free(); number
 * texts point into TEXT), or NULL with *ERROR_OFFSET and *ERROR_WHAT set
 * (a static message such as "expected ':'"). Time and memory are linear in
 * LEN, apart from an O(n log n) sort to find duplicate keys. */
struct ms_json *ms_json_parse(const char *text, size_t len,
			      size_t *error_offset, const char **error_what);

/* Frees a tree from ms_json_parse(). Accepts NULL. */
void ms_json_free(struct ms_json *value);

/* Returns the member of object OBJ named KEY, or NULL when OBJ is not an
 * object or has no such member. Linear in the member count. */
const struct ms_json *ms_json_get(const struct ms_json *obj, const char *key);

/* Stores a NUMBER that is a nonnegative integer without fraction or
 * exponent in *OUT. Returns 0, or -1 when VALUE is not such a number or
 * exceeds UINT64_MAX. */
int ms_json_u64(const struct ms_json *value, uint64_t *out);

#endif
