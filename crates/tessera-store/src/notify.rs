//! Change notification: subscriptions, and the in-process hub the memory and redb backends use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use thiserror::Error;
use tokio::sync::broadcast;

/// Messages a subscriber may fall behind by before it is told it lagged.
pub(crate) const CAPACITY: usize = 1024;

/// Why a subscription yielded no message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SubscriptionError {
    /// The subscriber fell behind and `0` messages were dropped; later ones still arrive. A cache
    /// listening for invalidations should treat this as "everything changed".
    #[error("subscriber lagged: {0} messages dropped")]
    Lagged(u64),
    /// The channel is gone (the store was dropped, or the Redis connection was lost): subscribe again
    /// and assume messages were missed meanwhile.
    #[error("subscription closed")]
    Closed,
}

/// A stream of messages published on one channel.
#[derive(Debug)]
pub struct Subscription {
    rx: broadcast::Receiver<Arc<[u8]>>,
}

impl Subscription {
    pub(crate) fn new(rx: broadcast::Receiver<Arc<[u8]>>) -> Self {
        Self { rx }
    }

    /// The next message, waiting for one.
    pub async fn recv(&mut self) -> Result<Vec<u8>, SubscriptionError> {
        match self.rx.recv().await {
            Ok(message) => Ok(message.to_vec()),
            Err(broadcast::error::RecvError::Lagged(n)) => Err(SubscriptionError::Lagged(n)),
            Err(broadcast::error::RecvError::Closed) => Err(SubscriptionError::Closed),
        }
    }

    /// The next message if one is already waiting (`Ok(None)` if none is).
    pub fn try_recv(&mut self) -> Result<Option<Vec<u8>>, SubscriptionError> {
        match self.rx.try_recv() {
            Ok(message) => Ok(Some(message.to_vec())),
            Err(broadcast::error::TryRecvError::Empty) => Ok(None),
            Err(broadcast::error::TryRecvError::Lagged(n)) => Err(SubscriptionError::Lagged(n)),
            Err(broadcast::error::TryRecvError::Closed) => Err(SubscriptionError::Closed),
        }
    }
}

/// In-process publish/subscribe: one broadcast channel per channel name that has subscribers.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    channels: Mutex<HashMap<String, broadcast::Sender<Arc<[u8]>>>>,
}

impl Hub {
    pub(crate) fn publish(&self, channel: &str, message: &[u8]) {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = channels.get(channel) {
            // An error only means every subscriber has gone: forget the channel.
            if sender.send(Arc::from(message)).is_err() {
                channels.remove(channel);
            }
        }
    }

    pub(crate) fn subscribe(&self, channel: &str) -> Subscription {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        // Channels whose subscribers all left would otherwise accumulate forever.
        channels.retain(|_, sender| sender.receiver_count() > 0);
        let sender = channels.entry(channel.to_owned()).or_insert_with(|| broadcast::channel(CAPACITY).0);
        Subscription::new(sender.subscribe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_delivers_to_current_subscribers_only() {
        let hub = Hub::default();
        hub.publish("c", b"before anyone listened");
        let mut first = hub.subscribe("c");
        let mut other = hub.subscribe("d");
        hub.publish("c", b"one");
        let mut second = hub.subscribe("c");
        hub.publish("c", b"two");
        assert_eq!(first.try_recv(), Ok(Some(b"one".to_vec())));
        assert_eq!(first.try_recv(), Ok(Some(b"two".to_vec())));
        assert_eq!(first.try_recv(), Ok(None));
        assert_eq!(second.try_recv(), Ok(Some(b"two".to_vec())));
        assert_eq!(other.try_recv(), Ok(None));
    }

    #[test]
    fn a_slow_subscriber_learns_that_it_lagged() {
        let hub = Hub::default();
        let mut slow = hub.subscribe("c");
        for i in 0..CAPACITY + 5 {
            hub.publish("c", &i.to_be_bytes());
        }
        assert_eq!(slow.try_recv(), Err(SubscriptionError::Lagged(5)));
        assert_eq!(slow.try_recv(), Ok(Some(5usize.to_be_bytes().to_vec())));
    }

    #[test]
    fn channels_without_subscribers_are_forgotten() {
        let hub = Hub::default();
        drop(hub.subscribe("gone"));
        let _kept = hub.subscribe("kept");
        let names: Vec<String> = hub.channels.lock().unwrap().keys().cloned().collect();
        assert_eq!(names, ["kept"]);
    }
}
