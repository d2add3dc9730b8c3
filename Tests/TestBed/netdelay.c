// netdelay: the switch of a test bed whose links have a latency, for
// Tests/TestBed/cluster-start --delay (this kernel has no netem to add one).
//
//   netdelay SUBNET DELAY_NS RATE_BIT_S READY_FILE PORT...
//   PORT = DEVICE:OCTET:NETNS (NETNS a path like /run/netns/NAME, or - for
//          this process's own namespace)
//
// It makes one TUN device per port, DEVICE inside NETNS, the host there
// having the address SUBNET.OCTET. Every IPv4 packet a port sends to
// SUBNET.X goes out of port X after DELAY_NS nanoseconds, and after the
// packets queued before it have left at RATE_BIT_S bits per second (0: no
// limit), as through a store-and-forward switch port. Other packets are
// dropped. A port whose device is down (cluster-link) loses what it is sent.
// It writes READY_FILE once the devices exist, and stops on SIGTERM; the
// devices go with it. One thread: the MPI ranks of the hosts need the cores.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

enum { MAX_PORTS = 16, PACKET_MAX = 65536, BURST = 64 };
// Tail drop beyond this much in flight, as a switch with finite buffers.
static const int64_t QUEUE_LIMIT_BYTES = 64 << 20;
// The most time spun before a packet is due, however late sleeps wake.
static const int64_t MAX_LATENESS_NS = 200000;

struct packet {
    struct packet *next;
    int64_t due_ns;
    int length;
    unsigned char bytes[];
};

struct port {
    int fd;
    int octet;
    int64_t busy_until_ns;  // when the packets queued so far have left at the rate
    struct packet *head, *tail;
};

static volatile sig_atomic_t stopping = 0;
static void on_term(int signal) { (void)signal; stopping = 1; }

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "netdelay: %s: %s\n", what, strerror(errno));
    exit(1);
}

// A TUN device named `name` in the namespace at `netns` ("-": this one).
static int open_tun(const char *name, const char *netns, int home) {
    if (strcmp(netns, "-") != 0) {
        int ns = open(netns, O_RDONLY | O_CLOEXEC);
        if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) die(netns);
        close(ns);
    }
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) die("/dev/net/tun");
    struct ifreq request;
    memset(&request, 0, sizeof request);
    request.ifr_flags = IFF_TUN | IFF_NO_PI;
    strncpy(request.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &request) != 0) die(name);
    if (setns(home, CLONE_NEWNET) != 0) die("back to the first namespace");
    return fd;
}

