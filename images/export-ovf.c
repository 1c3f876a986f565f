/*
 * export-ovf.c: the OVF 1.x descriptor of an export (export-int.h), written
 * with libxml2's xmlTextWriter: the References, the disk, the network, and
 * one VirtualSystem with the hardware the manifest recommends; EFI firmware
 * in VMware's key for a golden image. images/ovf/envelope.rng is what it
 * promises.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libxml/xmlwriter.h>

#include "export-int.h"

/* OVF 1.x and the CIM schemas it uses; VMware's for the firmware key that
 * VMware and virt-v2v (input/OVF.ml) read. */
#define NS_OVF "http://schemas.dmtf.org/ovf/envelope/1"
#define NS_RASD \
	"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
#define NS_VSSD         "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
#define NS_VMW          "http://www.vmware.com/schema/ovf"
#define OVF_DISK_FORMAT "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"
#define OVF_NETWORK     "VM Network"
/* CIM_OperatingSystem 96 is "Debian 64-Bit"; VMware's matching guest id.
 * vmx-14 (ESXi 6.7) is the oldest hardware family that knows this id with
 * EFI firmware. */
#define OVF_OS_ID       "96"
#define OVF_OS_VMW      "debian10_64Guest"
#define OVF_SYSTEM_TYPE "vmx-14"

/* --- OVF descriptor --------------------------------------------------------- */

/* xmlTextWriter calls that stop at the first failure; checked once at the end. */
struct ovf_writer {
	xmlTextWriterPtr ow_w;
	bool ow_bad;
};

static void ovf_start(struct ovf_writer *o, const char *name)
{
	if (!o->ow_bad && xmlTextWriterStartElement(o->ow_w, (const xmlChar *)name) < 0)
		o->ow_bad = true;
}

static void ovf_attr(struct ovf_writer *o, const char *name, const char *value)
{
	if (!o->ow_bad &&
	    xmlTextWriterWriteAttribute(o->ow_w, (const xmlChar *)name, (const xmlChar *)value) < 0)
		o->ow_bad = true;
}

static void ovf_attr_u64(struct ovf_writer *o, const char *name, uint64_t value)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)value);
	ovf_attr(o, name, buf);
}

static void ovf_end(struct ovf_writer *o)
{
	if (!o->ow_bad && xmlTextWriterEndElement(o->ow_w) < 0)
		o->ow_bad = true;
}

static void ovf_elem(struct ovf_writer *o, const char *name, const char *text)
{
	if (!o->ow_bad &&
	    xmlTextWriterWriteElement(o->ow_w, (const xmlChar *)name, (const xmlChar *)text) < 0)
		o->ow_bad = true;
}

/* One <Item>: rasd name/value pairs, NULL-terminated, in the alphabetical
 * order the CIM RASD schema's sequence requires. */
static void ovf_item(struct ovf_writer *o, const char *const *kv)
{
	ovf_start(o, "Item");
	for (; kv[0]; kv += 2)
		ovf_elem(o, kv[0], kv[1]);
	ovf_end(o);
}

static void ovf_hardware(struct ovf_writer *o, const struct export_job *ej)
{
	char cpus[24], cpus_name[48], mem[24], mem_name[48];

	snprintf(cpus, sizeof(cpus), "%llu", (unsigned long long)ej->ej_vcpus);
	snprintf(cpus_name, sizeof(cpus_name), "%llu virtual CPU(s)",
		 (unsigned long long)ej->ej_vcpus);
	snprintf(mem, sizeof(mem), "%llu", (unsigned long long)ej->ej_memory_mib);
	snprintf(mem_name, sizeof(mem_name), "%llu MB of memory",
		 (unsigned long long)ej->ej_memory_mib);

	ovf_start(o, "VirtualHardwareSection");
	ovf_elem(o, "Info", "Virtual hardware requirements");
	ovf_start(o, "System");
	ovf_elem(o, "vssd:ElementName", "Virtual Hardware Family");
	ovf_elem(o, "vssd:InstanceID", "0");
	ovf_elem(o, "vssd:VirtualSystemIdentifier", ej->ej_image.im_name);
	ovf_elem(o, "vssd:VirtualSystemType", OVF_SYSTEM_TYPE);
	ovf_end(o);
	/* virt-v2v reads VirtualQuantity of type 4 as MiB whatever the units. */
	ovf_item(o,
		 (const char *const[]){ "rasd:AllocationUnits", "hertz * 10^6", "rasd:Description",
					"Number of virtual CPUs", "rasd:ElementName", cpus_name,
					"rasd:InstanceID", "1", "rasd:ResourceType", "3",
					"rasd:VirtualQuantity", cpus, NULL });
	ovf_item(o,
		 (const char *const[]){ "rasd:AllocationUnits", "byte * 2^20", "rasd:Description",
					"Memory size", "rasd:ElementName", mem_name,
					"rasd:InstanceID", "2", "rasd:ResourceType", "4",
					"rasd:VirtualQuantity", mem, NULL });
	/* Paravirtual SCSI and vmxnet3: the Debian cloud kernel drives these
	 * (vmw_pvscsi, vmxnet3) and not LSI Logic, AHCI or E1000; virt-v2v
	 * swaps them for virtio either way. */
	ovf_item(o,
		 (const char *const[]){ "rasd:Address", "0", "rasd:Description", "SCSI Controller",
					"rasd:ElementName", "SCSI Controller 0", "rasd:InstanceID",
					"3", "rasd:ResourceSubType", "VirtualSCSI",
					"rasd:ResourceType", "6", NULL });
	ovf_item(o,
		 (const char *const[]){ "rasd:AddressOnParent", "0", "rasd:ElementName",
					"Hard Disk 1", "rasd:HostResource", "ovf:/disk/vmdisk1",
					"rasd:InstanceID", "4", "rasd:Parent", "3",
					"rasd:ResourceType", "17", NULL });
	ovf_item(o,
		 (const char *const[]){ "rasd:AddressOnParent", "7", "rasd:AutomaticAllocation",
					"true", "rasd:Connection", OVF_NETWORK, "rasd:Description",
					"VmxNet3 ethernet adapter on \"" OVF_NETWORK "\"",
					"rasd:ElementName", "Network adapter 1", "rasd:InstanceID",
					"5", "rasd:ResourceSubType", "VmxNet3", "rasd:ResourceType",
					"10", NULL });
	if (ej->ej_image.im_boot == IMAGE_BOOT_EFI) {
		ovf_start(o, "vmw:Config");
		ovf_attr(o, "ovf:required", "false");
		ovf_attr(o, "vmw:key", "firmware");
		ovf_attr(o, "vmw:value", "efi");
		ovf_end(o);
	}
	ovf_end(o);
}

