/*
 * worker.c: the mailbox and small thread helpers (see worker.h for the
 * threading model).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "worker.h"

void
mailbox_init(struct mailbox *mb, int nworkers, const struct worker_params *p)
{
	pthread_mutex_init(&mb->mu, NULL);
	pthread_cond_init(&mb->cv, NULL);
	mb->gen = 1;
	mb->nworkers = nworkers;
	mb->nacked = 0;
	mb->params = *p;
}

void
mailbox_destroy(struct mailbox *mb)
{
	pthread_cond_destroy(&mb->cv);
	pthread_mutex_destroy(&mb->mu);
}

void
mailbox_post(struct mailbox *mb, const struct worker_params *p,
    const int *evfds, int nevfds)
{
	pthread_mutex_lock(&mb->mu);
	mb->params = *p;
	mb->gen++;
	mb->nacked = 0;
	pthread_mutex_unlock(&mb->mu);
	for (int i = 0; i < nevfds; i++)
		worker_wake(evfds[i]);
	pthread_mutex_lock(&mb->mu);
	while (mb->nacked < mb->nworkers)
		pthread_cond_wait(&mb->cv, &mb->mu);
	pthread_mutex_unlock(&mb->mu);
}

bool
mailbox_take(struct mailbox *mb, uint64_t *gen, struct worker_params *out)
{
	bool moved = false;

	pthread_mutex_lock(&mb->mu);
	if (*gen != mb->gen) {
		*out = mb->params;
		*gen = mb->gen;
		moved = true;
	}
	pthread_mutex_unlock(&mb->mu);
	return moved;
}

void
mailbox_done(struct mailbox *mb)
{
	pthread_mutex_lock(&mb->mu);
	mb->nacked++;
	pthread_cond_broadcast(&mb->cv);
	pthread_mutex_unlock(&mb->mu);
}

int
worker_eventfd(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	if (fd == -1)
		fatal("eventfd");
	return fd;
}

void
worker_wake(int evfd)
{
	uint64_t one = 1;

	while (write(evfd, &one, sizeof(one)) == -1 && errno == EINTR)
		;
}

void
worker_eventfd_drain(int evfd)
{
	uint64_t v;

	while (read(evfd, &v, sizeof(v)) == -1 && errno == EINTR)
		;
}

uint64_t
worker_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
worker_thread_setup(const char *name)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_setname_np(pthread_self(), name);
}
