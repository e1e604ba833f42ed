/* Prints every KVM ABI number src/vmm/abi.ts uses, from the system headers, as JSON (test/vmm/abi.test.ts). */
#include <stdio.h>
#include <stddef.h>
#include <linux/kvm.h>
#define N(x) printf("  \"%s\": %lu,\n", #x, (unsigned long)(x))
#define O(s, f) printf("  \"%s.%s\": %lu,\n", #s, #f, (unsigned long)offsetof(struct s, f))
#define S(s) printf("  \"sizeof %s\": %lu,\n", #s, (unsigned long)sizeof(struct s))
int main(void) {
  printf("{\n");
  N(KVM_GET_API_VERSION); N(KVM_CREATE_VM); N(KVM_CHECK_EXTENSION); N(KVM_GET_VCPU_MMAP_SIZE);
  N(KVM_GET_SUPPORTED_CPUID); N(KVM_CREATE_VCPU); N(KVM_SET_USER_MEMORY_REGION); N(KVM_SET_TSS_ADDR);
  N(KVM_SET_IDENTITY_MAP_ADDR); N(KVM_RUN); N(KVM_GET_REGS); N(KVM_SET_REGS); N(KVM_GET_SREGS); N(KVM_SET_SREGS);
  N(KVM_INTERRUPT); N(KVM_GET_MSRS); N(KVM_SET_MSRS); N(KVM_SET_SIGNAL_MASK); N(KVM_SET_CPUID2); N(KVM_NMI);
  N(KVM_SMI); N(KVM_GET_MP_STATE); N(KVM_SET_MP_STATE); N(KVM_ENABLE_CAP); N(KVM_GET_TSC_KHZ);
  N(KVM_X86_SET_MSR_FILTER); N(KVM_GET_VCPU_EVENTS); N(KVM_SET_VCPU_EVENTS);
  N(KVM_CAP_IRQCHIP); N(KVM_CAP_USER_NMI); N(KVM_CAP_MP_STATE); N(KVM_CAP_IMMEDIATE_EXIT);
  N(KVM_CAP_X86_USER_SPACE_MSR); N(KVM_CAP_X86_MSR_FILTER); N(KVM_CAP_GET_TSC_KHZ); N(KVM_CAP_X86_SMM);
  N(KVM_CAP_EXT_CPUID); N(KVM_CAP_SET_TSS_ADDR); N(KVM_CAP_VCPU_EVENTS);
  N(KVM_EXIT_UNKNOWN); N(KVM_EXIT_EXCEPTION); N(KVM_EXIT_IO); N(KVM_EXIT_HYPERCALL); N(KVM_EXIT_DEBUG);
  N(KVM_EXIT_HLT); N(KVM_EXIT_MMIO); N(KVM_EXIT_IRQ_WINDOW_OPEN); N(KVM_EXIT_SHUTDOWN); N(KVM_EXIT_FAIL_ENTRY);
  N(KVM_EXIT_INTR); N(KVM_EXIT_SET_TPR); N(KVM_EXIT_INTERNAL_ERROR); N(KVM_EXIT_SYSTEM_EVENT);
  N(KVM_EXIT_X86_RDMSR); N(KVM_EXIT_X86_WRMSR);
  N(KVM_MSR_EXIT_REASON_INVAL); N(KVM_MSR_EXIT_REASON_UNKNOWN); N(KVM_MSR_EXIT_REASON_FILTER);
  N(KVM_MSR_FILTER_READ); N(KVM_MSR_FILTER_WRITE); N(KVM_MSR_FILTER_DEFAULT_ALLOW);
  N(KVM_MP_STATE_RUNNABLE); N(KVM_MP_STATE_UNINITIALIZED); N(KVM_MP_STATE_INIT_RECEIVED);
  N(KVM_MP_STATE_HALTED); N(KVM_MP_STATE_SIPI_RECEIVED);
  N(KVM_EXIT_IO_IN); N(KVM_EXIT_IO_OUT);
  O(kvm_run, request_interrupt_window); O(kvm_run, immediate_exit); O(kvm_run, exit_reason);
  O(kvm_run, ready_for_interrupt_injection); O(kvm_run, if_flag); O(kvm_run, cr8); O(kvm_run, apic_base);
  O(kvm_run, io.direction); O(kvm_run, io.size); O(kvm_run, io.port); O(kvm_run, io.count); O(kvm_run, io.data_offset);
  O(kvm_run, mmio.phys_addr); O(kvm_run, mmio.data); O(kvm_run, mmio.len); O(kvm_run, mmio.is_write);
  O(kvm_run, msr.error); O(kvm_run, msr.reason); O(kvm_run, msr.index); O(kvm_run, msr.data);
  O(kvm_run, fail_entry.hardware_entry_failure_reason); O(kvm_run, internal.suberror);
  O(kvm_run, system_event.type);
  O(kvm_regs, rax); O(kvm_regs, rbx); O(kvm_regs, rcx); O(kvm_regs, rdx); O(kvm_regs, rsi); O(kvm_regs, rdi);
  O(kvm_regs, rsp); O(kvm_regs, rbp); O(kvm_regs, rip); O(kvm_regs, rflags); S(kvm_regs);
  O(kvm_sregs, cs); O(kvm_sregs, ds); O(kvm_sregs, es); O(kvm_sregs, fs); O(kvm_sregs, gs); O(kvm_sregs, ss);
  O(kvm_sregs, tr); O(kvm_sregs, ldt); O(kvm_sregs, gdt); O(kvm_sregs, idt); O(kvm_sregs, cr0); O(kvm_sregs, cr3);
  O(kvm_sregs, cr4); O(kvm_sregs, efer); O(kvm_sregs, apic_base); S(kvm_sregs);
  O(kvm_segment, base); O(kvm_segment, limit); O(kvm_segment, selector); O(kvm_segment, type); O(kvm_segment, present);
  O(kvm_segment, dpl); O(kvm_segment, db); O(kvm_segment, s); O(kvm_segment, l); O(kvm_segment, g);
  O(kvm_segment, unusable); S(kvm_segment); O(kvm_dtable, base); O(kvm_dtable, limit);
  O(kvm_userspace_memory_region, slot); O(kvm_userspace_memory_region, guest_phys_addr);
  O(kvm_userspace_memory_region, memory_size); O(kvm_userspace_memory_region, userspace_addr);
  S(kvm_userspace_memory_region);
  O(kvm_cpuid2, nent); O(kvm_cpuid2, entries); S(kvm_cpuid_entry2); O(kvm_cpuid_entry2, function);
  O(kvm_cpuid_entry2, index); O(kvm_cpuid_entry2, flags); O(kvm_cpuid_entry2, eax); O(kvm_cpuid_entry2, ebx);
  O(kvm_cpuid_entry2, ecx); O(kvm_cpuid_entry2, edx);
  O(kvm_msr_filter, flags); O(kvm_msr_filter, ranges); S(kvm_msr_filter); S(kvm_msr_filter_range);
  O(kvm_msr_filter_range, flags); O(kvm_msr_filter_range, nmsrs); O(kvm_msr_filter_range, base);
  O(kvm_msr_filter_range, bitmap);
  O(kvm_enable_cap, cap); O(kvm_enable_cap, args); S(kvm_enable_cap);
  O(kvm_msrs, nmsrs); O(kvm_msrs, entries); S(kvm_msr_entry); O(kvm_msr_entry, index); O(kvm_msr_entry, data);
  O(kvm_signal_mask, len); O(kvm_signal_mask, sigset);
  N(KVM_VCPUEVENT_VALID_NMI_PENDING); N(KVM_VCPUEVENT_VALID_SHADOW);
  O(kvm_vcpu_events, interrupt.shadow); O(kvm_vcpu_events, nmi.injected); O(kvm_vcpu_events, nmi.pending);
  O(kvm_vcpu_events, nmi.masked); O(kvm_vcpu_events, flags); S(kvm_vcpu_events);
  printf("  \"end\": 0\n}\n");
  return 0;
}
