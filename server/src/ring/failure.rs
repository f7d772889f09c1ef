//! Failure detection: Cassandra's phi-accrual detector, deciding from the rhythm of an endpoint's
//! gossip heartbeats whether it is down.
//!
//! Rules from Cassandra 4.x `src/java/org/apache/cassandra/gms/FailureDetector.java` (classes
//! `FailureDetector`, `ArrivalWindow`, `ArrayBackedBoundedStats`), after Hayashibara et al.,
//! "The φ Accrual Failure Detector" (2004) and CASSANDRA-2597 for the exponential simplification:
//!
//! * **Report.** Whenever gossip shows that an endpoint's heartbeat (or any of its state)
//!   advanced, the node *reports* an arrival for it ([`FailureDetector::report`]). Each endpoint
//!   has an [`ArrivalWindow`]: the time of its last arrival and the last [`SAMPLE_SIZE`] (1000)
//!   inter-arrival intervals.
//! * **First arrival.** Before any interval is known the window is seeded with an *initial
//!   interval*, deliberately large (Cassandra: twice the gossip interval) so that a new endpoint is
//!   convicted late rather than flapping.
//! * **Long gaps are not learned.** An interval longer than the *max interval* (Cassandra: the
//!   initial interval) is dropped: after a partition the detector keeps expecting the normal
//!   rhythm and convicts quickly next time instead of adapting to outages.
//! * **Phi.** With `t` the time since the last arrival and `mean` the window's mean interval,
//!   `phi = PHI_FACTOR × t / mean`, `PHI_FACTOR = 1 / ln 10 ≈ 0.434`. Inter-arrival times are
//!   taken as exponentially distributed, so `P(no heartbeat yet) = e^(−t/mean)` and
//!   `phi = −log10 P`. An endpoint is *convicted* (down) when `phi > phi_convict_threshold`
//!   (Cassandra's `phi_convict_threshold`, default 8): silent for more than
//!   `8 × ln 10 ≈ 18.4` mean intervals.
//! * **Interpret.** Every gossip round the node asks for verdicts ([`FailureDetector::interpret`]).
//!   If the detector itself was not asked for longer than the *max local pause* (5 s; a GC pause,
//!   a suspended process), nobody is convicted in that round nor for the next max-local-pause: the
//!   silence was ours, not the peers'.
//!
//! Where Cairn differs: time is a parameter ([`Instant`]s passed in) so that tests need no
//! sleeping; verdicts are transitions (an endpoint is reported once when convicted, and
//! [`FailureDetector::report`] says when a convicted endpoint is heard from again), where
//! Cassandra re-convicts every round and keeps liveness in the `Gossiper`; and phi is reported
//! already multiplied by `PHI_FACTOR`, on the threshold's scale (as Cassandra's `getPhiValues`).
//!
//! # Timing with a short gossip interval
//!
//! The defaults derive from the gossip interval exactly where Cassandra ties them
//! ([`FailureDetectorConfig::for_gossip_interval`]): initial interval = 2 × gossip interval, max
//! interval = initial interval. Once the mean is the gossip interval, an endpoint is convicted
//! `8 × ln 10 ≈ 18.4` intervals after its last heartbeat: 18.4 s at Cassandra's 1 s, 4.6 s for a
//! node gossiping every 250 ms, 3.7 s at 200 ms; a little later while the seed interval still
//! weighs in the mean, and seen at the first `interpret` after that. The tests below pin it: after
//! 40 s of heartbeats, a node gossiping every 250 ms is convicted at the round 4.75 s after its
//! last heartbeat (3.8 s at 200 ms, 19 s at 1 s). The max local pause (5 s) is not tied to the
//! gossip interval in Cassandra and is not here.

