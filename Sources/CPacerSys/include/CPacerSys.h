// What Swift cannot call directly: glibc's _GNU_SOURCE-only spawn actions and variadic prctl.
#ifndef CPACERSYS_H
#define CPACERSYS_H
#include <sys/types.h>
#include <spawn.h>

int pacer_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from);
int pacer_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);
int pacer_set_child_subreaper(void);
#endif
