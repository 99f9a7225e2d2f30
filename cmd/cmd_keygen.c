/*
 * cmd/cmd_keygen.c - `refute keygen`, and loading identity files for every
 * command that signs.
 *
 * An identity file holds a node's secret key, so it is created 0600 and
 * refused when group or others may read it (as ssh refuses a private key).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/protocol.h"
#include "cmd/cli.h"
#include "cmd/cmds.h"

int
cmd_load_identity(const struct cli_cmd *cmd, const char *path,
    struct proto_identity *id)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		return cmd_fail(cmd, "cannot open identity '%s': %s", path,
		    strerror(errno));
	}
	if ((st.st_mode & 077) != 0) {
		return cmd_fail(cmd, "identity '%s' is accessible by others "
		    "(mode %04o); run: chmod 600 %s", path,
		    (unsigned)(st.st_mode & 07777), path);
	}
	uint8_t *buf;
	size_t len;
	int rc = cmd_read_file(cmd, path, 4096, &buf, &len);
	if (rc != CLI_EXIT_OK) {
		return rc;
	}
	struct rf_errinfo ei = { "" };
	int err = proto_identity_parse((const char *)buf, len, id, &ei);
	memset(buf, 0, len);
	free(buf);
	if (err != RF_OK) {
		return cmd_fail(cmd, "'%s' is not a valid identity: %s", path,
		    ei.msg[0] ? ei.msg : rf_strerror(err));
	}
	return CLI_EXIT_OK;
}

int
cmd_keygen(int argc, char **argv)
{
	const char *out = NULL, *show = NULL;
	bool force = false;
	const struct cli_opt opts[] = {
		{ "output", 'o', CLI_STR, &out, "FILE",
		    "identity file to create (mode 0600)" },
		{ "force", 'f', CLI_FLAG, &force, NULL,
		    "replace an existing file" },
		{ "show", 0, CLI_STR, &show, "FILE",
		    "print the public key of an existing identity file" },
	};
	const struct cli_cmd cmd = {
		.path = "keygen",
		.summary = "Create a node identity: an Ed25519 key pair. Prints "
		    "the public key.\nWith --show FILE, print an existing "
		    "identity's public key instead.",
		.opts = opts,
		.n_opts = sizeof(opts) / sizeof(opts[0]),
	};
	const char *pos[1];
	size_t np;
	int rc = cmd_parse(&cmd, argc, argv, pos, &np);
	if (rc >= 0) {
		return rc;
	}
	if (show != NULL) {
		if (out != NULL || force) {
			return cmd_usage_error(&cmd, "give --show FILE or "
			    "--output FILE, not both");
		}
		if (proto_init() != RF_OK) {
			return cmd_fail(&cmd, "cannot initialise libsodium");
		}
		/* The whole file is checked (mode, format, that the secret
		 * matches the public key), so a damaged key is found now. */
		struct proto_identity id;
		rc = cmd_load_identity(&cmd, show, &id);
		if (rc != CLI_EXIT_OK) {
			return rc;
		}
		char hex[65];
		proto_pubkey_hex(&id.pk, hex);
		proto_identity_wipe(&id);
		printf("%s\n", hex);
		return CLI_EXIT_OK;
	}
	if (out == NULL) {
		return cmd_usage_error(&cmd, "missing --output FILE (or --show "
		    "FILE)");
	}
	if (!force && access(out, F_OK) == 0) {
		return cmd_fail(&cmd, "'%s' exists; use --force to replace it",
		    out);
	}
	if (proto_init() != RF_OK) {
		return cmd_fail(&cmd, "cannot initialise libsodium");
	}
	struct proto_identity id;
	if (proto_identity_generate(&id) != RF_OK) {
		return cmd_fail(&cmd, "key generation failed");
	}
	char text[PROTO_IDENTITY_TEXT_MAX];
	if (proto_identity_format(&id, text, sizeof(text)) != RF_OK) {
		proto_identity_wipe(&id);
		return cmd_fail(&cmd, "cannot format the identity");
	}
	rc = cmd_write_file(&cmd, out, text, strlen(text), 0600);
	memset(text, 0, sizeof(text));
	if (rc == CLI_EXIT_OK) {
		char hex[65];
		proto_pubkey_hex(&id.pk, hex);
		printf("%s\n", hex);
	}
	proto_identity_wipe(&id);
	return rc;
}
