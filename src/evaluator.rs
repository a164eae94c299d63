//! Where filters and console scripts run: off the async workers that serve every client.
//!
//! Design constraints:
//! - An expression may be expensive (`get_objects(Service).map(…)` per object, a regex
//!   that backtracks): it must never occupy a thread of the async runtime, where the
//!   result processor and every other request run.
//! - The work is bounded: at most one evaluation per pool thread at once, on threads
//!   of their own that run at a lower scheduling priority (nice 10), so that under load the
//!   kernel prefers the runtime's threads; further requests wait for a slot without
//!   holding a thread.
//! - Every job runs under a [`Budget`]: a deadline, cancelled as soon as the request's
//!   future is dropped (the client went away) or the server stops. The evaluator looks at
//!   it every few hundred steps, so a runaway script ends within microseconds of either.

use std::sync::Arc;
use std::time::Duration;

use filters::Budget;
use tokio::sync::{oneshot, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::auth::{ApiUser, Grant};
use crate::error::Error;
use crate::objects::query::{self, Selection};
use crate::objects::types::TypeInfo;
use crate::objects::{Object, Registry};

/// The pool and its limits.
pub struct Evaluator {
    pool: rayon::ThreadPool,
    /// One permit per thread: a job takes one before it is queued, so the pool's queue
    /// never grows past its threads (waiting requests wait here, cancellably).
    slots: Arc<Semaphore>,
    /// Cancels the budgets of running jobs when the server stops.
    shutdown: CancellationToken,
    /// What the filters of one request may take together.
    limits: FilterLimits,
}

/// How long, and how many evaluation steps, the filters of one request (a query, an
/// action's selection) may take together before it is refused.
#[derive(Debug, Clone, Copy)]
pub struct FilterLimits {
    pub budget: Duration,
    pub steps: u64,
}

/// Why a job did not produce its value.
#[derive(Debug)]
pub enum Refused {
    ShuttingDown,
    Panicked,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refused::ShuttingDown => "The server is shutting down.",
            Refused::Panicked => "The evaluation failed unexpectedly.",
        })
    }
}

impl std::error::Error for Refused {}

/// Cancels a budget when dropped: the request's future went away.
struct CancelOnDrop(Arc<Budget>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl Evaluator {
    /// A pool of `threads` evaluation threads (at least one).
    ///
    /// # Errors
    /// The threads could not be started.
    pub fn new(
        threads: usize,
        limits: FilterLimits,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Evaluator> {
        let threads = threads.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("evaluate-{i}"))
            .start_handler(|_| lower_priority())
            .build()?;
        Ok(Evaluator {
            pool,
            slots: Arc::new(Semaphore::new(threads)),
            shutdown,
            limits,
        })
    }

    /// Runs `job` on the pool under `budget`. Large scans inside `job` (rayon's parallel
    /// iterators) run on the same pool. The budget is cancelled when the returned future
    /// is dropped or the server stops.
    ///
    /// # Errors
    /// See [`Refused`].
    pub async fn run<T, F>(&self, budget: Budget, job: F) -> Result<T, Refused>
    where
        T: Send + 'static,
        F: FnOnce(&Budget) -> T + Send + 'static,
    {
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Refused::ShuttingDown)?;
        if self.shutdown.is_cancelled() {
            return Err(Refused::ShuttingDown);
        }
        let budget = Arc::new(budget);
        let _cancel = CancelOnDrop(budget.clone());
        let (tx, rx) = oneshot::channel();
        let shared = budget.clone();
        self.pool.spawn(move || {
            let _permit = permit;
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&shared)));
            let _ = tx.send(out);
        });
        let stop = async {
            self.shutdown.cancelled().await;
            budget.cancel();
            std::future::pending::<()>().await;
        };
        let out = tokio::select! {
            out = rx => out,
            () = stop => unreachable!("`stop` never completes"),
        };
        match out {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => {
                tracing::error!("An evaluation panicked; the request fails.");
                Err(Refused::Panicked)
            }
            Err(_) => Err(Refused::Panicked),
        }
    }
}

