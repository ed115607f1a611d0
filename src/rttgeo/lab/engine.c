/* rttgeo lab delay engine.
 *
 * Moves IPv4 and IPv6 packets between the TUN devices of the lab's hosts, holding each one for the
 * configured one-way delay of its (source host, destination host) pair. Compiled at `rttgeo lab up`
 * with the system C compiler (cc -O2); see rttgeo/lab/engine.py and docs/lab.md.
 *
 * Routing: the source host is the TUN fd a packet was read from; the destination host is found from
 * the destination address alone. IPv4: bytes 16-19, an offset in the lab's block (direct table).
 * IPv6: bytes 24-39 of the fixed 40-byte header; a lab host's IPv6 address is the lab's 96-bit
 * prefix6 followed by the same 32-bit offset as its IPv4 address, so the same table serves both.
 * Extension headers are not parsed: they follow the fixed header and cannot change where the
 * packet goes next (a routing header names later hops, but its current hop is the destination
 * field, which is what a router forwards on), so the fixed header holds everything the engine needs.
 *
 * Input: a config file (argv[1]) written by engine.py, and the TUN file descriptors inherited from the
 * parent (already moved into the hosts' network namespaces). Output: a stats JSON file rewritten about
 * once a second and at exit. SIGTERM / SIGINT stop it.
 *
 * Timing: each packet is stamped with CLOCK_MONOTONIC when read, and written to its destination at
 * stamp + delay (+ uniform jitter). A binary heap orders pending packets; the loop sleeps in epoll on
 * the TUN fds and a timerfd armed a spin window before the next deadline, then spins (epoll with
 * timeout 0, still reading arrivals) until the deadline. Timer slack is set to 1 ns.
 *
 * The spin window adapts to how late the timer actually wakes us: it follows the recent maximum
 * of the timer's overshoot (decaying 2 % per wake-up) plus 10 us, capped at spin_ns. On an idle
 * machine wake-ups from deep idle states overshoot by 50-150 us and the window widens; under load
 * they are prompt and the window shrinks, so the engine does not burn a core spinning (which, at
 * real-time priority, would run into the kernel's RT throttling and stall for tens of ms).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ 2048
#define MAXEV 256
#define READ_BATCH 64
#define TIMER_TAG 0xFFFFFFFFu
#define NBUCKETS 12

typedef struct { int64_t t; uint32_t slot; } ev_t;

static volatile sig_atomic_t stop_flag = 0;
static void on_signal(int sig) { (void)sig; stop_flag = 1; }

static int n_hosts, *host_fd;
static uint32_t base_ip, block;
static unsigned char prefix6[12];
static int have6 = 0;           /* prefix6 given: IPv6 destinations are routed */
static int32_t *addr_map;           /* offset in block -> host index, -1 if none */
static int64_t *delay_ns;           /* n_hosts * n_hosts one-way delays */
static int64_t jitter_ns = 0, spin_ns = 100000, bias_ns = 0;
static int rt_prio = 0, rt_ok = 0;
static int64_t overshoot_est = 0;   /* recent max of timer wake-up overshoot, ns */
static double loss = 0.0;
static uint64_t rng_state = 88172645463325252ull;
static char stats_path[4096];

static uint32_t max_inflight = 65536;
static unsigned char *pool;
static uint16_t *pkt_len;
static int32_t *pkt_dst;
static uint32_t *free_stack, free_n;
static ev_t *heap;
static uint32_t heap_n;

static uint64_t n_in, n_in6, n_fwd, n_loss, n_unroutable, n_full, n_write_err, n_not_ip;
static uint64_t late_hist[NBUCKETS];
static const int64_t late_edges_ns[NBUCKETS - 1] = {1000, 2000, 5000, 10000, 20000, 50000,
                                                      100000, 200000, 500000, 1000000, 10000000};
static int64_t late_max_ns = 0;
static double late_sum_ns = 0;