use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// `1 / ln 10`: turns `t / mean` into `−log10 P(still to come)` (Cassandra's `PHI_FACTOR`).
pub const PHI_FACTOR: f64 = 1.0 / std::f64::consts::LN_10;
/// Intervals kept per endpoint (Cassandra's `SAMPLE_SIZE`).
pub const SAMPLE_SIZE: usize = 1000;
/// Cassandra's default `phi_convict_threshold`.
pub const DEFAULT_PHI_CONVICT_THRESHOLD: f64 = 8.0;
/// Cassandra's gossip interval (`Gossiper.intervalInMillis`).
pub const CASSANDRA_GOSSIP_INTERVAL: Duration = Duration::from_secs(1);
/// Cassandra's default max local pause (`cassandra.max_local_pause_in_ms`).
pub const DEFAULT_MAX_LOCAL_PAUSE: Duration = Duration::from_secs(5);

/// Settings of a [`FailureDetector`].
#[derive(Debug, Clone, PartialEq)]
pub struct FailureDetectorConfig {
    /// How often the node gossips (and calls [`FailureDetector::interpret`]).
    pub gossip_interval: Duration,
    /// Convict when phi exceeds this.
    pub phi_convict_threshold: f64,
    /// The interval a window is seeded with at an endpoint's first arrival (Cassandra's
    /// `cassandra.fd_initial_value_ms`, default 2 × gossip interval).
    pub initial_interval: Duration,
    /// Longer intervals are not recorded (Cassandra's `cassandra.fd_max_interval_ms`, default the
    /// initial interval).
    pub max_interval: Duration,
    /// A longer gap between two `interpret` calls suspends convictions (Cassandra's
    /// `cassandra.max_local_pause_in_ms`, default 5 s).
    pub max_local_pause: Duration,
    /// Intervals kept per endpoint.
    pub sample_size: usize,
}

impl FailureDetectorConfig {
    /// Cassandra's defaults for a node gossiping every `gossip_interval`.
    pub fn for_gossip_interval(gossip_interval: Duration) -> FailureDetectorConfig {
        let initial_interval = gossip_interval * 2;
        FailureDetectorConfig {
            gossip_interval,
            phi_convict_threshold: DEFAULT_PHI_CONVICT_THRESHOLD,
            initial_interval,
            max_interval: initial_interval,
            max_local_pause: DEFAULT_MAX_LOCAL_PAUSE,
            sample_size: SAMPLE_SIZE,
        }
    }

    /// How long an endpoint whose mean heartbeat interval is `mean` may stay silent before it is
    /// convicted: `threshold / PHI_FACTOR × mean`.
    pub fn silence_before_conviction(&self, mean: Duration) -> Duration {
        mean.mul_f64(self.phi_convict_threshold / PHI_FACTOR)
    }
}

impl Default for FailureDetectorConfig {
    /// Cassandra's: a 1 s gossip interval.
    fn default() -> Self {
        FailureDetectorConfig::for_gossip_interval(CASSANDRA_GOSSIP_INTERVAL)
    }
}

/// One endpoint's heartbeat history: the last arrival and the recent inter-arrival intervals.
#[derive(Debug, Clone, Default)]
pub struct ArrivalWindow {
    /// Intervals in nanoseconds, oldest first.
    intervals: VecDeque<u64>,
    /// Their sum.
    sum: u128,
    last: Option<Instant>,
}

impl ArrivalWindow {
    /// Record an arrival at `now` under `config`'s rules (see the module docs). An arrival
    /// earlier than the last one is ignored (the caller's clock is monotonic, so it is a
    /// caller's mix-up, and learning a negative interval would be wrong).
    pub fn add(&mut self, now: Instant, config: &FailureDetectorConfig) {
        match self.last {
            Some(last) if now < last => return,
            Some(last) => {
                let gap = now - last;
                if gap <= config.max_interval {
                    self.push(gap, config.sample_size);
                }
            }
            None => self.push(config.initial_interval, config.sample_size),
        }
        self.last = Some(now);
    }

