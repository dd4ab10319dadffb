//! Which pages of a kept instance's memory were written since they were last looked at, from
//! the kernel: so resetting the instance for its next run rewrites those pages, not its whole
//! memory (`snapshot.rs`, `Kept`).
//!
//! On Linux the memory is registered with a userfaultfd in asynchronous
//! write-protect mode: the kernel then marks a protected page written on its first write (a
//! fault handled in the kernel, nothing is sent to this process), and the `PAGEMAP_SCAN` ioctl
//! lists the written pages (and now and then protects them again, in the same call). A page
//! protected and then written, or written and not protected since, is reported as written. A
//! page never protected is not always reported (a range without a page table reads as not
//! written): the caller rewrites those itself (the first reset of a kept instance compares
//! every block; the pages the memory grows by are rewritten, then protected). Where the kernel
//! cannot do this exactly (before 6.9 and 6.8.10, whose scan could read a swapped-out page as
//! protected: upstream 2c7ad9a590d1), or refuses it (a seccomp profile that refuses
//! `userfaultfd`), or on an architecture whose ioctl numbers are not the generic ones,
//! [`WrittenPages::track`] answers `None` and the engine compares every block of the memory
//! instead: the same result, slower.

use std::ops::Range;

/// Every this many calls of [`WrittenPages::take`], the pages it reports are protected again.
/// In between they stay unprotected, so they are reported (and compared by the reset) at every
/// call: a page that every run writes (the top of the stack, the heap's start) then costs a
/// comparison of 4 KiB, about 0.1 µs, instead of the kernel's fault on its first write, about
/// 0.5 µs; protecting them again now and then sheds the pages no longer written. (Every second
/// call in the engine's tests, so that both kinds of call are tested.)
const PROTECT_AGAIN_EVERY: u32 = if cfg!(test) { 2 } else { 64 };

/// Pages written in one registered region of memory.
pub(crate) struct WrittenPages {
	#[cfg(target_os = "linux")]
	tracker: linux::Tracker,
	/// Calls of [`take`](Self::take) so far.
	takes: u32,
}

impl WrittenPages {
	/// Tracks writes to the `reserved` bytes at `start` (the whole reservation the memory may
	/// grow into): nothing is protected yet, so every page reads as written until
	/// [`take`](Self::take) has protected it. `None` if this kernel cannot.
	///
	/// # Safety
	///
	/// The bytes are a private anonymous mapping that outlives the answer, and nothing changes
	/// their content but writes through virtual addresses (no `madvise` that drops pages).
	pub(crate) unsafe fn track(start: *mut u8, reserved: usize) -> Option<Self> {
		#[cfg(target_os = "linux")]
		{
			// SAFETY: the caller's promise.
			unsafe { linux::Tracker::new(start, reserved) }.map(|tracker| Self { tracker, takes: 0 })
		}
		#[cfg(not(target_os = "linux"))]
		{
			let _ = (start, reserved);
			None
		}
	}

	/// Whether the tracked bytes start at `start`.
	pub(crate) fn tracks(&self, start: *mut u8) -> bool {
		#[cfg(target_os = "linux")]
		{
			self.tracker.start == start as usize
		}
		#[cfg(not(target_os = "linux"))]
		{
			let _ = start;
			false
		}
	}

	/// Protects the bytes `range` (offsets from the start, within the registered bytes): from
	/// here a write into them is reported. `false` if the kernel refused, when nothing can be
	/// trusted.
	pub(crate) fn protect(&self, range: Range<usize>) -> bool {
		#[cfg(target_os = "linux")]
		{
			self.tracker.protect(range)
		}
		#[cfg(not(target_os = "linux"))]
		{
			let _ = range;
			false
		}
	}

	/// Appends to `written` the byte ranges of the first `len` bytes not protected: those
	/// written since they were last protected, and those never protected, as offsets from the
	/// start. Every [`PROTECT_AGAIN_EVERY`]th call protects them again. `false` if the kernel
	/// did not answer for the whole range: then nothing can be trusted and the caller rewrites
	/// everything.
	pub(crate) fn take(&mut self, len: usize, written: &mut Vec<Range<usize>>) -> bool {
		#[cfg(target_os = "linux")]
		{
			self.takes = self.takes.wrapping_add(1);
			self.tracker.take(len, self.takes % PROTECT_AGAIN_EVERY == 0, written)
		}
		#[cfg(not(target_os = "linux"))]
		{
			let _ = (len, written);
			false
		}
	}
}

