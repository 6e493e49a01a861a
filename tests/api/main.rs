//! Integration tests: a real server on 127.0.0.1:0, real runs, real processes.

mod helpers;

mod admission;
mod bad_input;
mod cpu_count;
mod faults;
mod fuzz;
mod load;
mod lock;
mod pages;
mod process;
mod queue;
mod queue_vs_thread_queue;
mod shutdown;
mod stream;