    fn push(&mut self, interval: Duration, capacity: usize) {
        // At least 1 ns, so that the mean is never zero.
        let nanos = u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX).max(1);
        while self.intervals.len() >= capacity.max(1) {
            if let Some(old) = self.intervals.pop_front() {
                self.sum -= u128::from(old);
            }
        }
        self.intervals.push_back(nanos);
        self.sum += u128::from(nanos);
    }

    /// The mean interval, once there is one.
    pub fn mean(&self) -> Option<Duration> {
        let n = self.intervals.len() as u128;
        (n > 0).then(|| Duration::from_nanos(u64::try_from(self.sum / n).unwrap_or(u64::MAX)))
    }

    /// The intervals recorded, oldest first.
    pub fn intervals(&self) -> impl Iterator<Item = Duration> + '_ {
        self.intervals.iter().map(|n| Duration::from_nanos(*n))
    }

    /// When the last arrival was.
    pub fn last_arrival(&self) -> Option<Instant> {
        self.last
    }

    /// Phi at `now`, on the threshold's scale (`PHI_FACTOR × t / mean`); `None` before any arrival.
    pub fn phi(&self, now: Instant) -> Option<f64> {
        let last = self.last?;
        let n = self.intervals.len() as f64;
        if n == 0.0 {
            return None;
        }
        let mean_nanos = self.sum as f64 / n;
        let t = now.saturating_duration_since(last).as_nanos() as f64;
        Some(PHI_FACTOR * t / mean_nanos)
    }
}

/// A conviction: the endpoint and its phi at the time.
#[derive(Debug, Clone, PartialEq)]
pub struct Conviction<E> {
    /// The endpoint now considered down.
    pub endpoint: E,
    /// Its phi (on the threshold's scale).
    pub phi: f64,
}

#[derive(Debug, Clone, Default)]
struct Tracked {
    window: ArrivalWindow,
    convicted: bool,
}

/// The phi-accrual failure detector for every endpoint a node hears from (keyed by `E`, the
/// endpoint's address by default). Not synchronised: the node keeps it behind its gossip lock.
#[derive(Debug, Clone)]
pub struct FailureDetector<E = SocketAddr> {
    config: FailureDetectorConfig,
    endpoints: BTreeMap<E, Tracked>,
    last_interpret: Option<Instant>,
    last_pause: Option<Instant>,
}

impl<E: Ord + Clone> FailureDetector<E> {
    /// A detector with these settings that knows no endpoint yet.
    pub fn new(config: FailureDetectorConfig) -> FailureDetector<E> {
        FailureDetector { config, endpoints: BTreeMap::new(), last_interpret: None, last_pause: None }
    }

    /// The settings.
    pub fn config(&self) -> &FailureDetectorConfig {
        &self.config
    }

    /// A heartbeat of `endpoint` arrived at `now`. True when the endpoint had been convicted:
    /// it is up again (the node raises its "up" event).
    pub fn report(&mut self, endpoint: E, now: Instant) -> bool {
        let tracked = self.endpoints.entry(endpoint).or_default();
        tracked.window.add(now, &self.config);
        std::mem::replace(&mut tracked.convicted, false)
    }

    /// The endpoint's phi at `now` (on the threshold's scale), if it was ever reported.
    pub fn phi(&self, endpoint: &E, now: Instant) -> Option<f64> {
        self.endpoints.get(endpoint).and_then(|t| t.window.phi(now))
    }

    /// Whether the endpoint is convicted (down) and not heard from since.
    pub fn is_convicted(&self, endpoint: &E) -> bool {
        self.endpoints.get(endpoint).is_some_and(|t| t.convicted)
    }

    /// The endpoint's window, if it was ever reported.
    pub fn window(&self, endpoint: &E) -> Option<&ArrivalWindow> {
        self.endpoints.get(endpoint).map(|t| &t.window)
    }

    /// Forget the endpoint (it left the ring, or it restarted while down: Cassandra's Gossiper
    /// removes a dead endpoint's window when a newer generation of it shows up).
    pub fn remove(&mut self, endpoint: &E) {
        self.endpoints.remove(endpoint);
    }

