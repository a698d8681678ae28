/* The explorer's key table. The help screen and the manual page list the
 * entries in this order. */
#include "keys.h"

const struct ms_binding ms_bindings[] = {
	{ { '0', '1', '2', '3', '4', '5', '6' }, "0-6",
	  "select score type 0 to 6", MS_ACTION_SCORE_TYPE, 0 },
	{ { MS_KEY_UP, 'k' }, "Up, k",
	  "select the previous layer", MS_ACTION_MOVE, -1 },
	{ { MS_KEY_DOWN, 'j' }, "Down, j",
	  "select the next layer", MS_ACTION_MOVE, 1 },
	{ { MS_KEY_PAGE_UP }, "PgUp",
	  "move up one page", MS_ACTION_PAGE, -1 },
	{ { MS_KEY_PAGE_DOWN, ' ' }, "PgDn, Space",
	  "move down one page", MS_ACTION_PAGE, 1 },
	{ { MS_KEY_HOME, 'g' }, "Home, g",
	  "select the first layer", MS_ACTION_FIRST, 0 },
	{ { MS_KEY_END, 'G' }, "End, G",
	  "select the last layer", MS_ACTION_LAST, 0 },
	{ { 'w' }, "w",
	  "cycle weight bits up: 1-6, 8, 16, 32, 1 (b sets any)",
	  MS_ACTION_WEIGHT_BITS, 1 },
	{ { 'W' }, "W",
	  "cycle weight bits down through the same widths",
	  MS_ACTION_WEIGHT_BITS, -1 },
	{ { 'a' }, "a",
	  "cycle activation bits up: 1-6, 8, 16, 32, 1 (b sets any)",
	  MS_ACTION_ACT_BITS, 1 },
	{ { 'A' }, "A",
	  "cycle activation bits down through the same widths",
	  MS_ACTION_ACT_BITS, -1 },
	{ { 'b' }, "b",
	  "type the selected layer's weight and activation bits (1-32)",
	  MS_ACTION_SET_BITS, 0 },
	{ { 'r' }, "r",
	  "reset every layer's bits to the description's", MS_ACTION_RESET, 0 },
	{ { 'p' }, "p",
	  "use published or challenge rules; the pane keeps the other score",
	  MS_ACTION_RULES, 0 },
	{ { 'd' }, "d",
	  "show or hide the ops/par diff columns: challenge minus published",
	  MS_ACTION_DIFF, 0 },
	{ { 'e' }, "e",
	  "export the report to a file (.json, .csv or text)",
	  MS_ACTION_EXPORT, 0 },
	{ { '?', 'h' }, "?, h",
	  "show or hide this help", MS_ACTION_HELP, 0 },
	{ { 'q' }, "q",
	  "quit", MS_ACTION_QUIT, 0 },
};

const char ms_prompt_keys_note[] =
	"In a prompt, Enter accepts and Escape cancels. The suggested "
	"name or width is selected: typing replaces it, Enter accepts it "
	"and Backspace edits it. Backspace deletes a character, Ctrl-W "
	"the previous word and Ctrl-U the whole field. When the export "
	"file exists, y replaces it and n returns to the name.";

const size_t ms_binding_count = sizeof ms_bindings / sizeof ms_bindings[0];

const struct ms_binding *ms_binding_find(int key)
{
	if (key == 0)
		return NULL;
	for (size_t i = 0; i < ms_binding_count; i++) {
		for (int k = 0; k < MS_BINDING_KEYS; k++) {
			if (ms_bindings[i].keys[k] == 0)
				break;
			if (ms_bindings[i].keys[k] == key)
				return &ms_bindings[i];
		}
	}
	return NULL;
}
