//! Tasks that exist per configuration object (the perfdata and IcingaDB writers): each
//! runs while its object exists with the same settings — started when the object
//! appears, restarted when its settings change, stopped when it goes — following every
//! publication of the objects, until shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How long stopping tasks may take at shutdown.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Runs one task per wanted key until `shutdown`. After each publication `wanted` names
/// the tasks that should run now and their settings; `start` starts one (its future runs
/// until the token given to it is cancelled), `stopped` is told of each task stopped.
pub async fn supervise<K, S, Fut>(
    mut published: tokio::sync::watch::Receiver<()>,
    shutdown: CancellationToken,
    mut wanted: impl FnMut() -> HashMap<K, S>,
    mut start: impl FnMut(&K, &S, CancellationToken) -> Fut,
    mut stopped: impl FnMut(&K),
) where
    K: Eq + Hash + Clone,
    S: PartialEq,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut running: HashMap<K, (S, CancellationToken)> = HashMap::new();
    let tasks = tokio_util::task::TaskTracker::new();
    loop {
        let now = wanted();
        running.retain(|key, (settings, stop)| {
            let keep = now.get(key) == Some(settings);
            if !keep {
                stop.cancel();
                stopped(key);
            }
            keep
        });
        for (key, settings) in now {
            if running.contains_key(&key) {
                continue;
            }
            let stop = shutdown.child_token();
            tasks.spawn(start(&key, &settings, stop.clone()));
            running.insert(key, (settings, stop));
        }
        tokio::select! {
            changed = published.changed() => if changed.is_err() { break },
            () = shutdown.cancelled() => break,
        }
    }
    for (_, stop) in running.values() {
        stop.cancel();
    }
    tasks.close();
    let _ = tokio::time::timeout(STOP_GRACE, tasks.wait()).await;
}
