//! Time as the engine sees it: one handle, cloned into everything that stamps a result,
//! computes a deadline or waits for one. In production it reads the system clock; a
//! manual clock stands still until it is moved, so that acknowledgement expiry,
//! downtimes, reminders and escalations can be tested without waiting for them.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// A source of Unix time in seconds. Cloning shares it.
#[derive(Clone, Default)]
pub struct Clock {
    manual: Option<Arc<watch::Sender<f64>>>,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.manual {
            None => f.write_str("Clock::System"),
            Some(t) => write!(f, "Clock::Manual({})", *t.borrow()),
        }
    }
}

/// Unix time in seconds from the system clock.
pub fn system_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that shows `start` until [`Clock::advance`] or [`Clock::set`] moves it.
    pub fn manual(start: f64) -> Clock {
        Clock {
            manual: Some(Arc::new(watch::Sender::new(start))),
        }
    }

    /// Whether this clock only moves when told to.
    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    /// Unix time in seconds.
    pub fn now(&self) -> f64 {
        match &self.manual {
            None => system_now(),
            Some(t) => *t.borrow(),
        }
    }

    /// Moves a manual clock forward by `secs` and wakes whoever waits for a time now
    /// reached. The system clock cannot be moved: nothing happens.
    pub fn advance(&self, secs: f64) {
        if let Some(t) = &self.manual {
            t.send_modify(|now| *now += secs.max(0.0));
        }
    }

    /// Sets a manual clock to `at` (it never goes back); see [`Clock::advance`].
    pub fn set(&self, at: f64) {
        if let Some(t) = &self.manual {
            t.send_modify(|now| *now = now.max(at));
        }
    }

    /// Waits until the clock shows `at` or later.
    pub async fn sleep_until(&self, at: f64) {
        match &self.manual {
            None => {
                let wait = (at - system_now()).clamp(0.0, 86_400.0);
                if wait > 0.0 {
                    tokio::time::sleep(Duration::from_secs_f64(wait)).await;
                }
            }
            Some(t) => {
                let mut rx = t.subscribe();
                // The sender lives as long as `self`: `changed` cannot fail while waiting.
                while *rx.borrow_and_update() < at {
                    if rx.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_forward_and_when_told() {
        let c = Clock::manual(100.0);
        assert_eq!(c.now(), 100.0);
        c.advance(5.5);
        assert_eq!(c.now(), 105.5);
        c.set(50.0);
        assert_eq!(c.now(), 105.5);
        c.advance(-3.0);
        assert_eq!(c.now(), 105.5);
        let shared = c.clone();
        shared.set(200.0);
        assert_eq!(c.now(), 200.0);
    }

    #[tokio::test]
    async fn sleepers_wake_when_the_clock_reaches_their_time() {
        let c = Clock::manual(0.0);
        let sleeper = tokio::spawn({
            let c = c.clone();
            async move { c.sleep_until(10.0).await }
        });
        tokio::task::yield_now().await;
        c.advance(4.0);
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        c.advance(6.0);
        sleeper.await.unwrap();
        // A time already reached does not wait.
        c.sleep_until(3.0).await;
    }

    #[test]
    fn the_system_clock_is_unix_time() {
        let c = Clock::system();
        assert!(!c.is_manual());
        assert!((c.now() - system_now()).abs() < 60.0);
    }
}
