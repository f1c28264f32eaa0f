// SPDX-License-Identifier: GPL-2.0
/*
 * Socket helper for the shell selftests (Python starts too slowly under TCG):
 *   sockctl try FAMILY TYPE PROTOCOL         print 0 if socket() works, else its errno
 *   sockctl hold FAMILY TYPE PROTOCOL FIFO   open the socket, write "ready" to FIFO,
 *                                            then keep it open until killed
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int fd;

	if (argc < 5 || (strcmp(argv[1], "try") && strcmp(argv[1], "hold")) ||
	    (!strcmp(argv[1], "hold") && argc < 6)) {
		fprintf(stderr, "usage: %s try|hold FAMILY TYPE PROTOCOL [FIFO]\n", argv[0]);
		return 2;
	}
	fd = socket(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	if (!strcmp(argv[1], "try")) {
		printf("%d\n", fd < 0 ? errno : 0);
		return 0;
	}
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	int fifo = open(argv[5], O_WRONLY);

	if (fifo < 0 || write(fifo, "ready", 5) != 5)
		return 1;
	close(fifo);
	pause();
	return 0;
}
