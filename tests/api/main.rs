//! Integration tests: a real server on 127.0.0.1:0, real runs, real processes.

mod helpers;

mod address_space;
mod bad_input;
mod cpu_count;
mod demo_pages;
mod fork;
mod gil;
mod join_zombie;
mod pages;
mod process;
mod stream;
mod system;
mod threads;
