// The prefetch hint is a header-only inline function; a C target needs one source file.
#include "CachePrefetch.h"
