/* Command line: options, input checks, then batch mode or the explorer. */
#include <config.h>

int main(void)
{
	return 0;
}
