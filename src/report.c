/* Text, JSON and CSV reports from a score table. */
#include "report.h"