    /// The round's verdicts at `now`: the endpoints convicted in this call (each is reported once,
    /// until [`report`](Self::report) hears from it again). Empty while a local pause suspends
    /// convictions (see the module docs).
    pub fn interpret(&mut self, now: Instant) -> Vec<Conviction<E>> {
        let since_last = self.last_interpret.map(|last| now.saturating_duration_since(last));
        self.last_interpret = Some(now);
        if let Some(gap) = since_last.filter(|gap| *gap > self.config.max_local_pause) {
            crate::log!(
                "failure detector: not marking nodes down after a local pause of {gap:?} (over {:?})",
                self.config.max_local_pause
            );
            self.last_pause = Some(now);
            return Vec::new();
        }
        if self.last_pause.is_some_and(|p| now.saturating_duration_since(p) < self.config.max_local_pause) {
            return Vec::new();
        }
        let threshold = self.config.phi_convict_threshold;
        let mut convicted = Vec::new();
        for (endpoint, tracked) in &mut self.endpoints {
            if tracked.convicted {
                continue;
            }
            if let Some(phi) = tracked.window.phi(now).filter(|phi| *phi > threshold) {
                tracked.convicted = true;
                convicted.push(Conviction { endpoint: endpoint.clone(), phi });
            }
        }
        convicted
    }
}

