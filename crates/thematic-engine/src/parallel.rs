use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Maps `work` over `items` on every core, keeping the items' order.
/// Each worker thread gets its own `scratch` state, made by `new_scratch`.
pub fn map_ordered<T, S, R>(
    items: &[T],
    new_scratch: impl Fn() -> S + Sync,
    work: impl Fn(&T, &mut S) -> R + Sync,
    on_done: impl Fn() + Sync,
) -> Vec<R>
where
    T: Sync,
    R: Send,
{
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut scratch = new_scratch();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let result = work(item, &mut scratch);
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
                    on_done();
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.expect("every item was processed"))
        .collect()
}
