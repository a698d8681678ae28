/* The explorer: the only part of microscore that uses curses. */
#ifndef MS_UI_H
#define MS_UI_H

#include "app.h"
#include "error.h"
#include "model.h"
#include "score.h"
#include "tensor.h"

/* Runs the explorer on NET (bound to CK, which may be NULL) until the user
 * quits. OVERRIDES is NULL or has NET->count entries, the initial
 * per-layer precision overrides. Restores the terminal before it returns.
 * Returns 0, or -1 with ERR set. */
int ms_ui_explore(const char *checkpoint_path, const struct ms_checkpoint *ck,
		  const struct ms_net *net, const struct ms_policy *policy,
		  const struct ms_override *overrides, struct ms_error *err);

/* Runs the explorer on APP until the user quits; ms_ui_explore() is this
 * with the state set up and freed around it. APP must come from
 * ms_app_init(), and the caller keeps and frees it. Sets the locale from
 * the environment (setlocale(LC_ALL, "")). Returns 0 after a normal quit,
 * or -1 with ERR set when standard input or output is not a terminal,
 * curses cannot start, or a recomputation runs out of memory. The terminal
 * is restored before either return, so the caller may print ERR at once. */
int ms_ui_run(struct ms_app *app, struct ms_error *err);

#endif
