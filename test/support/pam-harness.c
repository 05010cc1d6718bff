/*
 * A minimal PAM application for tests: authenticates USER through SERVICE, read from
 * CONFDIR (not /etc/pam.d), with the password read whole from stdin and PAM_RHOST set.
 * Prints the PAM result name and exits 0 on PAM_SUCCESS, 1 otherwise.
 * usage: pam-harness CONFDIR SERVICE USER RHOST < password
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <security/pam_appl.h>

static char *password;

static int converse(int n, const struct pam_message **msg, struct pam_response **resp, void *data) {
  (void)data;
  struct pam_response *answers = calloc((size_t)n, sizeof(*answers));
  if (answers == NULL) return PAM_BUF_ERR;
  for (int i = 0; i < n; i++) {
    if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
      answers[i].resp = strdup(password);
    }
  }
  *resp = answers;
  return PAM_SUCCESS;
}

static char *read_all(FILE *in) {
  size_t size = 4096, used = 0;
  char *buf = malloc(size);
  size_t n;
  while (buf != NULL && (n = fread(buf + used, 1, size - used - 1, in)) > 0) {
    used += n;
    if (used + 1 == size) buf = realloc(buf, size *= 2);
  }
  if (buf != NULL) buf[used] = '\0';
  return buf;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: pam-harness CONFDIR SERVICE USER RHOST < password\n");
    return 2;
  }
  password = read_all(stdin);
  if (password == NULL) return 2;

  struct pam_conv conv = {converse, NULL};
  pam_handle_t *pamh = NULL;
  int rc = pam_start_confdir(argv[2], argv[3], &conv, argv[1], &pamh);
  if (rc == PAM_SUCCESS) rc = pam_set_item(pamh, PAM_RHOST, argv[4]);
  if (rc == PAM_SUCCESS) rc = pam_authenticate(pamh, 0);
  printf("%s\n", rc == PAM_SUCCESS ? "PAM_SUCCESS" : rc == PAM_AUTH_ERR ? "PAM_AUTH_ERR" : pam_strerror(pamh, rc));
  pam_end(pamh, rc);
  return rc == PAM_SUCCESS ? 0 : 1;
}