#[cfg(target_os = "linux")]
mod linux {
	use std::{
		fs::File,
		ops::Range,
		os::fd::{AsRawFd, FromRawFd, OwnedFd},
		sync::OnceLock,
	};

	/// `_IOWR(kind, number, size)` of the kernel's headers.
	const fn read_write(kind: u8, number: u8, size: usize) -> u64 {
		(3 << 30) | ((size as u64) << 16) | ((kind as u64) << 8) | number as u64
	}

	// linux/userfaultfd.h
	const UFFD_USER_MODE_ONLY: libc::c_int = 1;
	const UFFD_API: u64 = 0xaa;
	const UFFD_FEATURE_WP_UNPOPULATED: u64 = 1 << 13;
	const UFFD_FEATURE_WP_ASYNC: u64 = 1 << 15;
	const UFFDIO_REGISTER_MODE_WP: u64 = 1 << 1;

	#[repr(C)]
	struct UffdioApi {
		api: u64,
		features: u64,
		ioctls: u64,
	}

	#[repr(C)]
	struct UffdioRange {
		start: u64,
		len: u64,
	}

	#[repr(C)]
	struct UffdioRegister {
		range: UffdioRange,
		mode: u64,
		ioctls: u64,
	}

	#[repr(C)]
	struct UffdioWriteprotect {
		range: UffdioRange,
		mode: u64,
	}

	const UFFDIO_WRITEPROTECT_MODE_WP: u64 = 1 << 0;

	const UFFDIO_API: u64 = read_write(0xaa, 0x3f, size_of::<UffdioApi>());
	const UFFDIO_REGISTER: u64 = read_write(0xaa, 0x00, size_of::<UffdioRegister>());
	const UFFDIO_WRITEPROTECT: u64 = read_write(0xaa, 0x06, size_of::<UffdioWriteprotect>());

	// linux/fs.h
	const PAGE_IS_WRITTEN: u64 = 1 << 1;
	const PM_SCAN_WP_MATCHING: u64 = 1 << 0;
	const PM_SCAN_CHECK_WPASYNC: u64 = 1 << 1;

	#[repr(C)]
	#[derive(Clone, Copy, Default)]
	struct PageRegion {
		start: u64,
		end: u64,
		categories: u64,
	}

	#[repr(C)]
	struct PmScanArg {
		size: u64,
		flags: u64,
		start: u64,
		end: u64,
		walk_end: u64,
		vec: u64,
		vec_len: u64,
		max_pages: u64,
		category_inverted: u64,
		category_mask: u64,
		category_anyof_mask: u64,
		return_mask: u64,
	}

	const PAGEMAP_SCAN: u64 = read_write(b'f', 16, size_of::<PmScanArg>());

	/// Regions one scan may answer; a scan that finds more stops early and is continued.
	const REGIONS: usize = 64;

