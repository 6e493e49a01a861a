//! The system-call filter an edited program runs under, compiled with
//! `seccompiler` (rust-vmm's, as Firecracker uses) and handed to bubblewrap,
//! which installs it just before it execs the interpreter.
//!
//! A denylist, not an allowlist: CPython, multiprocessing and `/bin/sh` use
//! a wide and version-dependent set of calls, and the namespaces, the
//! unprivileged user and the dropped capabilities already confine what
//! those can reach. What is refused is what a multiprocessing lesson never
//! needs and what the kernel's attack surface is made of: debugging other
//! processes, mounting, loading code into the kernel, new namespaces,
//! io_uring, userfaultfd, keyrings, perf and BPF. Refused calls fail with
//! EPERM, so a program sees an ordinary `PermissionError`.
//!
//! Three filters, stacked (the kernel runs them all; the strictest answer
//! wins): the denylist; `clone3` answered ENOSYS, so the C library falls
//! back to `clone`, whose flags a filter can read (`clone3` passes them in
//! memory), and `clone` with a namespace flag is refused; and a guard that
//! refuses the x32 system-call numbers, which carry the same architecture
//! tag as x86-64 and would otherwise walk around the first two.

use std::collections::BTreeMap;

use seccompiler::{
    BackendError, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};

/// The calls refused outright.
pub const REFUSED: &[(&str, libc::c_long)] = &[
    ("ptrace", libc::SYS_ptrace),
    ("process_vm_readv", libc::SYS_process_vm_readv),
    ("process_vm_writev", libc::SYS_process_vm_writev),
    ("kcmp", libc::SYS_kcmp),
    ("pidfd_getfd", libc::SYS_pidfd_getfd),
    ("mount", libc::SYS_mount),
    ("umount2", libc::SYS_umount2),
    ("pivot_root", libc::SYS_pivot_root),
    ("chroot", libc::SYS_chroot),
    ("open_tree", libc::SYS_open_tree),
    ("move_mount", libc::SYS_move_mount),
    ("fsopen", libc::SYS_fsopen),
    ("fsconfig", libc::SYS_fsconfig),
    ("fsmount", libc::SYS_fsmount),
    ("fspick", libc::SYS_fspick),
    ("mount_setattr", libc::SYS_mount_setattr),
    ("open_by_handle_at", libc::SYS_open_by_handle_at),
    ("name_to_handle_at", libc::SYS_name_to_handle_at),
    ("unshare", libc::SYS_unshare),
    ("setns", libc::SYS_setns),
    ("bpf", libc::SYS_bpf),
    ("perf_event_open", libc::SYS_perf_event_open),
    ("keyctl", libc::SYS_keyctl),
    ("add_key", libc::SYS_add_key),
    ("request_key", libc::SYS_request_key),
    ("kexec_load", libc::SYS_kexec_load),
    ("kexec_file_load", libc::SYS_kexec_file_load),
    ("init_module", libc::SYS_init_module),
    ("finit_module", libc::SYS_finit_module),
    ("delete_module", libc::SYS_delete_module),
    ("io_uring_setup", libc::SYS_io_uring_setup),
    ("io_uring_enter", libc::SYS_io_uring_enter),
    ("io_uring_register", libc::SYS_io_uring_register),
    ("userfaultfd", libc::SYS_userfaultfd),
    ("personality", libc::SYS_personality),
    ("iopl", libc::SYS_iopl),
    ("ioperm", libc::SYS_ioperm),
    ("swapon", libc::SYS_swapon),
    ("swapoff", libc::SYS_swapoff),
    ("reboot", libc::SYS_reboot),
    ("syslog", libc::SYS_syslog),
    ("acct", libc::SYS_acct),
    ("quotactl", libc::SYS_quotactl),
    ("settimeofday", libc::SYS_settimeofday),
    ("clock_settime", libc::SYS_clock_settime),
    ("clock_adjtime", libc::SYS_clock_adjtime),
    ("adjtimex", libc::SYS_adjtimex),
    ("sethostname", libc::SYS_sethostname),
    ("setdomainname", libc::SYS_setdomainname),
    ("vhangup", libc::SYS_vhangup),
    ("lookup_dcookie", libc::SYS_lookup_dcookie),
];

