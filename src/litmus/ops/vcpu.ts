// The host's side of a vCPU test (extension, `accel = avic | apicv | tpr-shadow`): the scheduler taking a vCPU off
// its physical CPU and putting it back (`preempt Pk`, `resume Pk`), and a posted interrupt (`post V -> Pk`, SDM
// Vol 3C 30.6 Posted-Interrupt Processing). The hypervisor layer (src/assist) does what each means.

import type { AnalyzeCtx, CpuOp, EmitCtx, ExecCtx, FootprintCtx, OpDef, OpFamily, ParseFn, RefsCtx, ValidateCtx } from './types.js';
import { cpuRef, vectorNum } from '../syntax.js';

const NO_BACKEND = 'vCPU scheduling and posted interrupts belong to a hypervisor the model plays; no backend here runs the guest that way';
const hex2 = (v: number): string => `0x${v.toString(16).padStart(2, '0')}`;

const sched: ParseFn = (p, t) => {
  p.next();
  const cpu = cpuRef(p, `a CPU (\`Pk\`) after \`${t.text}\``);
  return t.text === 'preempt' ? { kind: 'preempt', cpu, pos: t.pos } : { kind: 'resume', cpu, pos: t.pos };
};

/** The host scheduler takes a vCPU off its physical CPU, or puts it back. */
function schedDef(kind: 'preempt' | 'resume'): OpDef<'preempt'> & OpDef<'resume'> {
  return {
    where: 'agent',
    print: (op: CpuOp) => `${kind} P${op.cpu}`,
    validate(op: CpuOp, v: ValidateCtx) {
      if (v.settings.accel === 'none') v.error(op.pos, `\`${kind}\` schedules a vCPU: it needs \`accel = avic\`, \`apicv\` or \`tpr-shadow\` in config`);
    },
    refs: (op: CpuOp, r: RefsCtx) => r.cpu(op.cpu, op.pos),
    describe: (op: CpuOp) => `${kind} P${op.cpu}`,
    exec(op: CpuOp, x: ExecCtx) {
      if (kind === 'preempt') x.preempt(op.cpu);
      else x.resume(op.cpu);
      return x.pc + 1;
    },
    footprint: (op: CpuOp, f: FootprintCtx) => f.writeCpu(op.cpu),
    analyze: (_op: CpuOp, a: AnalyzeCtx) => a.refuse('vcpu-assist', NO_BACKEND),
    emit: (_op: CpuOp, e: EmitCtx) => e.refuse('vcpu-assist', NO_BACKEND),
  };
}

export const vcpu: OpFamily<'preempt' | 'resume' | 'post'> = {
  parse: {
    preempt: sched,
    resume: sched,
    post(p, t) {
      p.next();
      const vector = vectorNum(p, p.expectNum('a vector after `post`'));
      p.expect('->', 'after `post V`');
      return { kind: 'post', vector, cpu: cpuRef(p, 'a CPU (`Pk`) after `post V ->`'), pos: t.pos };
    },
  },
  defs: {
    preempt: schedDef('preempt'),
    resume: schedDef('resume'),
    post: {
      where: 'agent',
      print: (op) => `post ${hex2(op.vector)} -> P${op.cpu}`,
      validate(op, v) {
        if (v.settings.accel !== 'apicv') v.error(op.pos, '`post` is a posted interrupt: it needs `accel = apicv` in config');
      },
      refs: (op, r) => r.cpu(op.cpu, op.pos),
      describe: (op) => `post 0x${op.vector.toString(16)} -> P${op.cpu}`,
      exec(op, x) {
        x.post(op.vector, op.cpu);
        return x.pc + 1;
      },
      footprint: (op, f) => f.writeCpu(op.cpu),
      analyze: (_op, a) => a.refuse('vcpu-assist', NO_BACKEND),
      emit: (_op, e) => e.refuse('vcpu-assist', NO_BACKEND),
    },
  },
};
