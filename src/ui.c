/* The explorer's event loop: starts curses, turns terminal keys into the
 * key codes of keys.h, hands them to the state (app.c), recomputes and
 * draws as the returned flags request, and restores the terminal on every
 * way out. */
#include "ui.h"

#include <curses.h>
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "keys.h"
#include "ui_draw.h"

/* Milliseconds curses waits after Escape for the rest of a key sequence;
 * short, so that Escape cancels a prompt at once. */
#define ESCAPE_DELAY_MS 25

/* Maps a key from get_wch() to a character or an enum ms_key code, or 0
 * for a key the explorer does not use. */
static int translate_key(int status, wint_t ch)
{
	if (status == KEY_CODE_YES) {
		switch (ch) {
		case KEY_UP: return MS_KEY_UP;
		case KEY_DOWN: return MS_KEY_DOWN;
		case KEY_PPAGE: return MS_KEY_PAGE_UP;
		case KEY_NPAGE: return MS_KEY_PAGE_DOWN;
		case KEY_HOME: return MS_KEY_HOME;
		case KEY_END: return MS_KEY_END;
		case KEY_ENTER: return MS_KEY_ENTER;
		case KEY_BACKSPACE: return MS_KEY_BACKSPACE;
		case KEY_RESIZE: return MS_KEY_RESIZE;
		default: return 0;
		}
	}
	switch (ch) {
	case '\n':
	case '\r':
		return MS_KEY_ENTER;
	case 27:
		return MS_KEY_ESCAPE;
	case 8:
	case 127:
		return MS_KEY_BACKSPACE;
	default:
		return ch < 0x80 ? (int)ch : 0;
	}
}

/* Passes a non-ASCII character typed into the export prompt on as UTF-8
 * (or the locale's encoding). */
static unsigned insert_wide(struct ms_app *app, wint_t ch)
{
	char text[MB_LEN_MAX + 1];
	mbstate_t state;
	size_t n;

	memset(&state, 0, sizeof state);
	n = wcrtomb(text, (wchar_t)ch, &state);
	if (n == (size_t)-1)
		return 0;
	text[n] = '\0';
	return ms_app_prompt_insert(app, text);
}

static int start_terminal(SCREEN **screen, struct ms_error *err)
{
	setlocale(LC_ALL, "");
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return ms_fail(err, "the explorer needs a terminal on "
			       "standard input and output");
	*screen = newterm(NULL, stdout, stdin);
	if (*screen == NULL)
		return ms_fail(err, "cannot start the terminal '%s': check "
			       "TERM", getenv("TERM") ? getenv("TERM") : "");
	set_escdelay(ESCAPE_DELAY_MS);
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	curs_set(0);
	ms_ui_theme_init();
	return 0;
}

static void stop_terminal(SCREEN *screen)
{
	endwin();
	delscreen(screen);
}

int ms_ui_run(struct ms_app *app, struct ms_error *err)
{
	SCREEN *screen = NULL;
	unsigned flags = MS_APP_REDRAW;

	if (start_terminal(&screen, err) < 0)
		return -1;

	for (;;) {
		wint_t ch;
		int status;
		int key;

		if (flags & MS_APP_REDRAW) {
			ms_ui_draw(app);
			doupdate();
		}

		/* Cleared first, so that an end of input cannot pass for an
		 * interrupted read left over from an earlier signal. */
		errno = 0;
		status = get_wch(&ch);
		if (status == ERR) {
			if (errno == EINTR)
				continue;
			stop_terminal(screen);
			return ms_fail(err, "reading the terminal failed: "
				       "its input was closed");
		}
		key = translate_key(status, ch);
		if (key == 0 && status == OK && ch >= 0x80 &&
		    app->prompt == MS_PROMPT_EXPORT_PATH)
			flags = insert_wide(app, ch);
		else
			flags = ms_app_key(app, key);

		if ((flags & MS_APP_RECOMPUTE) &&
		    ms_app_recompute(app, err) < 0) {
			stop_terminal(screen);
			return -1;
		}
		if (flags & MS_APP_QUIT)
			break;
		/* Curses updated LINES and COLS before returning KEY_RESIZE,
		 * so the next draw lays out for the new size. */
		if (flags & (MS_APP_RESIZE | MS_APP_RECOMPUTE | MS_APP_PROMPT))
			flags |= MS_APP_REDRAW;
	}
	stop_terminal(screen);
	return 0;
}

int ms_ui_explore(const char *checkpoint_path, const struct ms_checkpoint *ck,
		  const struct ms_net *net, const struct ms_policy *policy,
		  const struct ms_override *overrides, struct ms_error *err)
{
	struct ms_app app;
	int rc;

	if (ms_app_init(&app, checkpoint_path, ck, net, policy, err) < 0)
		return -1;
	if (overrides != NULL && net->count > 0) {
		memcpy(app.overrides, overrides,
		       net->count * sizeof *app.overrides);
		if (ms_app_recompute(&app, err) < 0) {
			ms_app_free(&app);
			return -1;
		}
	}
	rc = ms_ui_run(&app, err);
	ms_app_free(&app);
	return rc;
}
