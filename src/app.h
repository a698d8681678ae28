/* The explorer's state and key handling, kept apart from the terminal so
 * that it can be tested without one. Handlers change settings and return
 * flags for what the caller must do next. The terminal layer (src/ui.c)
 * only reads this state and draws it. */
#ifndef MS_APP_H
#define MS_APP_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "model.h"
#include "score.h"
#include "tensor.h"

/* Requests to the caller after a key, combined with bitwise OR. */
enum ms_app_flag {
	MS_APP_REDRAW = 1 << 0,     /* the state changed: draw a frame */
	MS_APP_RECOMPUTE = 1 << 1,  /* settings changed: ms_app_recompute() */
	MS_APP_RESIZE = 1 << 2,     /* the terminal size changed: lay out */
	MS_APP_QUIT = 1 << 3,
	MS_APP_PROMPT = 1 << 4      /* a prompt is open: show the cursor */
};

/* The question the status line is asking, if any. */
enum ms_prompt {
	MS_PROMPT_NONE,
	MS_PROMPT_EXPORT_PATH,      /* the file name to export to */
	MS_PROMPT_REPLACE,          /* whether to replace an existing file */
	MS_PROMPT_WEIGHT_BITS,      /* the selected layer's weight bits */
	MS_PROMPT_ACT_BITS          /* then its activation bits */
};

#define MS_APP_INPUT_MAX 1024

struct ms_app {
	const char *checkpoint_path;     /* NULL when scoring a description
					  * alone; not owned */
	const struct ms_checkpoint *ck;  /* NULL likewise; not owned */
	const struct ms_net *net;        /* not owned */
	struct ms_policy policy;
	struct ms_override *overrides;   /* NET->count entries, owned */
	struct ms_table table;           /* every layer under POLICY */
	struct ms_table other;           /* the same under the other rules
					  * (published or challenge) */

	size_t selected;                 /* index of the selected layer */
	size_t top;                      /* index of the first visible row */
	size_t page_rows;                /* visible table rows, set by the
					  * terminal layer; at least 1 */
	bool show_help;
	bool show_diff;                  /* show challenge-minus-published
					  * columns */

	char message[MS_APP_INPUT_MAX + 128];  /* status line; "" for none */
	bool message_is_error;

	enum ms_prompt prompt;
	char input[MS_APP_INPUT_MAX];    /* the prompt's text, UTF-8 */
	size_t input_len;                /* in bytes */
	bool input_selected;             /* the input is a suggestion (the
					  * default name or current bits)
					  * that the first typed character
					  * replaces */
	bool too_small;                  /* set by the terminal layer while
					  * the terminal is too small to lay
					  * out: keys other than q and resize
					  * are ignored */
	int pending_weight_bits;         /* the bits prompt's accepted weight
					  * bits, applied with the activation
					  * bits; 0 when they do not apply */
};

/* Sets up APP for NET (bound to CK when CK is not NULL) under POLICY,
 * with no overrides, and computes the first tables. CHECKPOINT_PATH, CK
 * and NET are borrowed and must outlive APP. Returns 0, or -1 with ERR
 * set when memory runs out; APP then needs no ms_app_free(). */
int ms_app_init(struct ms_app *app, const char *checkpoint_path,
		const struct ms_checkpoint *ck, const struct ms_net *net,
		const struct ms_policy *policy, struct ms_error *err);

/* Releases what APP owns (overrides and tables). */
void ms_app_free(struct ms_app *app);

/* Scores every layer under the current policy and overrides, and again
 * under the other rules, with ms_score_net(): O(layers), no weight is
 * read. Returns 0, or -1 with ERR set when memory runs out, in which case
 * the previous tables stay in place. */
int ms_app_recompute(struct ms_app *app, struct ms_error *err);

/* Handles one key: a character, or an enum ms_key code from keys.h. While
 * APP->too_small is set, only q (quit) and MS_KEY_RESIZE act, because
 * nothing shows what other keys would change. While a prompt is open the key edits or answers it; while help is shown any
 * key closes it. Otherwise the key table (keys.c) picks the handler.
 * Returns enum ms_app_flag bits. Never fails: problems go to the message
 * line. */
unsigned ms_app_key(struct ms_app *app, int key);