/// Evaluation threads yield to the runtime's threads when the machine is busy.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take plain integers and touch only this thread's
    // scheduling priority.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

/// Selects the objects a request names or filters, as [`query::select`] does, under the
/// `permission` of `user`. A selection that evaluates filters (the request's or the
/// permission's) runs on the pool under the filter budget; one by names only, inline.
///
/// # Errors
/// As [`query::select`]; 400 when the budget runs out; 503 while shutting down.
pub async fn select(
    evaluator: &Evaluator,
    reg: Arc<Registry>,
    user: &Arc<ApiUser>,
    permission: &str,
    ti: &'static TypeInfo,
    selection: Selection,
) -> Result<Vec<Arc<Object>>, Error> {
    let grant = user.permissions.grant(permission);
    let filtered = matches!(grant, Grant::Filtered(_)) || selection.filter.is_some();
    if !filtered {
        return query::select(
            &reg,
            ti,
            &selection,
            &grant,
            &user.permissions,
            &Budget::unlimited(),
        );
    }
    let (user, permission) = (user.clone(), permission.to_string());
    let limits = evaluator.limits;
    evaluator
        .run(
            // The steps of all the request's evaluations together are limited.
            Budget::within(limits.budget).with_steps(limits.steps),
            move |budget| {
                let grant = user.permissions.grant(&permission);
                query::select(&reg, ti, &selection, &grant, &user.permissions, budget)
            },
        )
        .await
        .map_err(|e| Error::unavailable(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: FilterLimits = FilterLimits {
        budget: Duration::from_secs(10),
        steps: u64::MAX,
    };

    fn spin(budget: &Budget) -> bool {
        let program =
            filters::Program::compile("var n = 0; while (true) { n += 1 }").expect("compiles");
        let e = program
            .execute_in_within(&filters::EmptyScope, &mut Vec::new(), false, budget)
            .expect_err("never ends on its own");
        e.kind == filters::ErrorKind::Interrupted
    }

    #[tokio::test]
    async fn a_dropped_request_cancels_its_job_and_frees_its_slot() {
        let ev = Evaluator::new(1, LIMITS, CancellationToken::new()).expect("pool");
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (ended_tx, ended_rx) = std::sync::mpsc::channel();
        let job = ev.run(Budget::unlimited(), move |b| {
            let _ = started_tx.send(());
            let _ = ended_tx.send(spin(b));
        });
        // Poll the job until it runs, then drop it (the client went away).
        tokio::select! {
            _ = job => panic!("an endless script ended"),
            _ = tokio::task::spawn_blocking(move || started_rx.recv()) => {}
        }
        let interrupted = tokio::task::spawn_blocking(move || ended_rx.recv())
            .await
            .expect("joined")
            .expect("the job ended");
        assert!(interrupted, "stopped by its budget");
        // The only slot is free again.
        assert_eq!(ev.run(Budget::unlimited(), |_| 7).await.ok(), Some(7));
    }

    #[tokio::test]
    async fn a_deadline_ends_a_runaway_and_shutdown_ends_an_unbounded_one() {
        let stop = CancellationToken::new();
        let ev = Evaluator::new(2, LIMITS, stop.clone()).expect("pool");
        let timed = ev.run(Budget::within(Duration::from_millis(1)), spin).await;
        assert!(timed.expect("ran"), "the deadline interrupted it");
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let unbounded = ev.run(Budget::unlimited(), move |b| {
            let _ = started_tx.send(());
            spin(b)
        });
        tokio::pin!(unbounded);
        tokio::select! {
            _ = &mut unbounded => panic!("an endless script ended"),
            _ = tokio::task::spawn_blocking(move || started_rx.recv()) => {}
        }
        stop.cancel();
        assert!(unbounded.await.expect("ran"), "the shutdown interrupted it");
    }
}
