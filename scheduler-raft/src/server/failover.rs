//! The election timer: when a follower stands for election, and the
//! leader's keepalive that keeps it from doing so while the leader lives.
//!
//! openraft 0.9 has its own timer, switched off here
//! ([`super::RaftTuning::raft_config`]), for two reasons measured on the
//! kill -9 test of `bins/tests/raft_cluster.rs`:
//! - It is checked only on openraft's tick, every 1.5 heartbeat intervals
//!   (225 ms by default), which adds up to a tick to every failover:
//!   writes resumed 650–760 ms after the leader's death.
//! - Each server draws its timeout once, at start, and servers started
//!   together tick in step, so both followers often stood in the same
//!   tick. A split vote cost another round (1.2 s in one CI run).
//!
//! Here every server checks every 10 ms, and a follower draws a fresh
//! timeout each time it hears from a leader. A candidate that did not win
//! tries again after half a timeout (no lease to wait out), or after a
//! whole range more if a voter refused it for a shorter log: that voter
//! is the one that can win, and openraft orders equal terms by server id,
//! so a shorter-log candidate with the larger id standing again and again
//! would keep beating it to each new term. Only the timing moves: voting,
//! the leader lease and safety stay openraft's.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openraft::ServerState;
use tokio::sync::oneshot;

use crate::clock::{monotonic, random_u64};
use crate::types::{Raft, ServerId};

/// How often the timer looks: the granularity of a failover.
const CHECK_EVERY: Duration = Duration::from_millis(10);

/// When this server last heard from a leader, as the Raft endpoints and
/// the vote client see it.
#[derive(Debug)]
pub struct LeaderContact {
    heard: Mutex<Heard>,
}

#[derive(Debug)]
struct Heard {
    /// When the last request of a leader (or a candidate this server voted
    /// for) arrived.
    at: Instant,
    /// Whether a voter refused this server's candidacy for holding a
    /// longer log since the timer last looked.
    refused_for_shorter_log: bool,
}

impl Default for LeaderContact {
    fn default() -> Self {
        Self {
            heard: Mutex::new(Heard {
                at: monotonic(),
                refused_for_shorter_log: false,
            }),
        }
    }
}

impl LeaderContact {
    /// A request of the current leader that arrived at `at` was accepted
    /// (or a vote was granted to a candidate: give it time to win).
    pub(crate) fn heard_leader(&self, at: Instant) {
        let mut heard = self.lock();
        if at > heard.at {
            heard.at = at;
        }
    }

    /// A voter refused this server's candidacy because its log is longer:
    /// the next candidacy waits longer, so the voter (who can win) stands
    /// first.
    pub(crate) fn refused_for_shorter_log(&self) {
        self.lock().refused_for_shorter_log = true;
    }

    fn last_heard(&self) -> Instant {
        self.lock().at
    }

