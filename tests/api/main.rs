//! Integration tests: a real server on 127.0.0.1:0, real runs, real processes.

mod helpers;

mod address_space;
mod admission;
mod bad_input;
mod connections;
mod cpython;
mod cpython_lesson;
mod cpu_count;
mod demo_pages;
mod experiments;
mod exports;
mod faults;
mod fork;
mod fuzz;
mod gil;
mod join_zombie;
mod load;
mod headers;
mod instances;
mod lock;
mod pages;
mod pipe;
mod process;
mod queue;
mod queue_vs_thread_queue;
mod sampler;
mod share;
mod shutdown;
mod sandbox;
mod spare;
mod store;
mod step;
mod stream;
mod system;
mod threads;