/* Handles KEY while a prompt is open: Enter accepts, Escape cancels,
 * Backspace deletes a character, Ctrl-U clears the input and Ctrl-W
 * deletes the word before the end; the replace question takes y or n.
 * While the input is a selected suggestion, a printable character
 * replaces it, and Backspace, Ctrl-U and Ctrl-W edit it. Editing clears an
 * error message left by a rejected answer. An
 * answer that is rejected (an export that fails, bits out of range) keeps
 * the prompt open with the typed text, and the reason in APP->message
 * with APP->message_is_error set. Returns enum ms_app_flag bits. */
unsigned ms_app_prompt_key(struct ms_app *app, int key);

/* Opens the export prompt with the default file name as its selected
 * suggestion (see ms_app_prompt_key()). On
 * Enter the report is written with ms_report_save(): JSON for a name
 * ending in ".json", CSV for ".csv" and text otherwise. A leading "~/"
 * stands for $HOME. A name that exists but is not a regular file (a
 * directory, device, FIFO, socket or symbolic link), or whose directory
 * is missing or accepts no new file, is rejected before anything is
 * written or asked. An existing regular file is replaced only after a
 * yes to the replace question. Returns enum ms_app_flag bits. */
unsigned ms_app_export_start(struct ms_app *app);

/* Opens the bits prompt for the selected layer: first its weight bits
 * (skipped on a layer without weights), then its activation bits, each a
 * whole number from 1 to 32. Each question starts with the current value
 * as its selected suggestion, and an empty answer also keeps it. Both are set when the second is accepted, as overrides, or as no
 * override when equal to the description's value; Escape cancels both.
 * On a layer whose bits do not apply, sets an error message instead.
 * Returns enum ms_app_flag bits. */
unsigned ms_app_bits_start(struct ms_app *app);

/* Writes the open prompt's question and input into BUF (SIZE bytes), or
 * "" when no prompt is open. */
void ms_app_prompt_text(const struct ms_app *app, char *buf, size_t size);

/* Writes the open prompt's text as ms_app_prompt_text() does, in its
 * FORM-th shorter wording for narrow terminals: 0 is the full text, and
 * each next form drops the least needed words first (the key hints, then
 * the layer name), always keeping the range and the input. Returns false
 * when FORM is past the shortest form, which BUF then contains. */
bool ms_app_prompt_text_form(const struct ms_app *app, int form, char *buf,
			     size_t size);

/* Appends TEXT (UTF-8, no control characters) to an open prompt's input,
 * replacing it first when it is a selected suggestion. Ignored while
 * APP->too_small is set. Returns enum ms_app_flag bits; text that does
 * not fit is dropped with a message. */
unsigned ms_app_prompt_insert(struct ms_app *app, const char *text);

/* Formats the status line message; IS_ERROR selects the warning colour. */
void ms_app_message(struct ms_app *app, bool is_error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Sets the number of visible table rows (at least 1 is used) and scrolls
 * so that the selected layer stays visible. */
void ms_app_set_page_rows(struct ms_app *app, size_t rows);

/* Tells whether layer I's weight or activation bits can be overridden:
 * weight bits on conv and linear layers with weights, activation bits on
 * conv and linear layers, the only kinds whose count uses them. */
bool ms_app_weight_bits_apply(const struct ms_app *app, size_t i);
bool ms_app_act_bits_apply(const struct ms_app *app, size_t i);

/* Returns layer I's weight bits (WEIGHT true) or activation bits as set
 * here: the override, else the description's value, else 32. */
int ms_app_bits(const struct ms_app *app, size_t i, bool weight);

/* Returns layer I's cost under the challenge rules minus its cost under
 * the published rules, in ops or params. */
double ms_app_rules_diff_ops(const struct ms_app *app, size_t i);
double ms_app_rules_diff_params(const struct ms_app *app, size_t i);

/* Returns the number of layers with at least one override. */
size_t ms_app_override_count(const struct ms_app *app);

/* Writes the default export file name into BUF (SIZE bytes): the
 * checkpoint's (or else the network's) base name without its extensions,
 * followed by "-score.txt". */
void ms_app_default_export_name(const struct ms_app *app, char *buf,
				size_t size);

#endif
