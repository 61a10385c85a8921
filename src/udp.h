/* SPDX-License-Identifier: ISC */
/*
 * udp.h: the UDP kind of worker: one datagram in, one datagram out,
 * batched with recvmmsg/sendmmsg.  A pool of them (worker_pool_create with
 * udp_worker_ops) runs the one worker loop (see worker.h); today the pool
 * has one worker, serving every UDP listener.
 */
#ifndef UPCASE_UDP_H
#define UPCASE_UDP_H

#include "worker.h"

#define UDP_BATCH 16
/* upcase --sources: at most this many sources from each UDP worker. */
#define UDP_SNAPSHOT_MAX 256

extern const struct worker_ops udp_worker_ops;

#endif
