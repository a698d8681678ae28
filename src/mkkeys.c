/* Build-time generator of the manual page's key list: prints the
 * explorer's key table (keys.c) as roff, one tagged paragraph a binding,
 * so that the manual cannot drift from the program. */
#include <stdio.h>

#include "keys.h"

/* Prints TEXT escaped for roff: backslashes doubled as \e, minus signs
 * as \- when MINUS is set, and a leading control character guarded. */
static void put_roff(const char *text, int minus)
{
	if (text[0] == '.' || text[0] == '\'')
		fputs("\\&", stdout);
	for (; *text != '\0'; text++) {
		if (*text == '\\')
			fputs("\\e", stdout);
		else if (*text == '-' && minus)
			fputs("\\-", stdout);
		else
			putchar(*text);
	}
}

int main(void)
{
	for (size_t i = 0; i < ms_binding_count; i++) {
		fputs(".TP\n.B \"", stdout);
		put_roff(ms_bindings[i].label, 1);
		fputs("\"\n", stdout);
		put_roff(ms_bindings[i].help, 0);
		putchar('\n');
	}
	fputs(".PP\n", stdout);
	put_roff(ms_prompt_keys_note, 0);
	putchar('\n');
	return ferror(stdout) || fflush(stdout) != 0 ? 1 : 0;
}
