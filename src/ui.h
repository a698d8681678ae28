/* The explorer: the only part of microscore that uses curses. */
#ifndef MS_UI_H
#define MS_UI_H

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

#endif
