//! The native stacks the guest runs on: a few large stacks, mapped once, that the calling thread
//! switches to for the length of a call (`psm::on_stack`), so a run needs neither a thread of
//! its own nor a hand-over to one.
//!
//! A run on a pool thread cost a hand-over each way: 3–8 µs back to back and 18–31 µs after a
//! pause (the worker asleep) on this project's machine, against 6 ns for switching stacks,
//! while a small model's whole run is 10–20 µs. The stacks are what the threads were for: far
//! more native stack than wasmtime's limit ([`MAX_WASM_STACK`](crate::snapshot)) lets the
//! guest use, whatever stack the caller (a tokio worker, the runtime's executor) has.

use std::sync::{Condvar, Mutex, PoisonError};

/// One stack: `len` bytes above a guard page that is never readable or writable, so running
/// past its end faults instead of writing into whatever lies below.
struct Stack {
	/// The whole mapping, guard page first.
	mapping: *mut libc::c_void,
	mapping_len: usize,
}

// The mapping is owned by the `Stack` alone; it is used by one thread at a time (the one that
// took it from [`Stacks`]).
unsafe impl Send for Stack {}

impl Stack {
	fn map(len: usize) -> std::io::Result<Self> {
		let page = page_size();
		let len = len.div_ceil(page) * page;
		let mapping_len = len + page;
		// Reserved, not committed: pages become resident as the guest's calls reach them.
		let mapping = unsafe {
			libc::mmap(
				std::ptr::null_mut(),
				mapping_len,
				libc::PROT_READ | libc::PROT_WRITE,
				libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
				-1,
				0,
			)
		};
		if mapping == libc::MAP_FAILED {
			return Err(std::io::Error::last_os_error());
		}
		let stack = Self { mapping, mapping_len };
		// The lowest page is the guard (stacks grow down on every architecture the node runs on).
		if unsafe { libc::mprotect(mapping, page, libc::PROT_NONE) } != 0 {
			return Err(std::io::Error::last_os_error());
		}
		Ok(stack)
	}

	/// The usable stack: its lowest address and its length.
	fn usable(&self) -> (*mut u8, usize) {
		let page = page_size();
		(unsafe { self.mapping.cast::<u8>().add(page) }, self.mapping_len - page)
	}
}

impl Drop for Stack {
	fn drop(&mut self) {
		unsafe { libc::munmap(self.mapping, self.mapping_len) };
	}
}

fn page_size() -> usize {
	// SAFETY: sysconf has no preconditions.
	usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
}

/// A fixed number of stacks of one size; a call waits until one is free. Their number bounds
/// how many calls run the guest at once (and so how many instances exist besides those kept).
pub(crate) struct Stacks {
	free: Mutex<Vec<Stack>>,
	returned: Condvar,
}

impl Stacks {
	/// `count` stacks of `len` bytes each (rounded up to whole pages).
	pub(crate) fn new(count: u32, len: usize) -> std::io::Result<Self> {
		let free = (0..count).map(|_| Stack::map(len)).collect::<std::io::Result<Vec<_>>>()?;
		Ok(Self { free: Mutex::new(free), returned: Condvar::new() })
	}

	/// Runs `work` on this thread, on one of the stacks (waiting for one to be free), and
	/// answers what it answers. `work` must not unwind: a panic in it aborts the process
	/// (`psm::on_stack` cannot carry an unwind back to this stack), so callers catch it inside.
	pub(crate) fn run<R>(&self, work: impl FnOnce() -> R) -> R {
		let stack = {
			let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
			loop {
				match free.pop() {
					Some(stack) => break stack,
					None => free = self.returned.wait(free).unwrap_or_else(PoisonError::into_inner),
				}
			}
		};
		/// Gives the stack back however `work` ends.
		struct Back<'a>(&'a Stacks, Option<Stack>);
		impl Drop for Back<'_> {
			fn drop(&mut self) {
				if let Some(stack) = self.1.take() {
					self.0.free.lock().unwrap_or_else(PoisonError::into_inner).push(stack);
					self.0.returned.notify_one();
				}
			}
		}
		let (base, len) = stack.usable();
		let _back = Back(self, Some(stack));
		/// Aborts if `work` unwinds, which `psm::on_stack` forbids; `work`'s callers catch
		/// panics inside it, so this never fires.
		struct NoUnwind;
		impl Drop for NoUnwind {
			fn drop(&mut self) {
				std::process::abort();
			}
		}
		// SAFETY: `base` is page-aligned and `len` a whole number of pages of a mapping this
		// thread alone uses until `_back` returns it; `work` does not unwind out of the stack.
		unsafe {
			psm::on_stack(base, len, move || {
				let guard = NoUnwind;
				let answer = work();
				std::mem::forget(guard);
				answer
			})
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn work_runs_on_one_of_the_stacks_and_deep_calls_fit() {
		// Room for the recursion below in a debug build too (two or three copies of its array a frame).
		let stacks = Stacks::new(2, 32 << 20).unwrap();
		let ranges: Vec<(usize, usize)> = stacks
			.free
			.lock()
			.unwrap()
			.iter()
			.map(|s| {
				let (base, len) = s.usable();
				(base as usize, base as usize + len)
			})
			.collect();
		let here = stacks.run(|| psm::stack_pointer() as usize);
		assert!(ranges.iter().any(|(low, high)| (*low..*high).contains(&here)), "ran on a stack of the pool");
		// Far more than a test thread's own 2 MiB.
		fn deep(n: u32) -> u64 {
			let frame = std::hint::black_box([n as u64; 64]);
			if n == 0 {
				frame[3]
			} else {
				deep(n - 1) + frame[5]
			}
		}
		assert_eq!(stacks.run(|| deep(10_000)), 10_000 * 10_001 / 2);
		assert_eq!(stacks.free.lock().unwrap().len(), 2, "both stacks are back");
	}

	#[test]
	fn calls_beyond_the_stacks_wait_for_one() {
		let stacks = std::sync::Arc::new(Stacks::new(1, 1 << 20).unwrap());
		let running = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
		let most = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
		let threads: Vec<_> = (0..4)
			.map(|_| {
				let (stacks, running, most) = (stacks.clone(), running.clone(), most.clone());
				std::thread::spawn(move || {
					for _ in 0..20 {
						stacks.run(|| {
							let now = running.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
							most.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
							std::thread::sleep(std::time::Duration::from_micros(200));
							running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
						});
					}
				})
			})
			.collect();
		for thread in threads {
			thread.join().unwrap();
		}
		assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 1, "one stack, one call at a time");
	}
}
