#ifndef CONSUMER_CRI_RUNTIME_SERVICE_H
#define CONSUMER_CRI_RUNTIME_SERVICE_H

#ifdef __cplusplus
extern "C" {
#endif

/* Registers the CRI container topic; 0 on success. */
int cri_service_init(void);
/* Starts one GetContainerEvents stream; returns once it is subscribed. */
void cri_service_start_stream(void);
/* Waits until the stream has written `count` events (up to 10 s); the count. */
int cri_service_wait_events(int count);
/* Unregisters the topic, joins the stream; 0 if it ended as the daemon's
 * does at shutdown and every response was deleted. */
int cri_service_shutdown(void);

#ifdef __cplusplus
}
#endif

#endif
