//! The lesson's building blocks, as the runner's demos use them: processes
//! started and joined, queues, pipes, locks and shared values on real shared
//! memory, threads and a GIL stand-in, a shell, compute loops, what each
//! emits, and the gates a stepped run waits at. Each knows nothing of any demo.

pub mod compute;
pub mod emit;
pub mod frame;
pub mod gil;
pub mod huge_code;
pub mod idle_cpus;
pub mod limits;
pub mod lock;
pub mod pipe;
pub mod process;
pub mod procfs;
pub mod queue;
pub mod sampler;
pub mod shell;
pub mod shm;
pub mod step;