/// Every `CLONE_NEW*` flag: `clone` with any of them is refused.
const CLONE_NAMESPACE_FLAGS: [libc::c_int; 7] = [
    libc::CLONE_NEWNS,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWCGROUP,
];

/// Where x32's system-call numbers begin.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// The filters, compiled, in the order bubblewrap should install them.
pub fn filters() -> Result<Vec<BpfProgram>, BackendError> {
    let arch = TargetArch::try_from(std::env::consts::ARCH)?;
    let mut refused: BTreeMap<i64, Vec<SeccompRule>> = REFUSED.iter().map(|&(_, nr)| (nr as i64, Vec::new())).collect();
    // Rules of one call are alternatives: any namespace flag set refuses it.
    let mut new_namespace = Vec::new();
    for flag in CLONE_NAMESPACE_FLAGS {
        let flag = flag as u64;
        new_namespace.push(SeccompRule::new(vec![SeccompCondition::new(0, SeccompCmpArgLen::Qword, SeccompCmpOp::MaskedEq(flag), flag)?])?);
    }
    refused.insert(libc::SYS_clone as i64, new_namespace);
    let deny = SeccompFilter::new(refused, SeccompAction::Allow, SeccompAction::Errno(libc::EPERM as u32), arch)?;
    let clone3 = SeccompFilter::new(
        [(libc::SYS_clone3 as i64, Vec::new())].into_iter().collect(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )?;
    let mut out = vec![BpfProgram::try_from(deny)?, BpfProgram::try_from(clone3)?];
    if cfg!(target_arch = "x86_64") {
        out.push(x32_guard());
    }
    Ok(out)
}

/// The bytes bubblewrap reads from `--add-seccomp-fd`: the program's
/// instructions as the kernel's `struct sock_filter`, back to back.
pub fn to_bytes(program: &BpfProgram) -> Vec<u8> {
    let mut out = Vec::with_capacity(program.len() * 8);
    for insn in program {
        out.extend_from_slice(&insn.code.to_ne_bytes());
        out.push(insn.jt);
        out.push(insn.jf);
        out.extend_from_slice(&insn.k.to_ne_bytes());
    }
    out
}

/// Four instructions seccompiler has no rule for (a condition on the call
/// number itself): x32 numbers are refused, everything else passes on to
/// the other filters.
fn x32_guard() -> BpfProgram {
    use seccompiler::sock_filter;
    const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    const NR_OFFSET: u32 = 0; // offsetof(struct seccomp_data, nr)
    let errno = 0x0005_0000 | libc::EPERM as u32; // SECCOMP_RET_ERRNO
    let allow = 0x7fff_0000; // SECCOMP_RET_ALLOW
    vec![
        sock_filter { code: LD_W_ABS, jt: 0, jf: 0, k: NR_OFFSET },
        sock_filter { code: JGE_K, jt: 0, jf: 1, k: X32_SYSCALL_BIT },
        sock_filter { code: RET_K, jt: 0, jf: 0, k: errno },
        sock_filter { code: RET_K, jt: 0, jf: 0, k: allow },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filters_compile_and_refuse_what_the_lesson_never_needs() {
        let filters = filters().expect("the filters compile");
        assert_eq!(filters.len(), if cfg!(target_arch = "x86_64") { 3 } else { 2 });
        assert!(filters.iter().all(|f| !f.is_empty() && to_bytes(f).len() == f.len() * 8));
        for name in ["ptrace", "mount", "bpf", "perf_event_open", "keyctl", "add_key", "kexec_load", "init_module", "unshare", "setns", "io_uring_setup", "userfaultfd", "personality"] {
            assert!(REFUSED.iter().any(|(n, _)| *n == name), "{name} is refused");
        }
    }
}
