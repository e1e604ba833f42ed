// The hardware assists a vCPU's APIC can run under, and the VM exits lapis counts. AMD APM Vol 2 15.29 (AVIC);
// SDM Vol 3C 30 (APIC virtualization: TPR shadow, virtual-interrupt delivery, posted interrupts, IPI
// virtualization) and Appendix C (exit reasons).

/** `none`; AMD AVIC; Intel APICv (virtual-interrupt delivery and posted interrupts); a TPR shadow alone. */
export const ACCELS = ['none', 'avic', 'apicv', 'tpr-shadow'] as const;
export type Accel = (typeof ACCELS)[number];

/** The VM exits a vCPU test counts: nested VMX INIT/SIPI, AVIC incomplete IPI and NOACCEL, APICv EOI and APIC
 *  write, TPR below threshold, and a failed VM entry. */
export const VMEXIT_KINDS = ['init', 'sipi', 'incomplete-ipi', 'noaccel', 'eoi', 'tpr-below-threshold', 'apic-write', 'entry-failure', 'intr-window', 'nmi-window'] as const;
export type VmexitKind = (typeof VMEXIT_KINDS)[number];
