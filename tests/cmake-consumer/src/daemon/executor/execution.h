#ifndef CONSUMER_EXECUTION_H
#define CONSUMER_EXECUTION_H

/* Publishes create, start, stop and delete for container `id` in `sandbox`. */
void container_lifecycle(const char *id, const char *sandbox);

#endif
