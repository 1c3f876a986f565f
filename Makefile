# ISC Dock build. The source lists below are the architecture: one file per
# subsystem, each with a header that is its contract (see ../shared/STYLE.md).

CC       ?= cc
PREFIX   ?= /usr/local
DESTDIR  ?=
B        := build

PKGS     := libvirt libxml-2.0 json-c libmicrohttpd libcryptsetup libsodium libnftnl libmnl libseccomp \
            yaml-0.1
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wcast-qual -Wformat=2 -Wimplicit-fallthrough -Werror
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
OPT      ?= -O2 -g
SYSCONFDIR ?= /etc/isc
DATADIR  ?= $(PREFIX)/share/isc
CFLAGS   := -std=gnu11 -D_GNU_SOURCE $(OPT) $(WARN) $(HARDEN) $(EXTRA_CFLAGS)
PATH_DEFS := -DISC_TEMPLATE_DIR='"$(DATADIR)/templates"' -DISC_SYSCONFDIR='"$(SYSCONFDIR)"'
LDHARDEN := -pie -Wl,-z,relro,-z,now
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -I$(B)/gen
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lacl

# --- common/: the shared core every room may use: the error object, logging,
# small files, bounded JSON input, name and size rules, sha256 of a file, trimming
# key = value text, the service policy and the image manifest (read by the dock
# and isc-image export), escaping guest and client text for logs and terminals,
# the progress line of long commands (iscadm, isc-image), times as people
# type them (RFC 3339, ages, UNIX seconds).
COMMON_SRC := common/err.c common/log.c common/file.c common/jsonin.c common/validate.c \
              common/sha256.c common/policy.c common/manifest.c \
              common/text.c common/escape.c common/progress.c common/timearg.c

# --- firewall/: the nftables policy (table inet isc) through libnftnl/libmnl, rooms around fw-int.h.
FW_SRC := firewall/fw.c firewall/fw-check.c firewall/fw-batch.c firewall/fw-sets.c \
          firewall/fw-elems.c firewall/fw-rule.c firewall/fw-chains.c firewall/fw-send.c \
          firewall/fw-dry.c firewall/fw-str.c firewall/fw-read.c firewall/fw-show.c \
          firewall/fw-showfmt.c firewall/fwlog.c firewall/fw-private.c firewall/fw-flows.c \
          firewall/fw-names.c firewall/fw-names-nft.c firewall/fw-bw.c

# --- dockd/: the daemon's pure core, what the unit tests and fuzzers link:
# config (and `dockd -t`'s look at the host), nets, templates, images, records, LUKS, the agent protocol, create
# requests, profiles, checks, the audit trail and its chained log, timing,
# image pins, free space, the host ports a publish may take, the VMM jail,
# the guest audit trail (its lines, its writer, reading it back).
DOCK_CORE := dockd/config.c dockd/config-check.c dockd/netpool.c dockd/render.c dockd/image.c \
             dockd/state.c dockd/luks.c dockd/agentproto.c dockd/agentproto-sanitise.c \
             dockd/spec.c dockd/profile.c dockd/checks.c dockd/checks-xml.c \
             dockd/audit.c dockd/chainlog.c dockd/chainlog-read.c dockd/timing.c dockd/pin.c \
             dockd/diskguard.c dockd/portcheck.c dockd/vmm.c dockd/vmm-dev.c \
             dockd/config-reload.c dockd/sdnotify.c dockd/resctl.c \
             dockd/gaudit.c dockd/gaudit-write.c dockd/gaudit-read.c
# The lab file (YAML against its schema) and the plan of an up: pure.
DOCK_CORE += dockd/lab.c dockd/lab-plan.c
# The node room around node-int.h: the table (node.c) and one file per concern.
NODE_SRC := dockd/node.c dockd/flows.c dockd/node-create.c dockd/node-life.c dockd/node-spec.c dockd/node-fw.c \
            dockd/node-agent.c dockd/node-hello.c dockd/node-policy.c dockd/node-cleanse.c dockd/node-cleanse-phases.c \
            dockd/node-view.c dockd/node-logs.c dockd/node-reconcile.c dockd/node-snapshot.c \
            dockd/node-vmm.c dockd/node-gaudit.c dockd/node-resctl.c
