/* The explorer's key bindings as data: one table that the key dispatcher,
 * the help screen and the manual page's key list are all generated from.
 * Nothing here needs curses, so the build-time man page generator links
 * this table alone. */
#ifndef MS_KEYS_H
#define MS_KEYS_H

#include <stddef.h>

/* Key codes for keys that have no character. Characters are their own
 * codes (below 0x100); the terminal layer maps its key codes onto these. */
enum ms_key {
	MS_KEY_UP = 0x101,
	MS_KEY_DOWN,
	MS_KEY_PAGE_UP,
	MS_KEY_PAGE_DOWN,
	MS_KEY_HOME,
	MS_KEY_END,
	MS_KEY_ENTER,
	MS_KEY_ESCAPE,
	MS_KEY_BACKSPACE,
	MS_KEY_RESIZE
};

/* Actions of the bindings. The explorer (src/app.c) maps each action to its
 * handler; the table below only names it. */
enum ms_action {
	MS_ACTION_SCORE_TYPE,    /* key '0' to '6': select that score type */
	MS_ACTION_MOVE,          /* move the selection by ARG rows */
	MS_ACTION_PAGE,          /* move by ARG pages */
	MS_ACTION_FIRST,
	MS_ACTION_LAST,
	MS_ACTION_WEIGHT_BITS,   /* cycle the weight bits, ARG +1 or -1 */
	MS_ACTION_ACT_BITS,      /* cycle the activation bits, ARG +1 or -1 */
	MS_ACTION_SET_BITS,      /* prompt for exact weight and activation
				  * bits */
	MS_ACTION_RESET,
	MS_ACTION_RULES,
	MS_ACTION_DIFF,
	MS_ACTION_EXPORT,
	MS_ACTION_HELP,
	MS_ACTION_QUIT,
	MS_ACTION_COUNT
};

#define MS_BINDING_KEYS 8

/* One entry of the key table. */
struct ms_binding {
	int keys[MS_BINDING_KEYS];  /* key codes, ended by 0 */
	const char *label;          /* the keys as the help screen shows
				     * them, e.g. "Up, k" */
	const char *help;           /* what the keys do, a short phrase */
	enum ms_action action;
	int arg;                    /* action argument: rows, pages or
				     * direction */
};

extern const struct ms_binding ms_bindings[];
extern const size_t ms_binding_count;

/* Sentences on the keys of the export and bits prompts, which are not in
 * the table because they edit text rather than run an action. */
extern const char ms_prompt_keys_note[];

/* Finds the binding of KEY. Returns NULL when KEY is not bound. */
const struct ms_binding *ms_binding_find(int key);

#endif
