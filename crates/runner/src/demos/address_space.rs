//! "Every process has its own address space": a child changes a variable, the
//! parent's copy stays as it was, at the very same virtual address.

use std::io::{Read as _, Write as _};

use serde_json::json;

use super::params::{Kind, Spec};
use super::{Demo, DemoError, Params};
use forkline_core::event::{Body, ValueOp};
use crate::primitives::emit::{self, emit};
use crate::primitives::process;

pub static DEMO: Demo = Demo {
    name: "address_space",
    title: "Address spaces: same address, different contents",
    summary: "A child changes a variable; the parent's copy is unchanged, at the same virtual address.",
    notes: "After fork the child has a copy of the parent's whole address space, laid out the same: \
            the variable x sits at the same virtual address in both. When the child writes to x, the \
            kernel gives the child its own copy of that page (copy-on-write), so the child reads its \
            new value while the parent, at the very same address, still reads the old one. Same \
            address, different contents: variables are not shared between processes, which is why \
            they need a Queue, a Pipe or shared memory (a Value) to exchange data.",
    source: include_str!("../../../../python/programs/address_space.py"),
    source_lines: &[
        ("value:write", 10),
        ("value:read", 7),
        ("print", 7),
        ("proc.spawn", 17),
        ("proc.join:begin", 18),
        ("proc.join:end", 18),
        ("result", 19),
    ],
    lesson_output: "parent: x = 100 at 0x7f6e5c3e2f10\n\
                    child: x = 200 at 0x7f6e5c3e2f10\n\
                    parent: x = 100 at 0x7f6e5c3e2f10",
    params: &[
        Spec {
            name: "value",
            help: "x's value before the fork",
            kind: Kind::Int { default: 100, min: -1_000_000, max: 1_000_000 },
        },
        Spec {
            name: "child_value",
            help: "what the child sets x to",
            kind: Kind::Int { default: 200, min: -1_000_000, max: 1_000_000 },
        },
    ],
    hidden: false,
};

fn show(who: &str, x: &i64) -> u64 {
    let addr = x as *const i64 as u64;
    // SAFETY: `x` is a live reference; the volatile read makes the load
    // really happen in this process, after whatever the child did.
    let value = unsafe { std::ptr::read_volatile(x) };
    emit(Body::Value { op: ValueOp::Read, name: "x".into(), value });
    emit::print(format!("{who}: x = {value} at {addr:#x}"));
    addr
}

pub(super) fn run(params: &Params) -> Result<(), DemoError> {
    let child_value = params.int("child_value");
    // On the heap, like a Python object: its address is an ordinary virtual
    // address of the process, copied along with everything else by fork.
    let mut x = Box::new(params.int("value"));
    emit(Body::Value { op: ValueOp::Write, name: "x".into(), value: *x });
    let parent_addr = show("parent", &x);

    // The child reports what it saw over a pipe, so the parent's summary
    // carries the child's own observation rather than an assumption.
    let (mut report_r, report_w) = std::io::pipe()?;
    let x_ref: &mut i64 = &mut x;
    let p = process::spawn("p", Some("child"), move || {
        // SAFETY: `x_ref` points into this process's own copy of the box;
        // the volatile write makes the store really happen (and so forces the
        // kernel to copy the page for this process).
        unsafe { std::ptr::write_volatile(x_ref as *mut i64, child_value) };
        emit(Body::Value { op: ValueOp::Write, name: "x".into(), value: child_value });
        let addr = show("child", x_ref);
        // SAFETY: as above.
        let seen = unsafe { std::ptr::read_volatile(x_ref as *const i64) };
        let mut report = [0u8; 16];
        report[..8].copy_from_slice(&seen.to_le_bytes());
        report[8..].copy_from_slice(&addr.to_le_bytes());
        let mut w = &report_w;
        i32::from(w.write_all(&report).is_err())
    })?;
    let p_pid = p.pid();
    p.join()?;
    let mut report = [0u8; 16];
    report_r.read_exact(&mut report).map_err(|e| format!("the child sent no report: {e}"))?;
    let child_seen = i64::from_le_bytes(report[..8].try_into().expect("8 bytes"));
    let child_addr = u64::from_le_bytes(report[8..].try_into().expect("8 bytes"));

    let after_addr = show("parent", &x);
    // SAFETY: as in show().
    let parent_value = unsafe { std::ptr::read_volatile(&*x) };
    let same_address = child_addr == parent_addr && after_addr == parent_addr;
    emit::note(if same_address && child_seen != parent_value {
        format!("Same address {parent_addr:#x}, different contents: {parent_value} in the parent, {child_seen} in the child.")
    } else {
        format!("parent x = {parent_value} at {parent_addr:#x}; child x = {child_seen} at {child_addr:#x}")
    });
    emit::result(
        format!("x is {parent_value} in the parent and {child_seen} in the child, both at {parent_addr:#x}"),
        json!({
            "parent": { "pid": std::process::id(), "value": parent_value, "address": parent_addr, "address_hex": format!("{parent_addr:#x}") },
            "child": { "pid": p_pid, "value": child_seen, "address": child_addr, "address_hex": format!("{child_addr:#x}") },
            "same_address": same_address,
        }),
    );
    Ok(())
}