# ... and the daemon's I/O rooms: libvirt, nodes, the agent channel, the API.
DOCK_IO := dockd/forensic.c dockd/virt.c $(NODE_SRC) dockd/agentreader.c dockd/agentchan.c \
           dockd/api.c dockd/api-handlers.c dockd/api-err.c dockd/api-audit.c dockd/api-ops.c \
           dockd/api-stream.c dockd/api-logs.c dockd/api-group.c dockd/api-listen.c \
           dockd/api-gaudit.c
# A lab's side in the dock (its record, up, down) and its routes.
DOCK_IO += dockd/lab-apply.c dockd/api-labs.c
DOCKD_MAIN := dockd/dockd.c
DOCKD_SRC := $(COMMON_SRC) $(DOCK_CORE) $(FW_SRC) $(DOCK_IO) $(DOCKD_MAIN)
DOCK_TEST_SRC := $(COMMON_SRC) $(DOCK_CORE) $(FW_SRC)

# --- iscadm: the CLI, a thin client of the API: the commands, the HTTP transport,
# the output (tables, JSON), the verified forensic export, waiting on a node,
# logs (followed too) and the times people type.
ISCADM_SRC := dockd/iscadm.c dockd/iscadm-args.c dockd/iscadm-node.c dockd/iscadm-misc.c \
              dockd/iscadm-http.c dockd/iscadm-out.c dockd/iscadm-forensic.c dockd/iscadm-wait.c \
              dockd/iscadm-logs.c dockd/iscadm-gaudit.c dockd/iscadm-lab.c

# --- guest-agent/: static, dependency-free, musl.
# agent.c is the process (options, main loop), agent-chan.c the channel,
# agent-req.c the dock's requests, agent-report.c the report schedule,
# audit.c the forwarded audit records and audit-rec.c their pure half
# (agent-int.h theirs); each check_*.c one fact; jline.c, file.c and
# netlink.c their helpers; facts.h the contract.
AGENT_SRC := guest-agent/agent.c guest-agent/agent-chan.c guest-agent/agent-req.c \
             guest-agent/agent-report.c guest-agent/audit.c guest-agent/audit-rec.c \
             guest-agent/jline.c guest-agent/file.c guest-agent/netlink.c \
             guest-agent/check_listen.c guest-agent/check_aslr.c guest-agent/check_net.c \
             guest-agent/check_swap.c guest-agent/check_mounts.c guest-agent/check_audit.c \
             guest-agent/check_nft.c guest-agent/check_service.c guest-agent/check_sysctl.c \
             guest-agent/check_sshd.c guest-agent/blockdev.c
AGENT_HDR := guest-agent/facts.h guest-agent/agent-int.h
MUSL_INC  := $(B)/musl-include
AGENT_CFLAGS := -std=gnu11 -Os $(WARN) -fstack-protector-strong -static \
                -Wl,-z,relro,-z,now -idirafter $(MUSL_INC)

# --- images/: the image builder: the CLI, recipes, kernel and modules, the cpio
# initramfs, the staged root, the build's steps, manifest.json, the image
# directory (dockd.conf's image_dir, ls, rm), Debian golden images (apt mirror,
# debootstrap, hardening; libguestfs packs them), export (the job, the OVF
# descriptor with libxml2, VMDK/.mf/OVA); else only common/.
IMAGE_SRC  := images/isc-image.c images/recipe.c images/kernel.c images/cpio.c images/stage.c \
              images/build.c images/imgmanifest.c images/imgdir.c images/imgio.c images/apt.c images/debian.c \
              images/pack.c images/repro.c images/export.c images/export-ovf.c images/export-pack.c images/scan.c \
              images/rescan.c
IMAGE_PKGS := json-c libsodium libguestfs libxml-2.0
IMAGE_LIBS := $(shell pkg-config --libs $(IMAGE_PKGS) 2>/dev/null)

# --- isc-unseal: the operator's off-dock tool (libsodium only).
UNSEAL_SRC := dockd/isc-unseal.c

# Every list above once: tests/tree/rules.sh checks each source file is in
# exactly one of them.
SOURCE_LISTS = $(COMMON_SRC) $(FW_SRC) $(DOCK_CORE) $(DOCK_IO) $(DOCKD_MAIN) $(ISCADM_SRC) \
               $(UNSEAL_SRC) $(AGENT_SRC) $(IMAGE_SRC)

# Include paths per room: a room sees common/ and the rooms it may call
# (docs/ARCHITECTURE.md; tests/tree/rules.sh holds every file to it).
INC_common   := -Icommon
INC_firewall := -Icommon -Ifirewall
INC_dockd    := -Icommon -Ifirewall -Idockd
INC_images   := -Icommon -Iimages
INC_tests    := -Icommon -Ifirewall -Idockd