    fn take_refusal(&self) -> bool {
        std::mem::take(&mut self.lock().refused_for_shorter_log)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Heard> {
        self.heard.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The timer's settings (from [`super::RaftTuning`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) keepalive: Duration,
    pub(crate) election_timeout: (Duration, Duration),
}

impl Timing {
    /// A random timeout in the election timeout range.
    fn draw(&self) -> Duration {
        let (shortest, longest) = self.election_timeout;
        let spread = u64::try_from((longest - shortest).as_micros()).unwrap_or(u64::MAX);
        shortest + Duration::from_micros(random_u64() % spread.max(1))
    }
}

/// The running timer; it stops when this is dropped.
#[derive(Debug)]
pub(crate) struct ElectionTimer {
    _stop: oneshot::Sender<()>,
}

impl ElectionTimer {
    /// Starts the timer of server `id`.
    pub(crate) fn start(
        raft: Raft,
        id: ServerId,
        contact: Arc<LeaderContact>,
        timing: Timing,
    ) -> Self {
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(run(raft, id, contact, timing, stopped));
        Self { _stop: stop }
    }
}

/// What the timer needs to know of this server's Raft state.
struct Standing {
    leading: bool,
    voter: bool,
    lone_voter: bool,
}

impl Standing {
    fn of(raft: &Raft, id: ServerId) -> Self {
        let metrics = raft.metrics();
        let metrics = metrics.borrow();
        let voters: Vec<ServerId> = metrics.membership_config.membership().voter_ids().collect();
        Self {
            leading: metrics.state == ServerState::Leader,
            voter: voters.contains(&id),
            lone_voter: voters == [id],
        }
    }
}

async fn run(
    raft: Raft,
    id: ServerId,
    contact: Arc<LeaderContact>,
    timing: Timing,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut ticks = tokio::time::interval(CHECK_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Silence is counted from `since`: the last word of a leader, the
    // last election this server started, or losing the lead.
    let mut since = contact.last_heard();
    // A server that has just started waits longer the first time: a
    // leader retries a peer it could not reach only every
    // [`crate::network::UNREACHABLE_RETRY`], and a restarted follower that stood
    // before hearing from it would depose a working leader.
    let mut timeout = timing.draw() + timing.election_timeout.1;
    let mut last_keepalive = monotonic();
    // A lone voter has nobody to hear from: it stands at once, and again
    // after a timeout if that did not make it leader.
    let mut last_candidacy: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            _ = ticks.tick() => {}
        }
        let now = monotonic();
        let standing = Standing::of(&raft, id);
        if standing.leading {
            if now.duration_since(last_keepalive) >= timing.keepalive {
                last_keepalive = now;
                if raft.trigger().heartbeat().await.is_err() {
                    return;
                }
            }
            since = now;
            last_candidacy = None;
            continue;
        }
        let heard = contact.last_heard();
        if heard > since {
            since = heard;
            timeout = timing.draw();
        }
        if contact.take_refusal() {
            // As openraft's own timer does: the voter with the longer log
            // is the one that can win, so give it the first turn.
            timeout += timing.election_timeout.1;
        }
        if !standing.voter {
            continue;
        }
        let due = if standing.lone_voter {
            last_candidacy.is_none_or(|at| now.duration_since(at) >= timeout)
        } else {
            now.duration_since(since) >= timeout
        };
        if !due {
            continue;
        }
        tracing::info!(
            silence_ms = now.duration_since(since).as_millis() as u64,
            "no word from a leader: standing for election"
        );
        if raft.trigger().elect().await.is_err() {
            return;
        }
        since = now;
        last_candidacy = Some(now);
        // Standing again needs no lease to run out (a candidate's vote is
        // not a leader's), so the next try comes sooner: half a timeout.
        timeout = timing.draw() / 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_drawn_across_the_whole_range() {
        let timing = Timing {
            keepalive: Duration::from_millis(50),
            election_timeout: (Duration::from_millis(300), Duration::from_millis(450)),
        };
        let draws: Vec<Duration> = (0..1000).map(|_| timing.draw()).collect();
        assert!(
            draws
                .iter()
                .all(|d| { *d >= Duration::from_millis(300) && *d < Duration::from_millis(450) })
        );
        // Spread out, not clustered: both ends of the range are reached
        // (a split vote needs two draws within a few milliseconds).
        assert!(draws.iter().any(|d| *d < Duration::from_millis(315)));
        assert!(draws.iter().any(|d| *d > Duration::from_millis(435)));
    }

    #[test]
    fn contact_only_moves_forward_and_a_refusal_is_taken_once() {
        let contact = LeaderContact::default();
        let later = monotonic() + Duration::from_secs(1);
        contact.heard_leader(later);
        contact.heard_leader(later - Duration::from_millis(500));
        assert_eq!(contact.last_heard(), later);
        contact.refused_for_shorter_log();
        assert!(contact.take_refusal());
        assert!(!contact.take_refusal());
    }
}
