/* The library's records into isula_libutils' log: the daemon's own log, at
 * its level, in its format, to its destination (file, fifo or syslog).
 * Compiled by build.rs for the isula-libutils-log feature, against the
 * installed <isula_libutils/log.h>; the daemon links isula_libutils. */
#include <stdbool.h>

#include <isula_libutils/log.h>

/* Levels as mailbox_log_level numbers them: 1 error ... 5 trace. */
static int lxc_level(int level)
{
    switch (level) {
    case 1:
        return LXC_LOG_LEVEL_ERROR;
    case 2:
        return LXC_LOG_LEVEL_WARN;
    case 3:
        return LXC_LOG_LEVEL_INFO;
    case 4:
        return LXC_LOG_LEVEL_DEBUG;
    default:
        return LXC_LOG_LEVEL_TRACE;
    }
}

/* Whether the daemon logs records of this level now. */
bool isula_mailbox_libutils_enabled(int level)
{
    return lxc_log_priority_is_enabled(&g_lxc_log_category_lxc, lxc_level(level));
}

/* One record: named after the library (as a source file would be) and the
 * function it comes from. The message is an argument, never the format:
 * what it quotes may hold '%'. */
void isula_mailbox_libutils_log(int level, const char *function, int line, const char *message)
{
    struct lxc_log_locinfo locinfo = { .file = "isula_mailbox", .func = function, .line = line };
    switch (lxc_level(level)) {
    case LXC_LOG_LEVEL_ERROR:
        LXC_ERROR(&locinfo, "%s", message);
        break;
    case LXC_LOG_LEVEL_WARN:
        LXC_WARN(&locinfo, "%s", message);
        break;
    case LXC_LOG_LEVEL_INFO:
        LXC_INFO(&locinfo, "%s", message);
        break;
    case LXC_LOG_LEVEL_DEBUG:
        LXC_DEBUG(&locinfo, "%s", message);
        break;
    default:
        LXC_TRACE(&locinfo, "%s", message);
        break;
    }
}