BINS := $(B)/dockd $(B)/iscadm $(B)/isc-agent $(B)/isc-image $(B)/isc-unseal

.PHONY: all clean check unit tests fuzz demo image install deps lint bench image-repro format man deb package-check
all: $(BINS)

# The version every binary's --version prints (common/version.h): VERSION and
# the git commit, rewritten only when one of them changes.
ISC_GIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
$(B)/gen/isc-build.h: FORCE
	@mkdir -p $(dir $@)
	@printf '#define ISC_VERSION "%s"\n#define ISC_COMMIT "%s"\n' "$$(cat VERSION)" "$(ISC_GIT)" > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
FORCE:

# The paths compiled in (PATH_DEFS): a different PREFIX, DATADIR or
# SYSCONFDIR rebuilds the objects, so `make install PREFIX=...` never
# installs binaries that look elsewhere.
$(B)/gen/isc-paths: FORCE
	@mkdir -p $(dir $@)
	@echo '$(PATH_DEFS)' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

$(B)/obj/%.o: %.c $(B)/gen/isc-paths | $(B)/gen/isc-build.h
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) $(PATH_DEFS) $(PKG_CFLAGS) $(INC_$(firstword $(subst /, ,$<))) -MMD -MP -c $< -o $@

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

$(B)/dockd: $(call obj,$(DOCKD_SRC))
	$(CC) $(CFLAGS) $(LDHARDEN) -o $@ $^ $(PKG_LIBS) -lpthread

$(B)/iscadm: $(call obj,$(ISCADM_SRC) $(COMMON_SRC))
	$(CC) $(CFLAGS) $(LDHARDEN) -o $@ $^ $(PKG_LIBS) -lcurl

$(B)/isc-unseal: $(call obj,$(UNSEAL_SRC))
	$(CC) $(CFLAGS) $(LDHARDEN) -o $@ $^ -lsodium

$(MUSL_INC):
	@mkdir -p $@
	ln -sfn /usr/include/linux $@/linux
	ln -sfn /usr/include/asm-generic $@/asm-generic
	ln -sfn /usr/include/x86_64-linux-gnu/asm $@/asm

$(B)/isc-agent: $(AGENT_SRC) $(AGENT_HDR) | $(MUSL_INC)
	@mkdir -p $(B)
	musl-gcc $(AGENT_CFLAGS) -o $@ $(AGENT_SRC)
	strip $@

$(B)/isc-image: $(call obj,$(IMAGE_SRC) $(COMMON_SRC))
	$(CC) $(CFLAGS) $(LDHARDEN) -o $@ $^ $(IMAGE_LIBS)

# RECIPE: one recipe or several, e.g. RECIPE="micro micro-weak micro-hostile".
image: $(B)/isc-image $(B)/isc-agent
	set -e; for r in $(or $(RECIPE),micro); do $(B)/isc-image build $$r --out $(B)/images; done

# Reproducible: RECIPE (default micro) built twice into $(B)/repro/{a,b}, the
# second from the first's download cache; the manifests' inputs, root
# filesystem and file digests compared (tests/bench/repro.sh; the full
# `make bench` does it for debian-web).
image-repro: $(B)/isc-image $(B)/isc-agent
	rm -rf $(B)/repro
	B=$(B) tests/bench/repro.sh $(or $(RECIPE),micro) $(B)/repro/a $(B)/repro/b

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

