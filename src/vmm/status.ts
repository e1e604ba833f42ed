// How a lapis-vmm run ends (docs/vmm.md lists the exit statuses) and what the vCPU threads report.

/** Why the VM stopped; the process exit status follows (docs/vmm.md). */
export interface StopMessage {
  kind: 'stop';
  status: number;
  reason: string;
}
export interface StatsMessage {
  kind: 'stats';
  cpu: number;
  exits: Record<string, number>;
}

/** Process exit statuses of `lapis vmm` besides the guest's own isa-debug-exit status ((code << 1) | 1, odd). */
export const Status = { HALTED: 0, USAGE: 2, NO_KVM: 4, DEVICE: 6, FAULT: 8, UNSUPPORTED: 10, TIMEOUT: 124, INTERRUPTED: 130 } as const;
