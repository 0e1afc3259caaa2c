//! The CPU path's threads: natively a matrix product's rows are split across rayon's pool;
//! wasm has one thread (no shared memory without cross-origin isolation).

/// Splits `out: [m, rows]` into row ranges, runs `work(first_row, block)` on each (in
/// parallel natively), and scatters the results back. Each block is `[m, rows_in_range]`.
pub(super) fn parallel_rows(out: &mut [f32], m: usize, rows: usize, work: impl Fn(usize, &mut [f32]) + Sync) {
    #[cfg(not(target_family = "wasm"))]
    {
        use rayon::prelude::*;
        if m == 1 {
            // One vector: the blocks are contiguous slices of `out`, no copies.
            let threads = rayon::current_num_threads().max(1);
            let per = rows.div_ceil(threads * 2).max(64);
            out.par_chunks_mut(per).enumerate().for_each(|(k, block)| work(k * per, block));
            return;
        }
        let threads = rayon::current_num_threads().max(1);
        let per = rows.div_ceil(threads * 4).max(16);
        let ranges: Vec<(usize, usize)> = (0..rows).step_by(per).map(|r| (r, (r + per).min(rows))).collect();
        let blocks: Vec<Vec<f32>> = ranges
            .par_iter()
            .map(|&(a, b)| {
                let len = b - a;
                let mut block = vec![0f32; m * len];
                for t in 0..m {
                    block[t * len..(t + 1) * len].copy_from_slice(&out[t * rows + a..t * rows + b]);
                }
                work(a, &mut block);
                block
            })
            .collect();
        for ((a, b), block) in ranges.into_iter().zip(blocks) {
            let len = b - a;
            for t in 0..m {
                out[t * rows + a..t * rows + b].copy_from_slice(&block[t * len..(t + 1) * len]);
            }
        }
    }
    #[cfg(target_family = "wasm")]
    {
        // One thread, one range: the block layout is `out`'s own.
        let _ = (m, rows);
        work(0, out);
    }
}

/// Runs `work` on a thread of the pool that splits the matrix products (natively). Called from
/// outside the pool, every parallel product would hand its parts to the pool's threads and put
/// the caller to sleep until they finish: two thread switches per product, ~200 per token, and
/// on two cores the pool's spinning threads competed with the caller's own work. On a pool
/// thread, the caller takes its share of each product itself.
pub(super) fn on_pool<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    #[cfg(not(target_family = "wasm"))]
    {
        rayon::scope(|_| work())
    }
    #[cfg(target_family = "wasm")]
    work()
}
