/*
 * pam_rds_iam_canary: hands an IAM token to the sandbox's token verifier.
 *
 * PostgreSQL (pam) and MariaDB (auth_pam_v1) call this module for every login of an
 * IAM user. It takes the whole password (the token; 1.5-3 KB when signed with temporary
 * credentials, so no fixed-size buffer anywhere), sends it to the verifier daemon over
 * its Unix socket and answers PAM_SUCCESS only on "ALLOW\n". Any other answer, a failure
 * to connect or a 5 s timeout is PAM_AUTH_ERR. The protocol is in sandbox/DESIGN.md.
 *
 * Module arguments: socket=<path> instance=<name> tls=<required|absent>
 * Never logs the token.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

/* One answer line is short ("DENY CREDENTIALS_EXPIRED\n"); more means a broken peer. */
#define ANSWER_MAX 256
/* The whole exchange, connect included, must finish within this (the brief's 5 s). */
#define TIMEOUT_MS 5000

struct module_args {
  const char *socket_path;
  const char *instance;
  const char *tls;
};

static int parse_args(pam_handle_t *pamh, int argc, const char **argv, struct module_args *out) {
  out->socket_path = NULL;
  out->instance = NULL;
  out->tls = "required";
  for (int i = 0; i < argc; i++) {
    if (strncmp(argv[i], "socket=", 7) == 0) {
      out->socket_path = argv[i] + 7;
    } else if (strncmp(argv[i], "instance=", 9) == 0) {
      out->instance = argv[i] + 9;
    } else if (strncmp(argv[i], "tls=", 4) == 0) {
      out->tls = argv[i] + 4;
    } else {
      pam_syslog(pamh, LOG_ERR, "unknown module argument: %s", argv[i]);
      return -1;
    }
  }
  if (out->socket_path == NULL || out->instance == NULL) {
    pam_syslog(pamh, LOG_ERR, "socket= and instance= are required");
    return -1;
  }
  return 0;
}

/* A value that would break the line protocol (or smuggle a field) is refused here. */
static int is_line_safe(const char *value) {
  return strpbrk(value, "\r\n") == NULL;
}

static long elapsed_ms(const struct timespec *start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - start->tv_sec) * 1000L + (now.tv_nsec - start->tv_nsec) / 1000000L;
}

/* Waits until fd is ready for `events` or the deadline passes; 0 when ready. */
static int wait_fd(int fd, short events, const struct timespec *start) {
  for (;;) {
    long left = TIMEOUT_MS - elapsed_ms(start);
    if (left <= 0) return -1;
    struct pollfd pfd = {.fd = fd, .events = events, .revents = 0};
    int rc = poll(&pfd, 1, (int)left);
    if (rc > 0) return 0;
    if (rc == 0) return -1;
    if (errno != EINTR) return -1;
  }
}

static int connect_socket(const char *path, const struct timespec *start) {
  struct sockaddr_un addr;
  if (strlen(path) >= sizeof(addr.sun_path)) return -1;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  strcpy(addr.sun_path, path);

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;

  if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) return fd;
  if ((errno == EINPROGRESS || errno == EAGAIN) && wait_fd(fd, POLLOUT, start) == 0) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) return fd;
  }
  close(fd);
  return -1;
}

static int send_all(int fd, const char *buf, size_t len, const struct timespec *start) {
  while (len > 0) {
    /* MSG_NOSIGNAL: a verifier that went away must not kill the database backend. */
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n > 0) {
      buf += n;
      len -= (size_t)n;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (wait_fd(fd, POLLOUT, start) != 0) return -1;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return -1;
    }
  }
  return 0;
}

static int send_field(int fd, const char *name, const char *value, const struct timespec *start) {
  if (send_all(fd, name, strlen(name), start) != 0) return -1;
  if (send_all(fd, "=", 1, start) != 0) return -1;
  if (send_all(fd, value, strlen(value), start) != 0) return -1;
  return send_all(fd, "\n", 1, start);
}

/* Reads one line (without its newline) into answer; 0 on success. */
static int read_line(int fd, char *answer, size_t size, const struct timespec *start) {
  size_t used = 0;
  while (used + 1 < size) {
    ssize_t n = recv(fd, answer + used, size - 1 - used, 0);
    if (n > 0) {
      used += (size_t)n;
      answer[used] = '\0';
      char *newline = memchr(answer, '\n', used);
      if (newline != NULL) {
        *newline = '\0';
        return 0;
      }
    } else if (n == 0) {
      return -1;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (wait_fd(fd, POLLIN, start) != 0) return -1;
    } else if (errno != EINTR) {
      return -1;
    }
  }
  return -1;
}

static int ask_verifier(pam_handle_t *pamh, const struct module_args *args, const char *user,
                        const char *rhost, const char *token) {
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);

  int fd = connect_socket(args->socket_path, &start);
  if (fd < 0) {
    pam_syslog(pamh, LOG_ERR, "cannot reach the verifier at %s", args->socket_path);
    return PAM_AUTH_ERR;
  }

  int rc = PAM_AUTH_ERR;
  char answer[ANSWER_MAX];
  if (send_all(fd, "RDSIAM/1\n", 9, &start) == 0 &&
      send_field(fd, "instance", args->instance, &start) == 0 &&
      send_field(fd, "user", user, &start) == 0 && send_field(fd, "rhost", rhost, &start) == 0 &&
      send_field(fd, "tls", args->tls, &start) == 0 &&
      send_field(fd, "token", token, &start) == 0 && send_all(fd, "\n", 1, &start) == 0) {
    if (read_line(fd, answer, sizeof(answer), &start) == 0) {
      if (strcmp(answer, "ALLOW") == 0) {
        rc = PAM_SUCCESS;
      } else if (strncmp(answer, "DENY", 4) != 0) {
        pam_syslog(pamh, LOG_ERR, "unexpected answer from the verifier");
      }
    } else {
      pam_syslog(pamh, LOG_ERR, "no answer from the verifier within %d ms", TIMEOUT_MS);
    }
  } else {
    pam_syslog(pamh, LOG_ERR, "cannot send the request to the verifier");
  }
  close(fd);
  return rc;
}

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv) {
  (void)flags;
  struct module_args args;
  if (parse_args(pamh, argc, argv, &args) != 0) return PAM_AUTH_ERR;

  const char *user = NULL;
  if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || user == NULL) return PAM_AUTH_ERR;

  /* pam_get_authtok asks the application (the database server) for the whole password. */
  const char *token = NULL;
  if (pam_get_authtok(pamh, PAM_AUTHTOK, &token, NULL) != PAM_SUCCESS || token == NULL) {
    return PAM_AUTH_ERR;
  }

  const void *rhost_item = NULL;
  const char *rhost = "";
  if (pam_get_item(pamh, PAM_RHOST, &rhost_item) == PAM_SUCCESS && rhost_item != NULL) {
    rhost = rhost_item;
  }

  if (!is_line_safe(user) || !is_line_safe(rhost) || !is_line_safe(token)) {
    return PAM_AUTH_ERR;
  }

  return ask_verifier(pamh, &args, user, rhost, token);
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv) {
  (void)pamh;
  (void)flags;
  (void)argc;
  (void)argv;
  return PAM_SUCCESS;
}

PAM_EXTERN int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv) {
  (void)pamh;
  (void)flags;
  (void)argc;
  (void)argv;
  return PAM_SUCCESS;
}
