//! The process heap policy for payload-sized buffers.

/// Largest allocation glibc serves from its heap rather than a fresh `mmap`
/// (glibc's own upper bound).
const MMAP_THRESHOLD: libc::c_int = 32 << 20;

/// Free memory a glibc arena keeps at its top instead of returning it.
const TRIM_THRESHOLD: libc::c_int = 256 << 20;

/// Makes glibc keep and reuse freed buffers of up to [`MMAP_THRESHOLD`]. By
/// default a megabyte buffer is mapped fresh and returned on free, so a
/// 10,000-tx round of block payloads page-faults in thousands of zeroed pages
/// each time (2 µs a page on a VM). Call at process start; it only changes
/// where later allocations come from. False when the C library refused or is
/// not glibc.
pub fn keep_freed_buffers() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets allocator parameters; both values are in
        // the ranges glibc documents.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// Minor page faults of the calling thread so far.
    fn faults() -> i64 {
        // SAFETY: getrusage only writes the struct it is given.
        unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_THREAD, &mut usage);
            usage.ru_minflt
        }
    }

    /// Allocates a payload-sized buffer and touches each of its pages.
    fn use_buffer() {
        let mut buf = vec![0u8; 8 << 20];
        for i in (0..buf.len()).step_by(4096) {
            buf[i] = 1;
        }
        std::hint::black_box(&buf);
    }

    #[test]
    fn freed_payload_buffers_are_reused_without_page_faults() {
        assert!(keep_freed_buffers());
        use_buffer();
        let before = faults();
        for _ in 0..4 {
            use_buffer();
        }
        // glibc's default maps such a buffer afresh: 2,048 faults each time.
        let faulted = faults() - before;
        assert!(faulted < 256, "{faulted} page faults reusing freed buffers");
    }
}