static inline int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline uint64_t xorshift(void) {
    uint64_t x = rng_state;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return rng_state = x;
}
static inline double urand(void) { return (xorshift() >> 11) * (1.0 / 9007199254740992.0); }

static void heap_push(int64_t t, uint32_t slot) {
    uint32_t i = heap_n++;
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (heap[p].t <= t) break;
        heap[i] = heap[p];
        i = p;
    }
    heap[i].t = t; heap[i].slot = slot;
}

static ev_t heap_pop(void) {
    ev_t top = heap[0], last = heap[--heap_n];
    uint32_t i = 0;
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        int64_t mt = last.t;
        if (l < heap_n && heap[l].t < mt) { m = l; mt = heap[l].t; }
        if (r < heap_n && heap[r].t < mt) { m = r; }
        if (m == i) break;
        heap[i] = heap[m];
        i = m;
    }
    if (heap_n) heap[i] = last;
    return top;
}

static inline int64_t spin_window(void) {
    int64_t w = overshoot_est + 10000;
    return w > spin_ns ? spin_ns : w;
}

/* Counters copied out of the hot loop; a writer thread turns them into the stats file, so file
 * system latency (fopen / rename on a busy disk take ms) never delays a due packet. */
typedef struct {
    uint64_t in, in6, fwd, loss, unroutable, full, write_err, not_ip, hist[NBUCKETS];
    uint32_t in_flight;
    int64_t late_max_ns, spin_now_ns;
    double late_sum_ns;
} snap_t;

static snap_t snap;
static pthread_mutex_t snap_mu = PTHREAD_MUTEX_INITIALIZER;
static int stats_efd = -1;

static void take_snapshot(snap_t *s) {
    s->in = n_in; s->in6 = n_in6; s->fwd = n_fwd; s->loss = n_loss; s->unroutable = n_unroutable;
    s->full = n_full; s->write_err = n_write_err; s->not_ip = n_not_ip;
    memcpy(s->hist, late_hist, sizeof late_hist);
    s->in_flight = heap_n;
    s->late_max_ns = late_max_ns;
    s->late_sum_ns = late_sum_ns;
    s->spin_now_ns = spin_window();
}

static void write_stats_file(const snap_t *s) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", stats_path);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(f, "{\"engine\": \"c\", \"pid\": %d, \"hosts\": %d, \"ipv6\": %s, \"received\": %llu, "
               "\"received_ipv6\": %llu, \"forwarded\": %llu, "
               "\"dropped_loss\": %llu, \"dropped_unroutable\": %llu, \"dropped_not_ip\": %llu, "
               "\"dropped_queue_full\": %llu, \"dropped_write_error\": %llu, \"in_flight\": %u, "
               "\"realtime\": %s, \"spin_us\": %.1f, \"spin_now_us\": %.1f, ",
            (int)getpid(), n_hosts, have6 ? "true" : "false", (unsigned long long)s->in,
            (unsigned long long)s->in6, (unsigned long long)s->fwd,
            (unsigned long long)s->loss, (unsigned long long)s->unroutable,
            (unsigned long long)s->not_ip, (unsigned long long)s->full,
            (unsigned long long)s->write_err, s->in_flight, rt_ok ? "true" : "false",
            spin_ns / 1e3, s->spin_now_ns / 1e3);
    fprintf(f, "\"late_us_edges\": [");
    for (int i = 0; i < NBUCKETS - 1; i++) fprintf(f, "%s%.0f", i ? ", " : "", late_edges_ns[i] / 1e3);
    fprintf(f, "], \"late_us_hist\": [");
    for (int i = 0; i < NBUCKETS; i++) fprintf(f, "%s%llu", i ? ", " : "", (unsigned long long)s->hist[i]);
    fprintf(f, "], \"late_max_us\": %.3f, \"late_mean_us\": %.3f, ", s->late_max_ns / 1e3,
            s->fwd ? s->late_sum_ns / s->fwd / 1e3 : 0.0);
    fprintf(f, "\"cpu_user_s\": %.6f, \"cpu_system_s\": %.6f, \"monotonic_ns\": %lld}\n",
            ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
            ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, (long long)now_ns());
    fclose(f);
    rename(tmp, stats_path);
}

