/* export: a built image (build/images/NAME/) for other hypervisors: OVF 1.x
 * (libxml2 descriptor, streamOptimized VMDK, SHA256 .mf), OVA (the same in
 * one ustar archive, in the order DSP0243 requires), or a compressed qcow2
 * image directory the dock can use as it is. The base disk's digest is
 * checked against the manifest first; the output appears whole or not at
 * all. images/EXPORT.md says what is written and why. */
#ifndef ISC_EXPORT_H
#define ISC_EXPORT_H

/* `isc-image export NAME --format ovf|ova|qcow2 [--out DIR] [--images DIR]
 * [--force]`; argv[0] is "export". Returns the process exit status: 0, 1 on
 * failure (one line on stderr says why), 2 on a usage error. */
int export_main(int argc, char **argv);

#endif