	/// This process's `/proc/self/pagemap`, opened once.
	fn pagemap() -> Option<&'static File> {
		static PAGEMAP: OnceLock<Option<File>> = OnceLock::new();
		PAGEMAP.get_or_init(|| File::open("/proc/self/pagemap").ok()).as_ref()
	}

	pub(super) struct Tracker {
		/// The userfaultfd the region is registered with: closing it ends the tracking and
		/// lifts every protection.
		userfaultfd: OwnedFd,
		pub(super) start: usize,
		reserved: usize,
	}

	impl Tracker {
		/// # Safety
		///
		/// As [`WrittenPages::track`](super::WrittenPages::track).
		pub(super) unsafe fn new(start: *mut u8, reserved: usize) -> Option<Self> {
			if !super::kernel_can_track() {
				return None;
			}
			pagemap()?;
			// SAFETY: a plain system call; its answer is checked.
			let fd = unsafe {
				libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC | libc::O_NONBLOCK | UFFD_USER_MODE_ONLY)
			};
			let fd = libc::c_int::try_from(fd).ok().filter(|fd| *fd >= 0)?;
			// SAFETY: `fd` was just opened and is owned by nothing else.
			let userfaultfd = unsafe { OwnedFd::from_raw_fd(fd) };
			let mut api =
				UffdioApi { api: UFFD_API, features: UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED, ioctls: 0 };
			// SAFETY: the argument is the structure this request reads and writes.
			if unsafe { libc::ioctl(userfaultfd.as_raw_fd(), UFFDIO_API as _, &mut api) } != 0 {
				return None;
			}
			let mut register = UffdioRegister {
				range: UffdioRange { start: start as u64, len: reserved as u64 },
				mode: UFFDIO_REGISTER_MODE_WP,
				ioctls: 0,
			};
			// SAFETY: as above; the range is the caller's mapping.
			if unsafe { libc::ioctl(userfaultfd.as_raw_fd(), UFFDIO_REGISTER as _, &mut register) } != 0 {
				return None;
			}
			let tracker = Self { userfaultfd, start: start as usize, reserved };
			// The kernel must also answer the scan (6.7 and later; 6.9 for an exact answer, checked above), or nothing is tracked.
			tracker.scan(0..0, 0, &mut Vec::new()).then_some(tracker)
		}

		pub(super) fn protect(&self, range: Range<usize>) -> bool {
			if range.start > range.end || range.end > self.reserved {
				return false;
			}
			if range.is_empty() {
				return true;
			}
			let mut protect = UffdioWriteprotect {
				range: UffdioRange { start: (self.start + range.start) as u64, len: range.len() as u64 },
				mode: UFFDIO_WRITEPROTECT_MODE_WP,
			};
			// SAFETY: the argument is the structure this request reads and writes; the range is
			// registered memory.
			unsafe { libc::ioctl(self.userfaultfd.as_raw_fd(), UFFDIO_WRITEPROTECT as _, &mut protect) == 0 }
		}

		pub(super) fn take(&self, len: usize, protect: bool, written: &mut Vec<Range<usize>>) -> bool {
			let flags = if protect { PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC } else { PM_SCAN_CHECK_WPASYNC };
			len <= self.reserved && self.scan(0..len, flags, written)
		}

		/// Scans `range` (offsets) for written pages with `flags`, appending them to `written`.
		fn scan(&self, range: Range<usize>, flags: u64, written: &mut Vec<Range<usize>>) -> bool {
			let Some(pagemap) = pagemap() else { return false };
			let end = (self.start + range.end) as u64;
			let mut at = (self.start + range.start) as u64;
			let mut regions = [PageRegion::default(); REGIONS];
			loop {
				let mut arg = PmScanArg {
					size: size_of::<PmScanArg>() as u64,
					flags,
					start: at,
					end,
					walk_end: 0,
					vec: regions.as_mut_ptr() as u64,
					vec_len: REGIONS as u64,
					max_pages: 0,
					category_inverted: 0,
					category_mask: PAGE_IS_WRITTEN,
					category_anyof_mask: 0,
					return_mask: PAGE_IS_WRITTEN,
				};
				// SAFETY: the argument is the structure this request reads and writes, `vec`
				// points to `REGIONS` regions it may fill, and the range is registered memory.
				let found = unsafe { libc::ioctl(pagemap.as_raw_fd(), PAGEMAP_SCAN as _, &mut arg) };
				let Ok(found) = usize::try_from(found) else { return false };
				let Some(found) = regions.get(..found) else { return false };
				for region in found {
					if region.start < at || region.end > end || region.start > region.end {
						return false;
					}
					written
						.push((region.start - self.start as u64) as usize..(region.end - self.start as u64) as usize);
				}
				if arg.walk_end >= end {
					return true;
				}
				// Stopped early (the regions were full, or the scan met a page it does not
				// protect): continue where it stopped, unless it made no progress.
				if arg.walk_end <= at {
					return false;
				}
				at = arg.walk_end;
			}
		}
	}
}

/// Whether this machine's kernel reports written pages exactly: Linux 6.9 or later, or 6.8.10
/// and later 6.8 releases (with upstream 2c7ad9a590d1: before it, the scan could read a page
/// swapped out or being migrated as protected, and miss it), on an architecture with the
/// generic ioctl numbers.
pub(crate) fn kernel_can_track() -> bool {
	static CAN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
	*CAN.get_or_init(kernel_release_can_track)
}

