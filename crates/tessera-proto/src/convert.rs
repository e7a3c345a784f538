//! Conversions between `std::time::SystemTime` and `google.protobuf.Timestamp`, the two time
//! types that meet at the gRPC boundary.

use std::time::SystemTime;

use prost_types::Timestamp;

/// The protobuf timestamp of `time` (nanosecond precision; times before 1970 are negative).
pub fn timestamp(time: SystemTime) -> Timestamp {
    Timestamp::from(time)
}

/// The time of a protobuf timestamp, or `None` when it is outside what `SystemTime` can hold.
/// Out-of-range `nanos` are normalized into `seconds` first.
pub fn system_time(timestamp: &Timestamp) -> Option<SystemTime> {
    SystemTime::try_from(*timestamp).ok()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn round_trips_with_nanoseconds() {
        for time in [
            UNIX_EPOCH,
            UNIX_EPOCH + Duration::new(1_767_225_600, 123_456_789),
            UNIX_EPOCH - Duration::new(86_400, 500_000_000),
        ] {
            assert_eq!(system_time(&timestamp(time)), Some(time));
        }
    }

    #[test]
    fn maps_the_epoch_to_zero() {
        assert_eq!(timestamp(UNIX_EPOCH + Duration::new(5, 7)), Timestamp { seconds: 5, nanos: 7 });
        assert_eq!(timestamp(UNIX_EPOCH - Duration::from_millis(1)), Timestamp { seconds: -1, nanos: 999_000_000 });
    }

    #[test]
    fn normalizes_nanos_and_rejects_what_does_not_fit() {
        assert_eq!(
            system_time(&Timestamp { seconds: 1, nanos: 1_500_000_000 }),
            Some(UNIX_EPOCH + Duration::from_millis(2_500))
        );
        assert_eq!(system_time(&Timestamp { seconds: i64::MIN, nanos: 0 }), None);
    }
}