impl<E: Ord + Clone> Default for FailureDetector<E> {
    fn default() -> Self {
        FailureDetector::new(FailureDetectorConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// A node heartbeating every `interval` for `beats` beats, then silent; the detector
    /// interprets every gossip interval. The silence after the last heartbeat at which it is
    /// convicted.
    fn conviction_after(interval: Duration, beats: u32) -> Duration {
        let config = FailureDetectorConfig::for_gossip_interval(interval);
        let mut fd = FailureDetector::<u8>::new(config);
        let t0 = Instant::now();
        for i in 0..beats {
            let now = t0 + interval * i;
            fd.report(1, now);
            assert!(fd.interpret(now).is_empty(), "a live node is not convicted (beat {i})");
        }
        let last = t0 + interval * (beats - 1);
        for round in 1..1000 {
            let now = last + interval * round;
            let convicted = fd.interpret(now);
            if !convicted.is_empty() {
                assert_eq!(convicted[0].endpoint, 1);
                assert!(convicted[0].phi > DEFAULT_PHI_CONVICT_THRESHOLD);
                assert!(fd.is_convicted(&1));
                return now - last;
            }
        }
        panic!("never convicted");
    }

    #[test]
    fn a_node_gossiping_every_250_ms_is_convicted_after_4_75_s_of_silence() {
        // 40 s of heartbeats: the window holds the 500 ms seed and 160 intervals of 250 ms, mean
        // 251.6 ms; 18.42 × that is 4.63 s, and the next round after it is at 4.75 s.
        assert_eq!(conviction_after(250 * MS, 161), 4750 * MS);
        // After only 2.5 s of heartbeats the seed weighs more (mean 272.7 ms, 5.02 s).
        assert_eq!(conviction_after(250 * MS, 11), 5250 * MS);
        // At 200 ms: 3.8 s; Cassandra's own 1 s interval: 19 s.
        assert_eq!(conviction_after(200 * MS, 201), 3800 * MS);
        assert_eq!(conviction_after(CASSANDRA_GOSSIP_INTERVAL, 41), 19 * CASSANDRA_GOSSIP_INTERVAL);
    }

    #[test]
    fn defaults_derive_from_the_gossip_interval_as_cassandras() {
        let c = FailureDetectorConfig::for_gossip_interval(250 * MS);
        assert_eq!((c.initial_interval, c.max_interval), (500 * MS, 500 * MS));
        assert_eq!((c.max_local_pause, c.sample_size, c.phi_convict_threshold), (5000 * MS, 1000, 8.0));
        assert_eq!(FailureDetectorConfig::default().initial_interval, 2000 * MS);
        // 8 × ln 10 mean intervals.
        let s = c.silence_before_conviction(250 * MS);
        assert!(s > 4605 * MS && s < 4606 * MS, "{s:?}");
    }

    #[test]
    fn phi_is_time_since_last_arrival_over_the_mean_times_phi_factor() {
        let config = FailureDetectorConfig::for_gossip_interval(100 * MS);
        let mut w = ArrivalWindow::default();
        let t0 = Instant::now();
        assert_eq!(w.phi(t0), None);
        w.add(t0, &config);
        // Only the seed: the mean is the initial interval.
        assert_eq!(w.mean(), Some(200 * MS));
        assert!((w.phi(t0 + 200 * MS).unwrap() - PHI_FACTOR).abs() < 1e-9);
        w.add(t0 + 100 * MS, &config);
        assert_eq!(w.mean(), Some(150 * MS));
        let phi = w.phi(t0 + 100 * MS + 300 * MS).unwrap();
        assert!((phi - PHI_FACTOR * 2.0).abs() < 1e-9, "{phi}");
        assert_eq!(w.phi(t0), Some(0.0), "before the last arrival phi is 0");
    }

    #[test]
    fn intervals_over_the_max_are_ignored_and_the_window_is_bounded() {
        let mut config = FailureDetectorConfig::for_gossip_interval(100 * MS);
        config.sample_size = 5;
        let mut w = ArrivalWindow::default();
        let t0 = Instant::now();
        w.add(t0, &config);
        w.add(t0 + 150 * MS, &config);
        // 201 ms is over the 200 ms max interval: not learned, but the arrival counts.
        w.add(t0 + 351 * MS, &config);
        w.add(t0 + 551 * MS, &config);
        assert_eq!(w.intervals().collect::<Vec<_>>(), vec![200 * MS, 150 * MS, 200 * MS]);
        assert_eq!(w.last_arrival(), Some(t0 + 551 * MS));
        // Arrivals out of order are ignored.
        w.add(t0 + 500 * MS, &config);
        assert_eq!(w.last_arrival(), Some(t0 + 551 * MS));
        for i in 1..=10 {
            w.add(t0 + 551 * MS + 10 * MS * i, &config);
        }
        assert_eq!(w.intervals().collect::<Vec<_>>(), vec![10 * MS; 5]);
        assert_eq!(w.mean(), Some(10 * MS));
    }

    #[test]
    fn convictions_are_transitions_and_a_report_brings_the_endpoint_back() {
        let config = FailureDetectorConfig::for_gossip_interval(100 * MS);
        let mut fd = FailureDetector::<&str>::new(config);
        let t0 = Instant::now();
        for i in 0..20 {
            fd.report("a", t0 + 100 * MS * i);
            fd.report("b", t0 + 100 * MS * i);
            fd.interpret(t0 + 100 * MS * i);
        }
        // "b" keeps beating, "a" goes silent.
        let mut convicted_at = None;
        for i in 20..80 {
            let now = t0 + 100 * MS * i;
            fd.report("b", now);
            for c in fd.interpret(now) {
                assert_eq!(c.endpoint, "a");
                assert!(convicted_at.is_none(), "convicted once");
                convicted_at = Some(i);
            }
        }
        assert!(convicted_at.is_some());
        assert!(fd.is_convicted(&"a") && !fd.is_convicted(&"b"));
        // Heard from again: up, and the 6 s gap is not learned.
        assert!(fd.report("a", t0 + 100 * MS * 80));
        assert!(!fd.report("a", t0 + 100 * MS * 81));
        assert!(!fd.is_convicted(&"a"));
        assert!(fd.window(&"a").unwrap().intervals().all(|i| i <= 200 * MS));
        fd.remove(&"a");
        assert_eq!(fd.phi(&"a", t0), None);
        assert!(fd.interpret(t0 + 100 * MS * 82).is_empty());
    }

    #[test]
    fn a_local_pause_suspends_convictions() {
        let config = FailureDetectorConfig::for_gossip_interval(100 * MS);
        let mut fd = FailureDetector::<u8>::new(config);
        let t0 = Instant::now();
        for i in 0..20 {
            fd.report(1, t0 + 100 * MS * i);
            fd.interpret(t0 + 100 * MS * i);
        }
        // We were suspended for 6 s: phi of the peer is huge, but the silence was ours.
        let back = t0 + 1900 * MS + 6000 * MS;
        assert!(fd.phi(&1, back).unwrap() > 8.0);
        assert!(fd.interpret(back).is_empty());
        // And for the next 5 s, even rounds on time do not convict.
        assert!(fd.interpret(back + 100 * MS).is_empty());
        assert!(fd.interpret(back + 4900 * MS).is_empty());
        // Then the peer, still silent, is convicted.
        let c = fd.interpret(back + 5000 * MS);
        assert_eq!(c.len(), 1);
    }
}
