/* Parts of the explorer's prompts shared by the export prompt
 * (app_export.c) and the bits prompt (app_bits.c). Private to the app_*.c
 * files. */
#ifndef MS_APP_PROMPT_H
#define MS_APP_PROMPT_H

#include <stdbool.h>
#include <stddef.h>

#include "app.h"

/* Replaces the prompt's input with TEXT, cut to fit. */
void ms_app_input_set(struct ms_app *app, const char *text);

/* Removes the last UTF-8 character of the prompt's input. */
void ms_app_input_delete_last(struct ms_app *app);

/* Applies the line-editing KEY shared by the text prompts to the input:
 * Backspace, Ctrl-U (clear) or Ctrl-W (delete the previous word). Each
 * ends the suggestion state and clears an error message. Returns false,
 * changing nothing, when KEY is not one of them. */
bool ms_app_input_edit(struct ms_app *app, int key);

/* Handles a KEY of a text prompt other than Enter and Escape: an editing
 * key (see ms_app_input_edit) or a printable ASCII character to insert,
 * unless the input already has MAX_LEN bytes (0 for no limit) and is not
 * a suggestion that the character replaces. Other keys are ignored.
 * Returns enum ms_app_flag bits. */
unsigned ms_app_input_key(struct ms_app *app, int key, size_t max_len);

/* Handles KEY in the weight or activation bits prompt. Returns enum
 * ms_app_flag bits. */
unsigned ms_app_bits_prompt_key(struct ms_app *app, int key);

/* Writes the bits prompt's question and input into BUF (SIZE bytes) in
 * the FORM-th shorter wording, as ms_app_prompt_text_form() does.
 * Returns false when FORM is past the shortest. */
bool ms_app_bits_prompt_text(const struct ms_app *app, int form, char *buf,
			     size_t size);

#endif
