//! Integration tests: a real server on 127.0.0.1:0, real runs, real processes.

mod helpers;

mod bad_input;
mod cpu_count;
mod lock;
mod pages;
mod pipe;
mod process;
mod queue;
mod queue_vs_thread_queue;
mod stream;