# --- man pages: one source format, scdoc (docs/man/*.scd), into build/man/.
# tests/cli/man.sh (in `make check`) renders each and checks dockd.conf(5)
# against the keys dockd/config.c accepts.
MAN_PAGES := $(patsubst docs/man/%.scd,$(B)/man/%,$(wildcard docs/man/*.scd))
man: $(MAN_PAGES)
$(B)/man/%: docs/man/%.scd
	@mkdir -p $(dir $@)
	scdoc <$< >$@.tmp
	@mv $@.tmp $@

clean:
	rm -rf $(B)

# --- tests. `make check` = deps, build (gcc and clang), unit tests, the same
# under ASan+UBSan, fuzz corpus replay, firewall and end-to-end tests.
CMOCKA_LIBS := -lcmocka
$(B)/test_core: tests/unit/test_core.c $(call obj,$(DOCK_TEST_SRC))
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(INC_tests) $(LDHARDEN) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

# Record versions and their upgrade, image pins, the floor of free space.
$(B)/test_records: tests/unit/test_records.c $(call obj,$(DOCK_TEST_SRC))
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(INC_tests) $(LDHARDEN) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

$(B)/test_audit: tests/unit/test_audit.c $(call obj,$(DOCK_TEST_SRC))
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(INC_tests) $(LDHARDEN) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

# The guest audit trail (#20): the agent's audit lines, the budget, the store.
$(B)/test_gaudit: tests/unit/test_gaudit.c $(call obj,$(DOCK_TEST_SRC) dockd/agentreader.c)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(INC_tests) $(LDHARDEN) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

# The firewall's input checks, without netlink and without any dock header.
$(B)/test_fwcheck: tests/unit/test_fwcheck.c $(call obj,$(FW_SRC) common/err.c)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(INC_firewall) $(LDHARDEN) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

# The pure spec translation of the node room (node-spec.c), and the firewall's
# publish syntax it canonicalises with.
NODE_SPEC_TEST_SRC := dockd/node-spec.c $(DOCK_TEST_SRC)
$(B)/test_node_spec: tests/unit/test_node_spec.c $(call obj,$(NODE_SPEC_TEST_SRC))
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(INC_tests) $(LDHARDEN) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

# The escaping module and its users: the logger, the audit trail's syslog
# copy, the cut of the checks' evidence.
$(B)/test_escape: tests/unit/test_escape.c $(call obj,$(DOCK_TEST_SRC))
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(INC_tests) $(LDHARDEN) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

# The dock's side of the agent reader's wire: sanitising, the receive path,
# and the real reader's inherited descriptors (its arguments: the source
# tree and build/dockd).
AGENTMSG_TEST_SRC := $(DOCK_TEST_SRC) dockd/agentreader.c
$(B)/test_agentmsg: tests/unit/test_agentmsg.c $(call obj,$(AGENTMSG_TEST_SRC))
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(INC_tests) $(LDHARDEN) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

# dockd.conf's renamed keys, dist/dockd.conf, `dockd -t`'s look at the host.
$(B)/test_config: tests/unit/test_config.c $(call obj,$(DOCK_TEST_SRC))
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(INC_tests) $(LDHARDEN) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

# The progress line (common/progress.c): terminal and pipe output.
PROGRESS_TEST_SRC := common/progress.c common/escape.c
$(B)/test_progress: tests/unit/test_progress.c $(call obj,$(PROGRESS_TEST_SRC))
	$(CC) $(CFLAGS) $(INC_common) $(LDHARDEN) -o $@ $^ $(CMOCKA_LIBS)

# The times people type (common/timearg.c): pure, common/ only.
TIMEARG_TEST_SRC := common/timearg.c common/err.c common/escape.c
$(B)/test_timearg: tests/unit/test_timearg.c $(call obj,$(TIMEARG_TEST_SRC))
	$(CC) $(CFLAGS) $(INC_common) $(LDHARDEN) -o $@ $^ $(CMOCKA_LIBS)

# What a SIGHUP may change, systemd's notify socket, the journal's format.
$(B)/test_reload: tests/unit/test_reload.c $(call obj,$(DOCK_TEST_SRC))
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(INC_tests) $(LDHARDEN) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

# The API's error codes and operations' table (dockd/api-err.c, api-ops.c).
API_TEST_SRC := $(COMMON_SRC) dockd/api-err.c dockd/api-ops.c dockd/api-stream.c
$(B)/test_api: tests/unit/test_api.c $(call obj,$(API_TEST_SRC))
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(INC_tests) $(LDHARDEN) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

# The agent's pure audit half (guest-agent/audit-rec.c), built by the host's
# compiler: the record prefix, the audit line, the rules file's parser.
AGENT_AUDIT_TEST_SRC := guest-agent/audit-rec.c
$(B)/test_agent_audit: tests/unit/test_agent_audit.c $(AGENT_AUDIT_TEST_SRC) $(AGENT_HDR)
	@mkdir -p $(B)
	$(CC) $(CFLAGS) $(LDHARDEN) -o $@ tests/unit/test_agent_audit.c $(AGENT_AUDIT_TEST_SRC) $(CMOCKA_LIBS)

SAN_FLAGS := -std=gnu11 -D_GNU_SOURCE -O1 -g $(WARN) -fno-omit-frame-pointer \
             -fsanitize=address,undefined -fno-sanitize-recover=all
A := $(B)/asan
$(A)/test_core: tests/unit/test_core.c $(DOCK_TEST_SRC)
	@mkdir -p $(A)
	clang $(SAN_FLAGS) $(PKG_CFLAGS) $(INC_tests) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

$(A)/test_records: tests/unit/test_records.c $(DOCK_TEST_SRC)
	@mkdir -p $(A)
	clang $(SAN_FLAGS) $(PKG_CFLAGS) $(INC_tests) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

$(A)/test_audit: tests/unit/test_audit.c $(DOCK_TEST_SRC)
	@mkdir -p $(A)
	clang $(SAN_FLAGS) $(PKG_CFLAGS) $(INC_tests) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

$(A)/test_gaudit: tests/unit/test_gaudit.c $(DOCK_TEST_SRC) dockd/agentreader.c
	@mkdir -p $(A)
	clang $(SAN_FLAGS) $(PKG_CFLAGS) $(INC_tests) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

$(A)/test_fwcheck: tests/unit/test_fwcheck.c $(FW_SRC) common/err.c
	@mkdir -p $(A)
	clang $(SAN_FLAGS) $(PKG_CFLAGS) $(INC_firewall) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

$(A)/test_node_spec: tests/unit/test_node_spec.c $(NODE_SPEC_TEST_SRC)
	@mkdir -p $(A)
	clang $(SAN_FLAGS) $(PKG_CFLAGS) $(INC_tests) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

$(A)/test_escape: tests/unit/test_escape.c $(DOCK_TEST_SRC)
	@mkdir -p $(A)
	clang $(SAN_FLAGS) $(PKG_CFLAGS) $(INC_tests) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

$(A)/test_agentmsg: tests/unit/test_agentmsg.c $(AGENTMSG_TEST_SRC)
	@mkdir -p $(A)
	clang $(SAN_FLAGS) $(PKG_CFLAGS) $(INC_tests) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

$(A)/test_config: tests/unit/test_config.c $(DOCK_TEST_SRC)
	@mkdir -p $(A)
	clang $(SAN_FLAGS) $(PKG_CFLAGS) $(INC_tests) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

$(A)/test_progress: tests/unit/test_progress.c $(PROGRESS_TEST_SRC)
	@mkdir -p $(A)
	clang $(SAN_FLAGS) $(INC_common) -o $@ $^ $(CMOCKA_LIBS)

$(A)/test_timearg: tests/unit/test_timearg.c $(TIMEARG_TEST_SRC)
	@mkdir -p $(A)
	clang $(SAN_FLAGS) $(INC_common) -o $@ $^ $(CMOCKA_LIBS)

$(A)/test_reload: tests/unit/test_reload.c $(DOCK_TEST_SRC)
	@mkdir -p $(A)
	clang $(SAN_FLAGS) $(PKG_CFLAGS) $(INC_tests) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

$(A)/test_agent_audit: tests/unit/test_agent_audit.c $(AGENT_AUDIT_TEST_SRC) $(AGENT_HDR)
	@mkdir -p $(A)
	clang $(SAN_FLAGS) -o $@ tests/unit/test_agent_audit.c $(AGENT_AUDIT_TEST_SRC) $(CMOCKA_LIBS)
# The lab file's parser and schema, and the plan of an up (lab.h).
$(B)/test_lab: tests/unit/test_lab.c $(call obj,$(DOCK_TEST_SRC))
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(INC_tests) $(LDHARDEN) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

$(A)/test_lab: tests/unit/test_lab.c $(DOCK_TEST_SRC)
	@mkdir -p $(A)
	clang $(SAN_FLAGS) $(PKG_CFLAGS) $(INC_tests) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

$(A)/test_api: tests/unit/test_api.c $(API_TEST_SRC)
	@mkdir -p $(A)
	clang $(SAN_FLAGS) $(PKG_CFLAGS) $(INC_tests) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread

FUZZ_TARGETS := agent request manifest template profile audit egress netlisten reader escape vmmproc \
                timearg gaudit lab
FUZZ_ID_agent := 1
FUZZ_ID_request := 2
FUZZ_ID_manifest := 3
FUZZ_ID_template := 4
FUZZ_ID_profile := 5
FUZZ_ID_audit := 6
FUZZ_ID_egress := 7
FUZZ_ID_netlisten := 8
FUZZ_ID_reader := 9
FUZZ_ID_escape := 10
FUZZ_ID_vmmproc := 11
FUZZ_ID_timearg := 12
FUZZ_ID_gaudit := 13
FUZZ_ID_lab := 14
FUZZ_LINK_SRC := $(COMMON_SRC) $(DOCK_CORE) $(FW_SRC) $(DOCK_IO)
$(A)/fuzz-%: tests/fuzz/fuzz.c $(FUZZ_LINK_SRC)
	@mkdir -p $(A)
	clang $(SAN_FLAGS) -fsanitize=fuzzer -DFUZZ_TARGET=$(FUZZ_ID_$*) $(PKG_CFLAGS) $(INC_tests) \
	  -o $@ $^ $(PKG_LIBS) -lpthread

TEST_BINS := $(B)/test_core $(A)/test_core $(B)/test_records $(A)/test_records \
             $(B)/test_audit $(A)/test_audit $(B)/test_gaudit $(A)/test_gaudit $(B)/test_fwcheck \
             $(A)/test_fwcheck $(B)/test_node_spec $(A)/test_node_spec \
             $(B)/test_escape $(A)/test_escape \
             $(B)/test_agentmsg $(A)/test_agentmsg \
             $(B)/test_progress $(A)/test_progress \
             $(B)/test_timearg $(A)/test_timearg \
             $(B)/test_config $(A)/test_config \
             $(B)/test_api $(A)/test_api \
             $(B)/test_reload $(A)/test_reload \
             $(B)/test_agent_audit $(A)/test_agent_audit \
             $(B)/test_lab $(A)/test_lab \
             $(addprefix $(A)/fuzz-,$(FUZZ_TARGETS))
tests: $(TEST_BINS)

deps:
	scripts/install-deps

check: deps
	$(MAKE) all tests man
	$(MAKE) image RECIPE=micro
	$(MAKE) image RECIPE=micro-weak
	$(MAKE) image RECIPE=micro-hostile
	$(MAKE) image RECIPE=debian-web
	tests/run-all.sh

unit: $(B)/test_core $(B)/test_records $(B)/test_audit $(B)/test_gaudit $(B)/test_fwcheck $(B)/test_node_spec \
      $(B)/test_escape $(B)/test_agentmsg $(B)/test_progress $(B)/test_timearg $(B)/test_config \
      $(B)/test_api $(B)/test_reload $(B)/test_agent_audit $(B)/test_lab $(B)/dockd
	$(B)/test_core .
	$(B)/test_records .
	$(B)/test_audit
	$(B)/test_gaudit
	$(B)/test_fwcheck
	$(B)/test_node_spec
	$(B)/test_escape
	$(B)/test_agentmsg . $(B)/dockd
	$(B)/test_progress
	$(B)/test_timearg
	$(B)/test_config .
	$(B)/test_api
	$(B)/test_reload
	$(B)/test_agent_audit
	$(B)/test_lab

fuzz: $(A)/fuzz-$(T)
	mkdir -p $(B)/fuzz-work/$(T)
	$(A)/fuzz-$(T) -max_total_time=$(or $(SECONDS),60) $(B)/fuzz-work/$(T) tests/fuzz/corpus/$(T)

# --- the demo: a dock with a demo node in a throwaway private namespace.
demo: deps
	$(MAKE) all image
	tests/lib/sandbox.sh -- scripts/demo

# --- install for real use: the FHS layout (README: "What make install puts
# where"). PREFIX, DESTDIR, SYSCONFDIR; the guest agent and the test images'
# recipes are not commands of the host: PREFIX/lib/isc. systemd's units,
# sysusers.d and tmpfiles.d go where systemd looks for PREFIX (/usr and
# /usr/local: PREFIX/lib/...; any other prefix: /etc/...).
MANDIR  ?= $(PREFIX)/share/man
LIBDIR_ISC ?= $(PREFIX)/lib/isc
SYSTEMD_LIB := $(if $(filter /usr /usr/local,$(PREFIX)),$(PREFIX)/lib,/etc)
SYSTEMDUNITDIR ?= $(SYSTEMD_LIB)/systemd/system
SYSUSERSDIR ?= $(SYSTEMD_LIB)/sysusers.d
TMPFILESDIR ?= $(SYSTEMD_LIB)/tmpfiles.d
DOCDIR ?= $(PREFIX)/share/doc/isc
INSTALL_IMAGES := images/recipes images/micro images/micro-weak images/micro-hostile \
                  images/debian images/debian-web images/scap
install: all man
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR_ISC)/images \
	  $(DESTDIR)$(DATADIR)/templates/profiles $(DESTDIR)$(SYSCONFDIR) \
	  $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
	  $(DESTDIR)$(DOCDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	for p in $(MAN_PAGES); do install -m 0644 $$p $(DESTDIR)$(MANDIR)/man$${p##*.}/; done
	install -m 0755 $(B)/dockd $(DESTDIR)$(PREFIX)/sbin/dockd
	install -m 0755 $(B)/iscadm $(B)/isc-image $(B)/isc-unseal $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 $(B)/isc-agent $(DESTDIR)$(LIBDIR_ISC)/isc-agent
	install -m 0644 templates/*.xml $(DESTDIR)$(DATADIR)/templates/
	install -m 0644 templates/profiles/*.json $(DESTDIR)$(DATADIR)/templates/profiles/
	cp -R $(INSTALL_IMAGES) $(DESTDIR)$(LIBDIR_ISC)/images/
	install -m 0644 README.md guest-agent/PROTOCOL.md $(DESTDIR)$(DOCDIR)/
	for u in dist/dockd.service dist/dockd.socket; do [ ! -e $$u ] || \
	  sed 's|/usr/local/sbin|$(PREFIX)/sbin|g; s|/usr/local/share/doc/isc|$(DOCDIR)|g; s|/usr/local|$(PREFIX)|g; s|/etc/isc|$(SYSCONFDIR)|g' \
	  $$u > $(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/}; done
	install -m 0644 dist/isc.sysusers $(DESTDIR)$(SYSUSERSDIR)/isc.conf
	install -m 0644 dist/isc.tmpfiles $(DESTDIR)$(TMPFILESDIR)/isc.conf
	[ -e $(DESTDIR)$(SYSCONFDIR)/dockd.conf ] || \
	  sed 's|^#template_dir = .*|#template_dir = $(DATADIR)/templates|' dist/dockd.conf \
	  > $(DESTDIR)$(SYSCONFDIR)/dockd.conf

# --- the Debian package (debian/, debhelper 13): build/deb/isc-dock_VERSION_amd64.deb
# and its .buildinfo and .changes. Objects in debian/build (the package's
# PREFIX is /usr), no tests, no debug package; build/ and the images are not
# touched (this make's variables do not reach debian/rules: MAKEFLAGS cleared). tests/pkg/deb.sh (in `make check`) builds it and runs lintian.
DEB_DIR := $(B)/deb
deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL ISC_DEB_DIR=$(abspath $(DEB_DIR)) \
	  DEB_BUILD_OPTIONS="nocheck noautodbgsym $(DEB_BUILD_OPTIONS)" dpkg-buildpackage -us -uc -b \
	  --buildinfo-option=-u$(DEB_DIR) --changes-option=-u$(DEB_DIR) \
	  --buildinfo-file=$(DEB_DIR)/isc-dock_$$(cat VERSION)_amd64.buildinfo \
	  --changes-file=$(DEB_DIR)/isc-dock_$$(cat VERSION)_amd64.changes
	ls $(DEB_DIR)/isc-dock_*.deb

# --- the package installed with apt-get into a throwaway Debian root (debootstrap;
# the network to Debian's archive), then checked: files, group, `dockd -t`.
# Slow (minutes), so not in `make check`: README "The Debian package".
package-check: deb
	tests/pkg/install-check.sh $(DEB_DIR)

# --- benchmarks (never in `make check`; they assert nothing about time):
# tests/bench/README.md. A markdown table on stdout, build/bench/results.json.
# QUICK=1: fewer runs and nodes, under 5 minutes. The firewall's own
# tests/fw/bench.sh runs as part of it.
bench: all
	$(MAKE) image RECIPE="micro micro-hostile"
	QUICK=$(QUICK) B=$(B) tests/bench/run.sh

# clang-format (14) with the checked-in .clang-format, over every C file;
# `make check` fails on a file that differs (tests/tree/rules.sh).
format:
	git ls-files --cached --others --exclude-standard '*.c' '*.h' | xargs clang-format -i

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability $(INC_tests) common dockd firewall guest-agent images
	clang-tidy common/*.c dockd/*.c firewall/*.c -- -std=gnu11 -D_GNU_SOURCE $(PKG_CFLAGS) $(INC_tests)
