/*
 * udp.h: the UDP worker, one dedicated thread: one datagram in, one
 * datagram out, batched with recvmmsg/sendmmsg.
 */
#ifndef UPCASE_UDP_H
#define UPCASE_UDP_H

#include <stdint.h>

#include "stats.h"
#include "worker.h"

#define UDP_BATCH 16

struct udp_worker;

struct udp_worker *udp_worker_create(const struct worker_params *p);
void udp_worker_apply(struct udp_worker *u, const struct worker_params *p);
/* Answer what is already queued, then stop and join the thread. */
void udp_worker_stop(struct udp_worker *u);
void udp_worker_destroy(struct udp_worker *u);

void udp_worker_stats(const struct udp_worker *u, struct stats *total);
uint64_t udp_worker_heartbeat(const struct udp_worker *u);

#endif
