//! Integration tests: a real server on 127.0.0.1:0, real runs, real processes.

mod helpers;

mod bad_input;
mod cpu_count;
mod headers;
mod pages;
mod process;
mod share;
mod stream;
