# micro-weak, sourced by /etc/init.d/rcS: one console line of what a
# hostile guest writes to its serial console, for the test that `iscadm
# logs` escapes it (tests/e2e/status.sh): an OSC 52 clipboard write (ESC ]
# 52 ... BEL), a C1 CSI (U+009B as 0xc2 0x9b), bytes that are not UTF-8
# (0xff, the overlong 0xc0 0xaf, a cut 0xe2 0x82) and a tab. One printf,
# one write.
printf 'isc-escape-test: osc52=\033]52;c;aXNjLWVzY2FwZQ==\007 c1=\302\2332J bad=\377\300\257\342\202 tab=\t end\n' >/dev/console