/* Synchronous: at start and at exit. */
static void write_stats(void) {
    snap_t s;
    take_snapshot(&s);
    pthread_mutex_lock(&snap_mu);
    write_stats_file(&s);
    pthread_mutex_unlock(&snap_mu);
}

static void *stats_writer(void *arg) {
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);  /* SIGTERM must interrupt the main loop's epoll */
    struct sched_param sp = {.sched_priority = 0};
    pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp);  /* file I/O is not urgent */
    for (;;) {
        uint64_t v;
        if (read(stats_efd, &v, sizeof v) < 0) continue;
        pthread_mutex_lock(&snap_mu);
        snap_t s = snap;
        write_stats_file(&s);
        pthread_mutex_unlock(&snap_mu);
    }
    return NULL;
}

/* From the hot loop: never blocks; skipped if the writer is still busy with the last one. */
static void post_stats(void) {
    if (pthread_mutex_trylock(&snap_mu) != 0) return;
    take_snapshot(&snap);
    pthread_mutex_unlock(&snap_mu);
    uint64_t one = 1;
    if (write(stats_efd, &one, sizeof one) < 0) { /* counter overflow: skip */ }
}

static int load_config(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) { perror("rttgeo-engine: config"); return -1; }
    char key[64];
    int seen_delay = 0;
    while (fscanf(f, "%63s", key) == 1) {
        if (!strcmp(key, "n")) {
            if (fscanf(f, "%d", &n_hosts) != 1 || n_hosts < 1) goto bad;
            host_fd = calloc(n_hosts, sizeof *host_fd);
            delay_ns = calloc((size_t)n_hosts * n_hosts, sizeof *delay_ns);
        } else if (!strcmp(key, "base")) {
            if (fscanf(f, "%u %u", &base_ip, &block) != 2 || block == 0 || block > (1u << 17)) goto bad;
            addr_map = malloc(block * sizeof *addr_map);
            for (uint32_t i = 0; i < block; i++) addr_map[i] = -1;
        } else if (!strcmp(key, "prefix6")) {
            char hex[25];
            if (fscanf(f, "%24s", hex) != 1 || strlen(hex) != 24) goto bad;
            for (int i = 0; i < 12; i++) {
                unsigned v;
                if (sscanf(hex + 2 * i, "%2x", &v) != 1) goto bad;
                prefix6[i] = (unsigned char)v;
            }
            have6 = 1;
        } else if (!strcmp(key, "jitter_ns")) {
            if (fscanf(f, "%lld", (long long *)&jitter_ns) != 1) goto bad;
        } else if (!strcmp(key, "spin_ns")) {
            if (fscanf(f, "%lld", (long long *)&spin_ns) != 1) goto bad;
        } else if (!strcmp(key, "bias_ns")) {
            if (fscanf(f, "%lld", (long long *)&bias_ns) != 1) goto bad;
        } else if (!strcmp(key, "rt_priority")) {
            if (fscanf(f, "%d", &rt_prio) != 1 || rt_prio < 0 || rt_prio > 99) goto bad;
        } else if (!strcmp(key, "loss")) {
            if (fscanf(f, "%lf", &loss) != 1) goto bad;
        } else if (!strcmp(key, "seed")) {
            unsigned long long s;
            if (fscanf(f, "%llu", &s) != 1) goto bad;
            rng_state = s ? s : 88172645463325252ull;
        } else if (!strcmp(key, "max_inflight")) {
            if (fscanf(f, "%u", &max_inflight) != 1 || max_inflight < 16) goto bad;
        } else if (!strcmp(key, "stats")) {
            if (fscanf(f, "%4095s", stats_path) != 1) goto bad;
        } else if (!strcmp(key, "host")) {
            int idx, fd; unsigned ip;
            if (!host_fd || !addr_map) goto bad;
            if (fscanf(f, "%d %d %u", &idx, &fd, &ip) != 3 || idx < 0 || idx >= n_hosts) goto bad;
            if (ip - base_ip >= block) goto bad;
            host_fd[idx] = fd;
            addr_map[ip - base_ip] = idx;
        } else if (!strcmp(key, "delay")) {
            if (!delay_ns) goto bad;
            for (long i = 0; i < (long)n_hosts * n_hosts; i++)
                if (fscanf(f, "%lld", (long long *)&delay_ns[i]) != 1) goto bad;
            seen_delay = 1;
        } else {
            fprintf(stderr, "rttgeo-engine: unknown config key %s\n", key);
            goto bad;
        }
    }
    fclose(f);
    if (!seen_delay || !stats_path[0]) { fprintf(stderr, "rttgeo-engine: incomplete config\n"); return -1; }
    return 0;
