//! The coordinator's senders: a fixed set of threads that carry out requests to other nodes
//! (each blocking on its round trip through the pooled internode connections), fed through a
//! bounded queue. A coordinator never starts a thread per request, and when the replicas fall
//! behind, the queue fills and the clients' requests wait — backpressure, as Cassandra's
//! bounded outbound queues give.

use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

/// A job for a sender.
type Job = Box<dyn FnOnce() + Send>;

/// Sender threads.
pub(crate) struct Senders {
    queue: SyncSender<Job>,
}

/// Requests to other nodes carried at once.
const THREADS: usize = 32;
/// Requests waiting for a sender before the next one blocks.
const QUEUE: usize = 1024;

impl Senders {
    /// Start the threads.
    pub(crate) fn new() -> Senders {
        let (queue, jobs) = sync_channel::<Job>(QUEUE);
        let jobs = Arc::new(Mutex::new(jobs));
        for _ in 0..THREADS {
            let jobs = Arc::clone(&jobs);
            std::thread::spawn(move || {
                loop {
                    // The lock is held only to take a job, not to run it.
                    let job = match jobs.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        // Every sender of the queue is gone: the node stopped.
                        Err(_) => return,
                    }
                }
            });
        }
        Senders { queue }
    }

    /// Run `job` on a sender (waiting for room in the queue).
    pub(crate) fn run(&self, job: impl FnOnce() + Send + 'static) {
        if let Err(e) = self.queue.send(Box::new(job)) {
            // The senders are gone (only when the node is stopping): run it here.
            (e.0)();
        }
    }
}