/* The OVF 1.x descriptor (images/ovf/envelope.rng is what we promise). */
int export_ovf(const struct export_job *ej, const char *path, const char *disk, uint64_t disk_size,
	       struct dock_err *err)
{
	struct ovf_writer o = { .ow_w = xmlNewTextWriterFilename(path, 0), .ow_bad = false };
	const char *name = ej->ej_image.im_name;
	char product[IMAGE_NAME_MAX + 16];

	if (o.ow_w == NULL)
		return err_set(err, 500, EIO, "%s: cannot create the OVF descriptor", path);
	snprintf(product, sizeof(product), "ISC image %s", name);
	if (xmlTextWriterSetIndent(o.ow_w, 1) < 0 ||
	    xmlTextWriterSetIndentString(o.ow_w, (const xmlChar *)"  ") < 0 ||
	    xmlTextWriterStartDocument(o.ow_w, NULL, "UTF-8", NULL) < 0)
		o.ow_bad = true;
	ovf_start(&o, "Envelope");
	ovf_attr(&o, "xmlns", NS_OVF);
	ovf_attr(&o, "xmlns:ovf", NS_OVF);
	ovf_attr(&o, "xmlns:rasd", NS_RASD);
	ovf_attr(&o, "xmlns:vssd", NS_VSSD);
	ovf_attr(&o, "xmlns:vmw", NS_VMW);
	ovf_attr(&o, "ovf:version", "1.0");
	ovf_attr(&o, "xml:lang", "en-US");

	ovf_start(&o, "References");
	ovf_start(&o, "File");
	ovf_attr(&o, "ovf:href", disk);
	ovf_attr(&o, "ovf:id", "file1");
	ovf_attr_u64(&o, "ovf:size", disk_size);
	ovf_end(&o);
	ovf_end(&o);

	ovf_start(&o, "DiskSection");
	ovf_elem(&o, "Info", "Virtual disk information");
	ovf_start(&o, "Disk");
	ovf_attr_u64(&o, "ovf:capacity", ej->ej_capacity);
	ovf_attr(&o, "ovf:capacityAllocationUnits", "byte");
	ovf_attr(&o, "ovf:diskId", "vmdisk1");
	ovf_attr(&o, "ovf:fileRef", "file1");
	ovf_attr(&o, "ovf:format", OVF_DISK_FORMAT);
	ovf_attr_u64(&o, "ovf:populatedSize", ej->ej_populated);
	ovf_end(&o);
	ovf_end(&o);

	ovf_start(&o, "NetworkSection");
	ovf_elem(&o, "Info", "The list of logical networks");
	ovf_start(&o, "Network");
	ovf_attr(&o, "ovf:name", OVF_NETWORK);
	ovf_elem(&o, "Description", "The " OVF_NETWORK " network");
	ovf_end(&o);
	ovf_end(&o);

	ovf_start(&o, "VirtualSystem");
	ovf_attr(&o, "ovf:id", name);
	ovf_elem(&o, "Info", "An ISC service image");
	ovf_elem(&o, "Name", name);
	ovf_start(&o, "ProductSection");
	ovf_elem(&o, "Info", "The image this appliance was exported from");
	ovf_elem(&o, "Product", product);
	ovf_elem(&o, "Version", ej->ej_image.im_built[0] ? ej->ej_image.im_built : "unknown");
	ovf_end(&o);
	ovf_start(&o, "OperatingSystemSection");
	ovf_attr(&o, "ovf:id", OVF_OS_ID);
	ovf_attr(&o, "vmw:osType", OVF_OS_VMW);
	ovf_elem(&o, "Info", "The kind of installed guest operating system");
	ovf_elem(&o, "Description", "Debian GNU/Linux (64-bit)");
	ovf_end(&o);
	ovf_hardware(&o, ej);
	ovf_end(&o); /* VirtualSystem */
	ovf_end(&o); /* Envelope */

	if (!o.ow_bad && xmlTextWriterEndDocument(o.ow_w) < 0)
		o.ow_bad = true;
	xmlFreeTextWriter(o.ow_w); /* flushes and closes */
	if (o.ow_bad)
		return err_set(err, 500, EIO, "%s: cannot write the OVF descriptor", path);
	return 0;
}
