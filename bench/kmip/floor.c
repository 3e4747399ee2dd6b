/* The machine's floors under a one-connection KMIP benchmark (bench/kmip/floor.sh):
 *   rtt N    N round trips of 200 bytes between two processes over TCP on 127.0.0.1 (blocking
 *            sockets, TCP_NODELAY, no TLS, no parsing): the least a request/response costs.
 *   fsync N  N times: write 16 pages (4 KiB) to a file and fsync it, as a SQLite WAL commit
 *            of a KMIP Create does: the least a durable Create costs.
 *   fdatasync N  the same with fdatasync (the file's size is unchanged after the first 256
 *            rounds, as a reused WAL's is), which tresor's SQLite calls since session 18.
 * Prints "rtt|fsync|fdatasync N ops_per_s us_per_op". With FLOOR_CHILD_CPU=C in the environment the
 * echoing process of rtt runs on CPU C (pin the other with taskset: a cross-core floor). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int rtt(int n) {
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    if (bind(ls, (void *)&a, sizeof a) || listen(ls, 1) || getsockname(ls, (void *)&a, &l)) return 1;
    pid_t child = fork();
    if (child == 0) {
        const char *cpu = getenv("FLOOR_CHILD_CPU");
        if (cpu) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(atoi(cpu), &set);
            if (sched_setaffinity(0, sizeof set, &set)) _exit(1);
        }
        int c = accept(ls, 0, 0);
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char b[512];
        for (;;) {
            ssize_t r = read(c, b, sizeof b);
            if (r <= 0) _exit(0);
            if (write(c, b, r) != r) _exit(1);
        }
    }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, (void *)&a, sizeof a)) return 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char b[200];
    memset(b, 1, sizeof b);
    double t0 = now();
    for (int i = 0; i < n; i++) {
        if (write(s, b, sizeof b) != sizeof b) return 1;
        for (size_t got = 0; got < sizeof b;) {
            ssize_t r = read(s, b + got, sizeof b - got);
            if (r <= 0) return 1;
            got += r;
        }
    }
    double dt = now() - t0;
    close(s);
    waitpid(child, 0, 0);
    printf("rtt %d %.0f %.1f\n", n, n / dt, dt / n * 1e6);
    return 0;
}

static int fsyncs(int n, const char *path, int data_only) {
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return 1;
    char page[4096];
    memset(page, 7, sizeof page);
    double t0 = now();
    for (int i = 0; i < n; i++) {
        for (int p = 0; p < 16; p++)
            if (pwrite(fd, page, sizeof page, ((off_t)(i % 256) * 16 + p) * 4096) != sizeof page) return 1;
        if (data_only ? fdatasync(fd) : fsync(fd)) return 1;
    }
    double dt = now() - t0;
    close(fd);
    unlink(path);
    printf("%s %d %.0f %.1f\n", data_only ? "fdatasync" : "fsync", n, n / dt, dt / n * 1e6);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    int n = atoi(argv[2]);
    if (!strcmp(argv[1], "rtt")) return rtt(n);
    if (!strcmp(argv[1], "fsync") && argc > 3) return fsyncs(n, argv[3], 0);
    if (!strcmp(argv[1], "fdatasync") && argc > 3) return fsyncs(n, argv[3], 1);
    return 2;
}