bad:
    fprintf(stderr, "rttgeo-engine: bad config near key %s\n", key);
    fclose(f);
    return -1;
}

static inline void send_due(int64_t now) {
    while (heap_n && heap[0].t <= now) {
        ev_t e = heap_pop();
        int64_t late = now - e.t;
        ssize_t w = write(host_fd[pkt_dst[e.slot]], pool + (size_t)e.slot * BUFSZ, pkt_len[e.slot]);
        if (w < 0) n_write_err++;
        else {
            n_fwd++;
            int b = 0;
            while (b < NBUCKETS - 1 && late >= late_edges_ns[b]) b++;
            late_hist[b]++;
            late_sum_ns += (double)late;
            if (late > late_max_ns) late_max_ns = late;
        }
        free_stack[free_n++] = e.slot;
        now = now_ns();
    }
}

static void drain(int src) {
    int fd = host_fd[src];
    for (int k = 0; k < READ_BATCH; k++) {
        if (free_n == 0) {  /* pool exhausted: read and drop */
            unsigned char scratch[BUFSZ];
            if (read(fd, scratch, sizeof scratch) < 0) return;
            n_in++; n_full++;
            continue;
        }
        uint32_t slot = free_stack[free_n - 1];
        unsigned char *b = pool + (size_t)slot * BUFSZ;
        ssize_t r = read(fd, b, BUFSZ);
        if (r < 0) return;  /* EAGAIN: drained */
        int64_t t_in = now_ns();
        n_in++;
        uint32_t off;
        if (r >= 20 && (b[0] >> 4) == 4) {
            uint32_t dst_ip;
            memcpy(&dst_ip, b + 16, 4);
            off = ntohl(dst_ip) - base_ip;
        } else if (r >= 40 && (b[0] >> 4) == 6) {
            n_in6++;
            if (!have6 || memcmp(b + 24, prefix6, 12) != 0) { n_unroutable++; continue; }
            uint32_t low;
            memcpy(&low, b + 36, 4);
            off = ntohl(low);
        } else { n_not_ip++; continue; }
        if (off >= block || addr_map[off] < 0) { n_unroutable++; continue; }
        int dst = addr_map[off];
        if (loss > 0 && urand() < loss) { n_loss++; continue; }
        int64_t d = delay_ns[(size_t)src * n_hosts + dst] - bias_ns;
        if (jitter_ns > 0) d += (int64_t)(urand() * (double)jitter_ns);
        if (d < 0) d = 0;
        free_n--;
        pkt_len[slot] = (uint16_t)r;
        pkt_dst[slot] = dst;
        heap_push(t_in + d, slot);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: rttgeo-engine CONFIG\n"); return 2; }
    if (load_config(argv[1]) < 0) return 2;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    if (rt_prio > 0) {
        /* Real-time priority: other work on this machine cannot delay a due packet (the kernel's
         * RT throttling still leaves 5 % of each second to others). Best effort. */
        struct sched_param sp = {.sched_priority = rt_prio};
        rt_ok = sched_setscheduler(0, SCHED_FIFO, &sp) == 0;
        if (!rt_ok) fprintf(stderr, "rttgeo-engine: no real-time priority: %s\n", strerror(errno));
        mlockall(MCL_CURRENT);
    }
    pool = malloc((size_t)max_inflight * BUFSZ);
    pkt_len = malloc(max_inflight * sizeof *pkt_len);
    pkt_dst = malloc(max_inflight * sizeof *pkt_dst);
    free_stack = malloc(max_inflight * sizeof *free_stack);
    heap = malloc(max_inflight * sizeof *heap);
    if (!pool || !pkt_len || !pkt_dst || !free_stack || !heap) { perror("rttgeo-engine: malloc"); return 1; }
    for (uint32_t i = 0; i < max_inflight; i++) free_stack[i] = max_inflight - 1 - i;
    free_n = max_inflight;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (ep < 0 || tfd < 0) { perror("rttgeo-engine: epoll/timerfd"); return 1; }
    struct epoll_event ev;
    for (int i = 0; i < n_hosts; i++) {
        int fl = fcntl(host_fd[i], F_GETFL);
        if (fl < 0 || fcntl(host_fd[i], F_SETFL, fl | O_NONBLOCK) < 0) {
            fprintf(stderr, "rttgeo-engine: fd %d of host %d: %s\n", host_fd[i], i, strerror(errno));
            return 1;
        }
        ev.events = EPOLLIN;
        ev.data.u32 = (uint32_t)i;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, host_fd[i], &ev) < 0) { perror("rttgeo-engine: epoll_ctl"); return 1; }
    }
    ev.events = EPOLLIN;
    ev.data.u32 = TIMER_TAG;
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);

    stats_efd = eventfd(0, EFD_CLOEXEC);
    pthread_t writer;
    if (stats_efd < 0 || pthread_create(&writer, NULL, stats_writer, NULL) != 0) {
        perror("rttgeo-engine: stats writer");
        return 1;
    }
    write_stats();
    fprintf(stderr, "rttgeo-engine: ready, %d hosts\n", n_hosts);
    int64_t armed_t = -1, next_stats = now_ns() + 1000000000LL;
    struct epoll_event evs[MAXEV];
    while (!stop_flag) {
        int64_t now = now_ns();
        send_due(now);
        int timeout = -1;
        if (heap_n) {
            int64_t wake = heap[0].t - spin_window();
            if (wake <= now) timeout = 0;  /* spin */
            else if (wake != armed_t) {
                struct itimerspec its;
                memset(&its, 0, sizeof its);
                its.it_value.tv_sec = wake / 1000000000LL;
                its.it_value.tv_nsec = wake % 1000000000LL;
                timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
                armed_t = wake;
            }
        }
        if (now >= next_stats) {
            post_stats();
            next_stats = now + 1000000000LL;
        }
        if (timeout < 0) {
            int64_t to_stats = (next_stats - now) / 1000000 + 1;
            timeout = (int)to_stats;
        }
        int n = epoll_wait(ep, evs, MAXEV, timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("rttgeo-engine: epoll_wait");
            break;
        }
        for (int k = 0; k < n; k++) {
            if (evs[k].data.u32 == TIMER_TAG) {
                uint64_t exp;
                if (read(tfd, &exp, sizeof exp) < 0) { /* spurious */ }
                if (armed_t > 0) {
                    int64_t over = now_ns() - armed_t;
                    if (over < 0) over = 0;
                    if (over > spin_ns) over = spin_ns;
                    overshoot_est = overshoot_est * 49 / 50;
                    if (over > overshoot_est) overshoot_est = over;
                }
                armed_t = -1;
            } else {
                drain((int)evs[k].data.u32);
            }
        }
    }
    write_stats();
    fprintf(stderr, "rttgeo-engine: stopped\n");
    return 0;
}
