// The hardware-assist layer's public surface: a machine's CPUs as vCPUs under AVIC, APICv or a TPR shadow.
export { Assist, type AssistConfig, type VcpuNext } from './assist.js';
export { avicIpi, type AvicIpi } from './avic.js';
export { ACCELS, VMEXIT_KINDS, type Accel, type VmexitKind } from '../arch/assist.js';
