use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// Maps `work` over `items` on every core, keeping the items' order.
/// Each worker thread gets its own `scratch` state, made by `new_scratch`;
/// `on_done` is called on the worker as each item is done.
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
    let mut results = Vec::with_capacity(items.len());
    for_each_ordered(
        items,
        new_scratch,
        |item, scratch| {
            let result = work(item, scratch);
            on_done();
            result
        },
        |result| {
            results.push(result);
            true
        },
    );
    results
}

/// Does `work` for each of `items` on every core and hands the results to
/// `take`, on this thread, in the items' order as soon as each is due:
/// whoever takes them (a file being written) need not wait for the last.
/// Each worker thread gets its own `scratch` state, made by `new_scratch`.
/// `take` returning false stops the work; results made ahead of one not
/// yet made wait in memory.
pub fn for_each_ordered<T, S, R>(
    items: &[T],
    new_scratch: impl Fn() -> S + Sync,
    work: impl Fn(&T, &mut S) -> R + Sync,
    mut take: impl FnMut(R) -> bool,
) where
    T: Sync,
    R: Send,
{
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len().max(1));
    let next = AtomicUsize::new(0);
    let (send, made) = mpsc::sync_channel::<(usize, R)>(workers * 2);
    std::thread::scope(|scope| {
        // Owned here, so that stopping early drops it and the workers' sends fail.
        let made = made;
        for _ in 0..workers {
            let send = send.clone();
            let (next, new_scratch, work) = (&next, &new_scratch, &work);
            scope.spawn(move || {
                let mut scratch = new_scratch();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    if send.send((i, work(item, &mut scratch))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(send);
        let mut waiting = BTreeMap::new();
        let mut due = 0;
        for (i, result) in made.iter() {
            waiting.insert(i, result);
            while let Some(result) = waiting.remove(&due) {
                due += 1;
                if !take(result) {
                    return;
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_the_items_order_however_long_each_takes() {
        let items: Vec<u64> = (0..200).collect();
        let squares = map_ordered(
            &items,
            || (),
            |n, _| {
                // Early items take longest, so later ones are made first.
                std::thread::sleep(std::time::Duration::from_micros(200 - n));
                n * n
            },
            || {},
        );
        assert_eq!(squares, items.iter().map(|n| n * n).collect::<Vec<_>>());
    }

    #[test]
    fn a_taker_that_stops_stops_the_work() {
        let items: Vec<usize> = (0..10_000).collect();
        let done = AtomicUsize::new(0);
        let mut taken = Vec::new();
        for_each_ordered(
            &items,
            || (),
            |n, _| {
                done.fetch_add(1, Ordering::Relaxed);
                *n
            },
            |n| {
                taken.push(n);
                n < 5
            },
        );
        assert_eq!(taken, [0, 1, 2, 3, 4, 5]);
        assert!(done.into_inner() < items.len(), "the workers stopped before the end");
    }
}
