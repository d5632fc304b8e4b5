//! Tests of `load.rs`.

use std::time::{Duration, Instant};

use super::{Schedule, percentile_ms, request_interval};

#[test]
fn percentiles_use_the_nearest_rank() {
    let latencies: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
    assert_eq!(percentile_ms(&latencies, 0.5), 50.0);
    assert_eq!(percentile_ms(&latencies, 0.99), 99.0);
    assert_eq!(percentile_ms(&latencies, 1.0), 100.0);
    assert_eq!(percentile_ms(&[7000], 0.99), 7.0);
    assert_eq!(percentile_ms(&[], 0.5), 0.0);
}

#[test]
fn a_paced_schedule_spaces_departures_by_the_request_interval_until_the_deadline() {
    let pace = request_interval(1000.0, 50).unwrap();
    assert_eq!(pace, Duration::from_millis(50));
    let started = Instant::now();
    let schedule = Schedule {
        started,
        deadline: started + Duration::from_millis(500),
        limit: 100,
        pace: Some(pace),
    };
    assert_eq!(schedule.departure(0, started), Some(started));
    assert_eq!(
        schedule.departure(3, started),
        Some(started + Duration::from_millis(150))
    );
    // Ten departures fit before the deadline (0 ms to 450 ms); the eleventh would be on it.
    assert!(schedule.departure(9, started).is_some());
    assert_eq!(schedule.departure(10, started), None);
    let limited = Schedule {
        limit: 4,
        ..schedule
    };
    assert_eq!(limited.departure(4, started), None);
    // Past the deadline nothing leaves, even a number scheduled before it.
    assert_eq!(
        schedule.departure(1, started + Duration::from_secs(1)),
        None
    );
}

#[test]
fn an_unpaced_schedule_sends_at_once_until_the_count_or_the_deadline() {
    let started = Instant::now();
    let schedule = Schedule {
        started,
        deadline: started + Duration::from_secs(1),
        limit: 5,
        pace: None,
    };
    let later = started + Duration::from_millis(700);
    assert_eq!(schedule.departure(4, later), Some(later));
    assert_eq!(schedule.departure(5, later), None);
    assert_eq!(
        schedule.departure(0, started + Duration::from_secs(1)),
        None
    );
}

#[test]
fn rates_that_give_no_usable_interval_are_refused() {
    for rate in [0.0, -5.0, f64::NAN, f64::INFINITY, 1e30] {
        let error = request_interval(rate, 512).unwrap_err();
        assert!(format!("{error:#}").contains("rate"), "{rate}: {error:#}");
    }
    assert_eq!(
        request_interval(2048.0, 512).unwrap(),
        Duration::from_millis(250)
    );
}
