/*
 * redis_pair.c — a closed-loop Redis load generator for multi-command
 * transactions, which redis-benchmark cannot run (it repeats ONE command).
 * bench/run.sh uses it for the "pair" workloads (SET+GETDEL, SET+DEL, a token
 * SET+GETDEL) so that Redis does exactly what the pgbench scripts do: two
 * commands, two round trips, per transaction.
 *
 * Like pgbench and redis-benchmark it is one event loop (poll) over C
 * connections, each with one transaction in flight.  It runs for -T seconds,
 * ignores transactions that complete in the first -w seconds, and prints
 *   tps=... n=... p50_ms=... p99_ms=... avg_ms=... errors=... nil_last=... secs=...
 * where nil_last counts transactions whose last reply was nil (a miss).
 *
 * usage: redis_pair -h HOST -p PORT -c CLIENTS -T SECS -w WARM -r KEYSPACE \
 *                   CMD ARG... [ \; CMD ARG... ]
 * Every "__key__" inside an argument becomes a random integer in
 * [1, KEYSPACE], the same one for all commands of a transaction.
 *
 * Build: cc -O2 -o redis_pair redis_pair.c -lhiredis   (libhiredis-dev)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#define MAX_CMDS 8
#define MAX_ARGS 16
#define KEY_TAG "__key__"

typedef struct Client
{
	redisContext *ctx;
	int			cmd;			/* index of the command in flight */
	double		tx_start;
	long		key;
	int			last_nil;
} Client;

static int	ncmds;
static int	cmd_argc[MAX_CMDS];
static char *cmd_argv[MAX_CMDS][MAX_ARGS];
static long keyspace = 100000;
static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static double *lat;				/* latencies of measured transactions, µs */
static size_t nlat,
			caplat;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t