int main(int argc, char **argv) {
    if (argc < 6 || argc - 5 > MAX_PORTS) {
        fprintf(stderr, "usage: netdelay SUBNET DELAY_NS RATE_BIT_S READY_FILE DEVICE:OCTET:NETNS...\n");
        return 64;
    }
    unsigned subnet[3];
    if (sscanf(argv[1], "%u.%u.%u", &subnet[0], &subnet[1], &subnet[2]) != 3) {
        fprintf(stderr, "netdelay: subnet '%s': want A.B.C\n", argv[1]);
        return 64;
    }
    const int64_t delay_ns = strtoll(argv[2], NULL, 10);
    const double rate = strtod(argv[3], NULL);
    // Nanoseconds per byte on a port (0: no limit).
    const double ns_per_byte = rate > 0 ? 8e9 / rate : 0;

    int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home < 0) die("/proc/self/ns/net");
    struct port ports[MAX_PORTS];
    struct pollfd polled[MAX_PORTS];
    struct port *by_octet[256] = {0};
    int count = 0;
    for (int a = 5; a < argc; a++, count++) {
        char *spec = strdup(argv[a]);
        char *device = strtok(spec, ":"), *octet = strtok(NULL, ":"), *netns = strtok(NULL, "");
        if (!device || !octet || !netns || atoi(octet) < 1 || atoi(octet) > 254) {
            fprintf(stderr, "netdelay: port '%s': want DEVICE:OCTET:NETNS\n", argv[a]);
            return 64;
        }
        ports[count] = (struct port){.fd = open_tun(device, netns, home), .octet = atoi(octet)};
        by_octet[ports[count].octet] = &ports[count];
        polled[count] = (struct pollfd){.fd = ports[count].fd, .events = POLLIN};
        free(spec);
    }

    // Timers as exact as the kernel gives them (the default slack is 50 us),
    // and a real-time priority: the ranks of the hosts poll and yield on the
    // same cores, and a switch that waits its turn behind them adds their
    // time slices to every packet. It sleeps in ppoll between packets.
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    struct sched_param priority = {.sched_priority = 10};
    if (sched_setscheduler(0, SCHED_FIFO, &priority) != 0)
        fprintf(stderr, "netdelay: no real-time priority (%s): delays will be longer\n", strerror(errno));
    struct sigaction term = {.sa_handler = on_term};
    sigaction(SIGTERM, &term, NULL);
    sigaction(SIGINT, &term, NULL);
    FILE *ready = fopen(argv[4], "w");
    if (!ready) die(argv[4]);
    fprintf(ready, "%d\n", (int)getpid());
    fclose(ready);

    static unsigned char buffer[PACKET_MAX];
    int64_t queued_bytes = 0, dropped = 0;
    int64_t lateness_ns = 20000;
    while (!stopping) {
        // Deliver what is due; sleep until the next packet is.
        int64_t now = now_ns(), next = INT64_MAX;
        for (int p = 0; p < count; p++) {
            struct port *port = &ports[p];
            while (port->head && port->head->due_ns <= now) {
                struct packet *packet = port->head;
                // A device that is down (a cut link) refuses it: lost, as on a wire.
                if (write(port->fd, packet->bytes, (size_t)packet->length) < 0) dropped++;
                port->head = packet->next;
                if (!port->head) port->tail = NULL;
                queued_bytes -= packet->length;
                free(packet);
            }
            if (port->head && port->head->due_ns < next) next = port->head->due_ns;
        }
        // A sleeping thread wakes late (tens of microseconds in a virtual
        // machine): sleep until that much before the next packet is due, as
        // measured on earlier sleeps, and spin the rest, watching for input.
        struct timespec wait = {0, 0}, *timeout = NULL;
        int64_t wake_target = 0;
        if (next != INT64_MAX) {
            int64_t left = next - now_ns() - lateness_ns;
            if (left > 0) {
                wake_target = now_ns() + left;
                wait = (struct timespec){.tv_sec = left / 1000000000, .tv_nsec = left % 1000000000};
            }
            timeout = &wait;
        }
        int events = ppoll(polled, (nfds_t)count, timeout, NULL);
        if (events < 0 && errno != EINTR) die("ppoll");
        if (events == 0 && wake_target) {
            int64_t late = now_ns() - wake_target;
            if (late < 0) late = 0;
            if (late > MAX_LATENESS_NS) late = MAX_LATENESS_NS;
            lateness_ns += (late - lateness_ns) / 8;
        }

        now = now_ns();
        for (int p = 0; p < count; p++) {
            if (!(polled[p].revents & POLLIN)) continue;
            for (int k = 0; k < BURST; k++) {
                ssize_t length = read(polled[p].fd, buffer, sizeof buffer);
                if (length <= 0) break;
                // IPv4 to a host of the subnet, or dropped.
                if (length < 20 || buffer[0] >> 4 != 4 || buffer[16] != subnet[0] || buffer[17] != subnet[1]
                    || buffer[18] != subnet[2])
                    continue;
                struct port *out = by_octet[buffer[19]];
                if (!out || queued_bytes + length > QUEUE_LIMIT_BYTES) continue;
                struct packet *packet = malloc(sizeof *packet + (size_t)length);
                if (!packet) continue;
                memcpy(packet->bytes, buffer, (size_t)length);
                packet->length = (int)length;
                packet->next = NULL;
                int64_t start = out->busy_until_ns > now ? out->busy_until_ns : now;
                out->busy_until_ns = start + (int64_t)(length * ns_per_byte);
                packet->due_ns = out->busy_until_ns + delay_ns;
                if (out->tail) out->tail->next = packet; else out->head = packet;
                out->tail = packet;
                queued_bytes += length;
            }
        }
    }
    fprintf(stderr, "netdelay: stopped; %lld packets lost to devices that were down\n", (long long)dropped);
    return 0;
}
