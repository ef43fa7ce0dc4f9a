//! The run loop's batching and save spacing.

use super::*;

fn channel() -> (
    tokio::sync::mpsc::UnboundedSender<u32>,
    impl futures::Stream<Item = u32> + Unpin,
) {
    let (send, receive) = tokio::sync::mpsc::unbounded_channel();
    let stream = futures::stream::unfold(receive, |mut receive| async move {
        receive.recv().await.map(|n| (n, receive))
    });
    (send, Box::pin(stream).fuse())
}

/// The run loop's two steps: the first message, then its batch.
async fn next_batch<S, T>(feed: &mut S) -> Option<Vec<T>>
where
    S: futures::Stream<Item = T> + Unpin,
{
    let first = feed.next().await?;
    Some(gather(first, feed).await)
}

#[test]
fn saves_take_a_quarter_of_the_time_within_a_bound() {
    let took = Duration::from_millis(20);
    let gap = save_gap(took);
    assert_eq!(gap, Duration::from_millis(60));
    let share = took.as_secs_f64() / (took + gap).as_secs_f64();
    assert!((share - 0.25).abs() < 1e-9, "saving {share} of the time");
    assert_eq!(save_gap(Duration::from_secs(1)), MAX_SAVE_GAP);
    assert_eq!(save_gap(Duration::ZERO), Duration::ZERO);
}

#[tokio::test]
async fn a_batch_is_what_is_waiting_and_nothing_later() {
    let (send, mut feed) = channel();
    for n in 0..3 {
        send.send(n).unwrap();
    }
    let late = send.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        late.send(3).unwrap();
    });
    assert_eq!(next_batch(&mut feed).await, Some(vec![0, 1, 2]));
    assert_eq!(next_batch(&mut feed).await, Some(vec![3]));
}

#[tokio::test]
async fn a_batch_stops_at_its_limit_and_the_end_shows_next() {
    // A page the feed holds already (a channel would stop a batch at
    // tokio's cooperative budget instead).
    let mut feed = futures::stream::iter(0..(BATCH as u32 + 5)).fuse();
    let first = next_batch(&mut feed).await.unwrap();
    assert_eq!(first.len(), BATCH);
    assert_eq!(next_batch(&mut feed).await.unwrap().len(), 5);
    assert_eq!(next_batch(&mut feed).await, None);
}
