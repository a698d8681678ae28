/* Counting of ops and params per layer. */
#include "score.h"