fn kernel_release_can_track() -> bool {
	let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
	let mut numbers = release.split(|c: char| !c.is_ascii_digit()).map(|n| n.parse::<u32>().unwrap_or(0));
	let version = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
	cfg!(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "riscv64")))
		&& (version >= (6, 9, 0) || (version.0, version.1) == (6, 8) && version.2 >= 10)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
	use super::*;

	const PAGE: usize = 4096;

	/// Pages of `written` as page ranges.
	fn pages(written: &[Range<usize>]) -> Vec<Range<usize>> {
		written.iter().map(|range| range.start / PAGE..range.end / PAGE).collect()
	}

	#[test]
	fn written_pages_are_those_written_since_the_last_look_and_unprotected_ones() {
		let reserved = 64 * PAGE;
		// SAFETY: a fresh private anonymous mapping, unmapped at the end of the test.
		let start = unsafe {
			libc::mmap(std::ptr::null_mut(), reserved, libc::PROT_NONE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
		};
		assert_ne!(start, libc::MAP_FAILED);
		let start = start.cast::<u8>();
		let accessible = |len: usize| {
			// SAFETY: within the mapping above.
			assert_eq!(unsafe { libc::mprotect(start.cast(), len, libc::PROT_READ | libc::PROT_WRITE) }, 0);
		};
		// SAFETY: within the accessible part of the mapping.
		let write = |page: usize| unsafe { start.add(page * PAGE + 7).write_volatile(1) };
		accessible(16 * PAGE);
		for page in 0..16 {
			write(page);
		}
		// SAFETY: the mapping lives until the tracker is dropped, and nothing drops its pages.
		let tracker = unsafe { WrittenPages::track(start, reserved) };
		if tracker.is_none() {
			assert!(!kernel_can_track(), "this kernel (6.9 or later) should track written pages");
			return;
		}
		let Some(mut tracker) = tracker else { unreachable!() };
		// Each call answers the unprotected pages; every second one (in tests) protects them.
		let take = |tracker: &mut WrittenPages, len: usize| {
			let mut written = Vec::new();
			assert!(tracker.take(len, &mut written));
			pages(&written)
		};
		// Nothing is protected yet: every page reads as written, until protected.
		assert_eq!(take(&mut tracker, 16 * PAGE), vec![0..16]);
		assert_eq!(take(&mut tracker, 16 * PAGE), vec![0..16]);
		assert!(take(&mut tracker, 16 * PAGE).is_empty());
		write(3);
		write(9);
		write(9);
		write(10);
		assert_eq!(take(&mut tracker, 16 * PAGE), vec![3..4, 9..11]);
		assert!(take(&mut tracker, 16 * PAGE).is_empty());
		// A page written again after a call that did not protect it is reported until one does.
		write(5);
		assert_eq!(take(&mut tracker, 16 * PAGE), vec![5..6]);
		write(5);
		assert_eq!(take(&mut tracker, 16 * PAGE), vec![5..6]);
		assert_eq!(take(&mut tracker, 16 * PAGE), vec![5..6]);
		assert!(take(&mut tracker, 16 * PAGE).is_empty());
		// Pages the memory grows by were never protected: written, until protected.
		accessible(24 * PAGE);
		assert_eq!(take(&mut tracker, 20 * PAGE), vec![16..20]);
		write(17);
		assert_eq!(take(&mut tracker, 20 * PAGE), vec![17..18]);
		// Or protected at once.
		write(21);
		assert!(tracker.protect(20 * PAGE..24 * PAGE));
		assert_eq!(take(&mut tracker, 24 * PAGE), vec![17..18]);
		write(22);
		assert_eq!(take(&mut tracker, 24 * PAGE), vec![22..23]);
		assert!(!tracker.protect(0..reserved + PAGE));
		// Beyond what is registered: refused, never a partial answer.
		assert!(!tracker.take(reserved + PAGE, &mut Vec::new()));
		drop(tracker);
		// SAFETY: the mapping above, no longer used.
		assert_eq!(unsafe { libc::munmap(start.cast(), reserved) }, 0);
	}
}