next_rand(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static void
die(const char *msg)
{
	fprintf(stderr, "redis_pair: %s\n", msg);
	exit(2);
}

/* Append command c of the client's transaction to its output buffer and send. */
static void
send_cmd(Client *cl)
{
	char		bufs[MAX_ARGS][512];
	const char *argv[MAX_ARGS];
	size_t		lens[MAX_ARGS];
	int			i;
	int			done = 0;

	for (i = 0; i < cmd_argc[cl->cmd]; i++)
	{
		const char *a = cmd_argv[cl->cmd][i];
		const char *tag = strstr(a, KEY_TAG);

		if (tag == NULL)
		{
			argv[i] = a;
			lens[i] = strlen(a);
			continue;
		}
		if (snprintf(bufs[i], sizeof(bufs[i]), "%.*s%ld%s", (int) (tag - a), a,
					 cl->key, tag + strlen(KEY_TAG)) >= (int) sizeof(bufs[i]))
			die("argument with " KEY_TAG " too long");
		argv[i] = bufs[i];
		lens[i] = strlen(bufs[i]);
	}
	if (redisAppendCommandArgv(cl->ctx, cmd_argc[cl->cmd], argv, lens) != REDIS_OK)
		die("could not format a command");
	while (!done)
		if (redisBufferWrite(cl->ctx, &done) != REDIS_OK)
			die(cl->ctx->errstr);
}

static void
begin_tx(Client *cl, double t)
{
	cl->tx_start = t;
	cl->cmd = 0;
	cl->key = (long) (next_rand() % (uint64_t) keyspace) + 1;
	send_cmd(cl);
}

static void
record(double us)
{
	if (nlat == caplat)
	{
		caplat = caplat ? caplat * 2 : 1 << 16;
		lat = realloc(lat, caplat * sizeof(double));
		if (lat == NULL)
			die("out of memory");
	}
	lat[nlat++] = us;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

/* nearest-rank percentile, as bench/analyze.py computes it for pgbench */
static double
percentile(double q)
{
	size_t		rank;

	if (nlat == 0)
		return NAN;
	rank = (size_t) ceil(q * nlat);
	if (rank < 1)
		rank = 1;
	return lat[rank - 1];
}

int
main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	int			port = 6379;
	int			nclients = 1;
	double		secs = 5,
				warm = 1;
	int			opt;
	Client	   *clients;
	struct pollfd *pfds;
	double		t0,
				t_warm,
				t_end,
				t,
				sum = 0;
	long		errors = 0,
				nil_last = 0;
	int			i;

	while ((opt = getopt(argc, argv, "+h:p:c:T:w:r:")) != -1)
	{
		switch (opt)
		{
			case 'h':
				host = optarg;
				break;
			case 'p':
				port = atoi(optarg);
				break;
			case 'c':
				nclients = atoi(optarg);
				break;
			case 'T':
				secs = atof(optarg);
				break;
			case 'w':
				warm = atof(optarg);
				break;
			case 'r':
				keyspace = atol(optarg);
				break;
			default:
				die("usage: redis_pair -h HOST -p PORT -c CLIENTS -T SECS -w WARM -r KEYSPACE CMD ARG... [\\; CMD ARG...]");
		}
	}
	if (nclients < 1 || keyspace < 1 || secs <= warm)
		die("bad -c, -r, -T or -w");

	/* split the remaining arguments into commands at ";" */
	for (i = optind; i < argc; i++)
	{
		if (strcmp(argv[i], ";") == 0)
		{
			if (ncmds == 0 || cmd_argc[ncmds - 1] == 0)
				die("empty command");
			ncmds++;
			if (ncmds > MAX_CMDS)
				die("too many commands");
			cmd_argc[ncmds - 1] = 0;
			continue;
		}
		if (ncmds == 0)
			ncmds = 1;
		if (cmd_argc[ncmds - 1] == MAX_ARGS)
			die("too many arguments");
		cmd_argv[ncmds - 1][cmd_argc[ncmds - 1]++] = argv[i];
	}
	if (ncmds == 0 || cmd_argc[ncmds - 1] == 0)
		die("no command given");

	rng ^= (uint64_t) getpid() << 17 ^ (uint64_t) (now_s() * 1e6);

	clients = calloc(nclients, sizeof(Client));
	pfds = calloc(nclients, sizeof(struct pollfd));
	for (i = 0; i < nclients; i++)
	{
		clients[i].ctx = redisConnect(host, port);
		if (clients[i].ctx == NULL || clients[i].ctx->err)
			die(clients[i].ctx ? clients[i].ctx->errstr : "cannot connect");
		pfds[i].fd = clients[i].ctx->fd;
		pfds[i].events = POLLIN;
	}

	t0 = now_s();
	t_warm = t0 + warm;
	t_end = t0 + secs;
	for (i = 0; i < nclients; i++)
		begin_tx(&clients[i], t0);

	for (;;)
	{
		int			n;

		t = now_s();
		if (t >= t_end)
			break;
		n = poll(pfds, nclients, (int) ((t_end - t) * 1000) + 1);
		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			die("poll failed");
		}
		for (i = 0; i < nclients && n > 0; i++)
		{
			Client	   *cl = &clients[i];
			void	   *r;

			if (pfds[i].revents == 0)
				continue;
			n--;
			if (redisBufferRead(cl->ctx) != REDIS_OK)
				die(cl->ctx->errstr);
			for (;;)
			{
				redisReply *reply;

				if (redisGetReplyFromReader(cl->ctx, &r) != REDIS_OK)
					die(cl->ctx->errstr);
				if (r == NULL)
					break;
				reply = r;
				if (reply->type == REDIS_REPLY_ERROR)
				{
					if (errors == 0)
						fprintf(stderr, "redis_pair: first error reply: %s\n", reply->str);
					errors++;
				}
				cl->last_nil = reply->type == REDIS_REPLY_NIL;
				freeReplyObject(reply);
				if (++cl->cmd < ncmds)
				{
					send_cmd(cl);
					continue;
				}
				t = now_s();
				if (t >= t_warm && t <= t_end)
				{
					double		us = (t - cl->tx_start) * 1e6;

					record(us);
					sum += us;
					nil_last += cl->last_nil;
				}
				if (t < t_end)
					begin_tx(cl, t);
			}
		}
	}
	t = now_s();

	qsort(lat, nlat, sizeof(double), cmp_double);
	printf("tps=%.1f n=%zu p50_ms=%.3f p99_ms=%.3f avg_ms=%.3f errors=%ld nil_last=%ld secs=%.3f\n",
		   nlat / (t - t_warm), nlat, percentile(0.50) / 1000, percentile(0.99) / 1000,
		   nlat ? sum / nlat / 1000 : NAN, errors, nil_last, t - t_warm);

	for (i = 0; i < nclients; i++)
		redisFree(clients[i].ctx);
	return errors ? 1 : 0;
}
