//! Raft timing and log compaction, and how they map onto openraft's
//! configuration.

use std::time::Duration;

use openraft::{Config, SnapshotPolicy};

/// Raft timing and log compaction.
#[derive(Debug, Clone)]
pub struct RaftTuning {
    /// openraft's heartbeat interval. openraft 0.9 also makes it the
    /// deadline of every append request, so it bounds how long sending,
    /// decoding and storing one batch of entries may take: a request that
    /// misses it is sent again, and one that always misses it stalls
    /// replication. Hence few entries per request
    /// ([`RaftTuning::entries_per_request`]) and the plan applier's cap on
    /// allocations per entry.
    pub heartbeat: Duration,
    /// How often a leader sends an empty append to each idle follower, so
    /// that a follower hearing nothing means a dead leader rather than a
    /// quiet one. Must be under half the election timeout's lower bound.
    pub keepalive: Duration,
    /// Election timeout range: a follower (or candidate) that hears
    /// nothing from a leader for a random time in this range, drawn afresh
    /// each time, stands for election (see [`super::failover`]). A voter
    /// refuses candidates for 4/5 of the lower bound after it last heard
    /// from its leader (the leader lease), so a server cut off alone
    /// cannot depose a working leader.
    pub election_timeout: (Duration, Duration),
    /// Build a snapshot after this many entries since the last one.
    pub snapshot_every: u64,
    /// Entries kept in the log behind the snapshot (so slightly lagging
    /// followers catch up from the log rather than by snapshot).
    pub keep_behind_snapshot: u64,
    /// Bytes per snapshot chunk sent to a follower.
    pub snapshot_chunk: usize,
    /// The most log entries one append request carries.
    pub entries_per_request: u64,
    /// How many entries of client writes the leader keeps in flight at
    /// once; writes that arrive meanwhile share the next entry (see the
    /// proposer's module documentation). 2 measured best on two cores
    /// (`raft_scale writes --proposals-in-flight`).
    pub proposals_in_flight: usize,
}

/// Defaults for servers on one network: a leader's keepalive every 50 ms,
/// and a follower that hears nothing for 300–450 ms (six or more missed
/// keepalives) stands for election, so writes resume well within a second
/// of a leader's death.
impl Default for RaftTuning {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_millis(150),
            keepalive: Duration::from_millis(50),
            election_timeout: (Duration::from_millis(300), Duration::from_millis(450)),
            entries_per_request: 4,
            proposals_in_flight: 2,
            snapshot_every: 10_000,
            keep_behind_snapshot: 1_000,
            snapshot_chunk: 4 << 20,
        }
    }
}

impl RaftTuning {
    /// The most [`RaftTuning::scaled`] accepts (Nomad's `raft_multiplier`
    /// limit).
    pub const MAX_MULTIPLIER: u32 = 10;

    /// These timings stretched `multiplier` times (Nomad's
    /// `raft_multiplier`): heartbeat, keepalive and election timeout, for
    /// servers on slow disks or links, where the defaults would see
    /// elections while the leader is merely slow. Failover slows by the
    /// same factor. `multiplier` is clamped to 1..=[`Self::MAX_MULTIPLIER`].
    pub fn scaled(self, multiplier: u32) -> RaftTuning {
        let factor = multiplier.clamp(1, Self::MAX_MULTIPLIER);
        RaftTuning {
            heartbeat: self.heartbeat * factor,
            keepalive: self.keepalive * factor,
            election_timeout: (
                self.election_timeout.0 * factor,
                self.election_timeout.1 * factor,
            ),
            ..self
        }
    }

    /// How long a voter refuses candidates after it last heard from its
    /// leader: a margin under the shortest election timeout, so that when
    /// the leader is gone the first candidate finds the lease over on the
    /// other voters, which heard the same last heartbeat within
    /// milliseconds.
    pub fn leader_lease(&self) -> Duration {
        self.election_timeout.0 * 4 / 5
    }

    /// openraft's configuration for this tuning, or why the tuning cannot
    /// work.
    ///
    /// openraft's own election timer is switched off: it is checked only
    /// every 1.5 heartbeat intervals and draws each server's timeout once,
    /// at start (see [`super::failover`] for what replaces it). Its
    /// timeout bounds remain as the leader lease (the upper bound) and the
    /// deadline of a vote request (the lower bound).
    pub(crate) fn raft_config(&self) -> Result<Config, String> {
        let (shortest, longest) = self.election_timeout;
        if shortest >= longest {
            return Err(format!(
                "election timeout range {shortest:?}..{longest:?} is empty"
            ));
        }
        if self.keepalive.is_zero() || self.keepalive * 2 > shortest {
            return Err(format!(
                "keepalive {:?} must be more than zero and at most half the shortest election timeout {shortest:?}",
                self.keepalive
            ));
        }
        let lease = millis(self.leader_lease());
        let heartbeat = millis(self.heartbeat);
        if lease < heartbeat + 2 {
            return Err(format!(
                "the heartbeat {:?} must be well under 4/5 of the shortest election timeout {shortest:?}",
                self.heartbeat
            ));
        }
        Config {
            cluster_name: "scheduler".to_owned(),
            heartbeat_interval: heartbeat,
            election_timeout_min: (heartbeat + lease) / 2 + 1,
            election_timeout_max: lease,
            enable_elect: false,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(self.snapshot_every),
            max_in_snapshot_log_to_keep: self.keep_behind_snapshot,
            snapshot_max_chunk_size: self.snapshot_chunk as u64,
            max_payload_entries: self.entries_per_request,
            ..Config::default()
        }
        .validate()
        .map_err(|err| err.to_string())
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_default_leaves_elections_to_the_failover_timer_and_a_lease_under_its_timeout() {
        let tuning = RaftTuning::default();
        let config = tuning.raft_config().expect("the default is valid");
        assert!(!config.enable_elect);
        assert_eq!(config.election_timeout_max, 240);
        assert!(config.election_timeout_min > config.heartbeat_interval);
        assert!(ms(config.election_timeout_max) < tuning.election_timeout.0);
    }

    #[test]
    fn a_multiplier_stretches_every_timing_and_stays_valid() {
        let scaled = RaftTuning::default().scaled(5);
        assert_eq!(scaled.heartbeat, ms(750));
        assert_eq!(scaled.keepalive, ms(250));
        assert_eq!(scaled.election_timeout, (ms(1500), ms(2250)));
        assert_eq!(scaled.entries_per_request, 4);
        let config = scaled.raft_config().expect("valid");
        assert_eq!(config.election_timeout_max, 1200);
        for multiplier in 0..=20 {
            assert!(
                RaftTuning::default()
                    .scaled(multiplier)
                    .raft_config()
                    .is_ok()
            );
        }
        assert_eq!(RaftTuning::default().scaled(0).heartbeat, ms(150));
        assert_eq!(RaftTuning::default().scaled(99).heartbeat, ms(1500));
    }

    #[test]
    fn unworkable_timings_are_refused_with_the_reason() {
        let empty = RaftTuning {
            election_timeout: (ms(300), ms(300)),
            ..RaftTuning::default()
        };
        assert!(empty.raft_config().unwrap_err().contains("is empty"));
        let slow_keepalive = RaftTuning {
            keepalive: ms(200),
            ..RaftTuning::default()
        };
        assert!(
            slow_keepalive
                .raft_config()
                .unwrap_err()
                .contains("keepalive")
        );
        let slow_heartbeat = RaftTuning {
            heartbeat: ms(250),
            ..RaftTuning::default()
        };
        assert!(
            slow_heartbeat
                .raft_config()
                .unwrap_err()
                .contains("heartbeat")
        );
    }
}
