/* Writes the seed corpus of the `reader` fuzz target: struct
 * agentreader_out messages as a reader sends them (each line of the
 * agent corpus parsed, a hello, counters) and as a compromised one could
 * (counts past their arrays, strings without a NUL, bool bytes of 0x7f,
 * enums out of range, a bad magic). Trailing zero bytes are left out: the
 * target zero-fills a short input. Regenerate after a change to the
 * struct (tests/fuzz/corpus/reader is then stale):
 *   cc -std=gnu11 -D_GNU_SOURCE -Icommon -Idockd $(pkg-config --cflags json-c) \
 *     -o build/mkreader tests/fuzz/mkreader.c common/err.c common/jsonin.c \
 *     dockd/agentproto.c $(pkg-config --libs json-c) && build/mkreader tests/fuzz/corpus/reader
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentproto.h"
#include "agentreader.h"

static const char *dir;
static struct agentreader_out out;

static void put(const char *name)
{
	char path[512];
	size_t n = sizeof(out);
	const unsigned char *p = (const unsigned char *)&out;
	FILE *fp;

	while (n > 0 && p[n - 1] == 0)
		n--;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	if (fp == NULL || fwrite(p, 1, n, fp) != n || fclose(fp) != 0) {
		perror(path);
		exit(1);
	}
}

static void msg(const char *line)
{
	memset(&out, 0, sizeof(out));
	out.ao_magic = AGENTREADER_MAGIC;
	out.ao_kind = AR_MSG;
	if (agentproto_parse(line, strlen(line), &out.ao_msg, NULL) < 0) {
		fprintf(stderr, "does not parse: %s\n", line);
		exit(1);
	}
}

static void set_byte(void *at, unsigned char c)
{
	memcpy(at, &c, 1);
}

int main(int argc, char **argv)
{
	static const char *const facts[] = {
		"{\"type\":\"fact\",\"report\":1,\"id\":\"listen\",\"sockets\":[{\"proto\":\"tcp\",\"addr\":\"0.0.0.0\",\"port\":80,\"uid\":100},{\"proto\":\"udp\",\"addr\":\"0.0.0.0\",\"port\":68,\"uid\":0}]}",
		"{\"type\":\"fact\",\"report\":1,\"id\":\"aslr\",\"randomize_va_space\":2,\"nx\":true}",
		"{\"type\":\"fact\",\"report\":1,\"id\":\"net\",\"ifaces\":[{\"name\":\"eth0\",\"mac\":\"52:54:00:aa:bb:cc\",\"addrs\":[\"10.231.0.2/29\"],\"up\":true}]}",
		"{\"type\":\"fact\",\"report\":1,\"id\":\"swap\",\"devices\":[{\"path\":\"/scratch/swapfile\",\"dm_crypt\":false}]}",
		"{\"type\":\"fact\",\"report\":1,\"id\":\"mounts\",\"mounts\":[{\"target\":\"/\",\"source\":\"/dev/vda\",\"fstype\":\"ext4\",\"ro\":true},{\"target\":\"/scratch\",\"source\":\"/dev/vdb\",\"fstype\":\"ext2\",\"ro\":false}]}",
		"{\"type\":\"fact\",\"report\":1,\"id\":\"audit\",\"error\":\"no audit support\"}",
		"{\"type\":\"fact\",\"report\":1,\"id\":\"nft\",\"tables\":1,\"input_chains\":[{\"table\":\"inet filter\",\"chain\":\"input\",\"policy\":\"drop\",\"hook\":\"input\"}]}",
		"{\"type\":\"fact\",\"report\":1,\"id\":\"service\",\"found\":true,\"name\":\"httpd\",\"pid\":77,\"uid\":100,\"gid\":100,\"cap_eff\":\"0000000000000000\",\"cap_bnd\":\"0000000000000000\",\"no_new_privs\":1,\"seccomp\":0,\"count\":1}",
		"{\"type\":\"fact\",\"report\":1,\"id\":\"sysctl\",\"modules_disabled\":1,\"kptr_restrict\":2,\"dmesg_restrict\":1,\"ptrace_scope\":-1}",
		"{\"type\":\"fact\",\"report\":1,\"id\":\"sshd\",\"present\":false}",
		"{\"type\":\"hello\",\"protocol\":2,\"agent\":\"0.2.0\",\"boot_id\":\"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\",\"kernel\":\"6.1.0-isc\",\"hostname\":\"web1\"}",
		"{\"type\":\"heartbeat\",\"seq\":7,\"uptime\":3}",
		"{\"type\":\"report_end\",\"report\":1,\"facts\":10}",
		"{\"type\":\"shutdown_ack\"}",
		"{\"type\":\"fact\",\"report\":2,\"id\":\"sshd\",\"present\":true,\"password_authentication\":\"no\",\"permit_root_login\":\"prohibit-password\"}",
		"{\"type\":\"fact\",\"report\":2,\"id\":\"audit\",\"enabled\":1,\"pid\":120,\"backlog\":0,\"lost\":0}",
		"{\"type\":\"fact\",\"report\":2,\"id\":\"service\",\"found\":false}",
	};
	char name[64];

	if (argc != 2)
		return 2;
	dir = argv[1];
	for (size_t i = 0; i < sizeof(facts) / sizeof(facts[0]); i++) {
		msg(facts[i]);
		if (out.ao_msg.am_type == AGENT_MSG_FACT)
			snprintf(name, sizeof(name), "fact-%s-%zu",
				 agentproto_fact_name(out.ao_msg.am_fact.af_id), i);
		else
			snprintf(name, sizeof(name), "msg-%zu", i);
		put(name);
	}
	memset(&out, 0, sizeof(out));
	out.ao_magic = AGENTREADER_MAGIC;
	out.ao_kind = AR_STATS;
	out.ao_bad = 3;
	out.ao_dropped = 100;
	put("stats");

	/* What a compromised reader could send. */
	msg(facts[0]);
	out.ao_msg.am_fact.af.listen.l_n = 255;
	memset(out.ao_msg.am_fact.af.listen.l_sockets[1].s_addr, 'A',
	       sizeof(out.ao_msg.am_fact.af.listen.l_sockets[1].s_addr));
	put("bad-listen-count");
	msg(facts[2]);
	out.ao_msg.am_fact.af.net.n_n = 255;
	out.ao_msg.am_fact.af.net.n_ifaces[0].i_n_addrs = 200;
	set_byte(&out.ao_msg.am_fact.af.net.n_ifaces[0].i_up, 0x7f);
	put("bad-net-counts");
	msg(facts[4]);
	memset(&out.ao_msg.am_fact.af, 'B', sizeof(out.ao_msg.am_fact.af));
	put("bad-mounts-filled");
	msg(facts[3]);
	out.ao_msg.am_fact.af.swap.w_n = 9;
	set_byte(&out.ao_msg.am_fact.af.swap.w_devices[0].w_dm_crypt, 0x7f);
	set_byte(&out.ao_msg.am_fact.af_truncated, 0x7f);
	put("bad-swap-bools");
	msg(facts[6]);
	out.ao_msg.am_fact.af.nft.f_n = 255;
	memset(out.ao_msg.am_fact.af.nft.f_chains[0].c_policy, 'd',
	       sizeof(out.ao_msg.am_fact.af.nft.f_chains[0].c_policy));
	put("bad-nft");
	msg(facts[7]);
	memset(out.ao_msg.am_fact.af.service.s_cap_eff, '0',
	       sizeof(out.ao_msg.am_fact.af.service.s_cap_eff));
	out.ao_msg.am_fact.af.service.s_seccomp = -9;
	put("bad-service");
	msg(facts[5]);
	memset(out.ao_msg.am_fact.af_error, 'E', sizeof(out.ao_msg.am_fact.af_error));
	put("bad-error-unterminated");
	msg(facts[10]);
	memset(&out.ao_msg.am_hello, 'H', sizeof(out.ao_msg.am_hello));
	put("bad-hello-unterminated");
	msg(facts[10]);
	out.ao_msg.am_type = (enum agent_msg_type)77;
	put("bad-type");
	msg(facts[1]);
	out.ao_msg.am_fact.af_id = (enum agent_fact_id)AF_COUNT;
	put("bad-fact-id");
	msg(facts[1]);
	out.ao_magic = 0x41435349;
	put("bad-magic");
	return 0;
}
